"""Answers and passages as Telegram HTML, split into messages Telegram accepts.

Everything that comes from documents or users goes through :func:`esc`, so a document containing
``<script>`` or a question containing ``<b>`` is shown as text, never interpreted. Messages are split
at paragraph boundaries when possible and never inside a tag or an entity; tags open at a cut are
closed at the end of one message and reopened at the start of the next.
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

from retrieval import Answer, Citation, Hit

from bot.i18n import t
from bot.screen import (answer_screen, esc, sentences_of, shorten,
                        short_title, shown_citations, source_line)

TELEGRAM_LIMIT = 4096
TITLE_CHARS = 200  # a longer "title" is shown cut, with an ellipsis (uploads, /sources)

_TOKEN = re.compile(r"<[^<>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);|[^<&]|[<&]")
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)")


def highlight(passage: str, quotes: Sequence[tuple[int, int]]) -> str:
    """The passage escaped, with the given spans in bold (overlapping spans merged)."""
    out: list[str] = []
    pos = 0
    for start, end in _merge(quotes, len(passage)):
        out.append(esc(passage[pos:start]))
        out.append(f"<b>{esc(passage[start:end])}</b>")
        pos = end
    out.append(esc(passage[pos:]))
    return "".join(out).strip()


def _merge(spans: Iterable[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Spans clipped to the text, sorted and merged so bold tags never overlap."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted((max(0, int(s)), min(length, int(e))) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def render_citation(c: Citation) -> str:
    """One cited source on its own (no answer above it): short title, date · source, and the whole
    passage in an expandable quote with the quoted sentences in bold."""
    head = f"[{c.n}] {short_title(c.title, c.passage, c.doc_id)}"
    line = source_line(c.date, c.source, c.url, c.page)
    return head + (f"\n{line}" if line else "") + f"\n<blockquote expandable>{highlight(c.passage, c.quotes)}</blockquote>"


def render_hit(n: int, h: Hit, cut: int | None = None) -> str:
    """One further passage; ``cut`` shortens its text (only when it cannot fit a message otherwise)."""
    head = f"[{n}] {short_title(h.title, h.text, h.doc_id)}"
    line = source_line(h.date, h.source, h.url, h.page)
    text = h.text.strip() if cut is None else shorten(h.text, cut)
    return head + (f"\n{line}" if line else "") + f"\n<blockquote expandable>{esc(text)}</blockquote>"


def answer_sentences(answer: Answer) -> list[tuple[str, list[int]]]:
    """(sentence, citation numbers) for both answer kinds: extractive ``(text, n)`` pairs and generated
    sentences (objects with ``text`` and ``citations``)."""
    return sentences_of(answer)


def cited_numbers(answer: Answer) -> set[int]:
    """Citation numbers the answer's sentences rest on (extractive pairs or generated sentences)."""
    return {n for _text, ns in sentences_of(answer) for n in ns}


def answer_html(answer: Answer, lang: str, searched_for: str | None = None) -> str:
    """The whole reply for an answer (may exceed 4096 characters; :func:`render_answer` splits it)."""
    return answer_screen(answer, lang, searched_for)


def render_answer(answer: Answer, lang: str, limit: int = TELEGRAM_LIMIT, searched_for: str | None = None) -> list[str]:
    """The reply for an answer as one or more messages, each at most ``limit`` characters."""
    return split_html(answer_html(answer, lang, searched_for), limit)


def render_hits(hits: Sequence[Hit], question: str, first: int, lang: str,
                limit: int = TELEGRAM_LIMIT, head: str = "more_head") -> tuple[str, int]:
    """A page of further passages for "More sources", numbered from ``first``, as ONE message.

    Returns (html, how many of ``hits`` it shows): as many as fit in ``limit``, at least one (a
    passage too long on its own is cut with an ellipsis). The caller pages on from the first hit
    not shown, so no passage is skipped.
    """
    def page(count: int, cut: int | None = None) -> str:
        title = t(head, lang, question=esc(shorten(question, 80)), first=first, last=first + count - 1)
        body = [render_hit(first + i, h, cut) for i, h in enumerate(hits[:count])]
        return "\n\n".join([title, *body])

    for count in range(len(hits), 0, -1):
        html = page(count)
        if units(html) <= limit:
            return html, count
    cut = max(100, len(hits[0].text))
    while cut > 100:
        cut = int(cut * 0.8)
        html = page(1, cut)
        if units(html) <= limit:
            return html, 1
    return split_html(page(1, 100), limit)[0], 1


# --- splitting -----------------------------------------------------------------------------------

def _atoms(text: str) -> list[str]:
    """Tags, entities and single characters: the units a split may fall between."""
    return _TOKEN.findall(text)


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def split_html(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split Telegram HTML into messages of at most ``limit`` UTF-16 units without breaking tags.

    Preferred cut points, best first: a blank line outside any tag, a newline, a space, anywhere.
    """
    text = text.strip()
    if units(text) <= limit:
        return [text] if text else []
    atoms = _atoms(text)
    # stacks[i] = open tags (their opening strings) before atom i
    stacks: list[tuple[str, ...]] = []
    stack: list[str] = []
    for atom in atoms:
        stacks.append(tuple(stack))
        m = _TAG.match(atom) if atom.startswith("<") and len(atom) > 1 else None
        if m:
            if m.group(1):
                name = m.group(2).lower()
                for k in range(len(stack) - 1, -1, -1):
                    if _TAG.match(stack[k]).group(2).lower() == name:
                        del stack[k:]
                        break
            elif not atom.endswith("/>"):
                stack.append(atom)
    stacks.append(tuple(stack))

    def closing(st: tuple[str, ...]) -> str:
        return "".join(f"</{_TAG.match(o).group(2)}>" for o in reversed(st))

    chunks: list[str] = []
    start = 0
    n = len(atoms)
    while start < n:
        while start < n and atoms[start].isspace() and not stacks[start]:
            start += 1
        if start >= n:
            break
        prefix = "".join(stacks[start])
        size = units(prefix)
        end = start
        while end < n and size + units(atoms[end]) + len(closing(stacks[end + 1])) <= limit:
            size += units(atoms[end])
            end += 1
        if end == n:
            cut = n
        else:
            cut = _best_cut(atoms, stacks, start, end)
        body = prefix + "".join(atoms[start:cut]) + closing(stacks[cut])
        if _visible(body):
            chunks.append(body.strip())
        start = cut
    return chunks


def _best_cut(atoms: list[str], stacks: list[tuple[str, ...]], start: int, end: int) -> int:
    """Index in (start, end] to cut before: the latest good boundary, if it is past halfway."""
    half = start + max(1, (end - start) // 2)
    tests = (
        lambda i: not stacks[i] and atoms[i - 1] == "\n" and i >= 2 and atoms[i - 2] == "\n",
        lambda i: atoms[i - 1] == "\n",
        lambda i: atoms[i - 1] == " ",
    )
    for test in tests:
        for i in range(end, half - 1, -1):
            if i > start and test(i):
                return i
    return max(end, start + 1)


def _visible(body: str) -> bool:
    return bool(re.sub(r"<[^>]*>", "", body).strip())
