"""One screen per answer, as a phone shows it: the answer, then one entry per source document.

Why a module of its own: what used to be rendered (every cited passage as a source with the
article's lead in bold, the answer sentence printed again in the passage, the same fact stated three
times) filled 4-5 phone screens. Here an answer is composed as

- **the answer lines**: each answer sentence once, its key span in bold (``Citation.bold``, else
  ``Answer.highlights``: the date of a when-question, the number of a how-many), followed by the
  numbers of the *documents* it rests on; sentences that state the same fact are shown once with all
  their citations ("… forty minutes. [1][2][3]");
- an italic **about** line when a follow-up was rewritten, and a **language note** when the quote is
  in another language than the question ("Quoted from an English source.", in the user's language);
- **one entry per document**: a short title (the real title or the lead, at most ~60 characters cut at
  a word boundary, not bold), date · source (linked) · page, and its cited passages in one
  ``<blockquote expandable>`` (collapsed on the phone until tapped). Inside it the answer sentence is
  marked by its first words, underlined, instead of being printed a second time; sentences already
  shown (the overlap between neighbouring passages, a sentence two agencies share) are left out, and a
  passage with nothing new is dropped; the context kept around the marked sentence is bounded.

A non-answer is short: one sentence, at most three nearest documents as one line each (title · date),
and no passage text (a button shows them). Everything from documents or users is escaped here.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Sequence

from retrieval import Answer, Citation, script, split_sentences, terms
from retrieval.ingest.text import shorten
from retrieval.text.lexical import STOPWORDS

from bot.i18n import t

SHORT_TITLE = 60  # characters of a source's title on the phone
CONTEXT_CHARS = 320  # new passage text kept around the marked answer sentence, per document
MARK_WORDS = 5  # words of an answer sentence that mark it inside its passage
NEAREST = 3  # documents listed under a non-answer
SAME_FACT = 0.5  # two answer sentences sharing this share of their terms state the same fact

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_CAPITALISED = re.compile(r"\b[A-ZА-ЯЁ][\w'’-]+")
_BRACKETED = re.compile(r"^(?P<head>.*?)\s*\((?P<about>[^()]+)\)\s*\??\s*$")


def esc(text: object) -> str:
    """Text made safe for Telegram HTML: control characters dropped, ``<``, ``>`` and ``&`` escaped."""
    return html.escape(_CONTROL.sub("", str(text)), quote=False)


def _href(url: str) -> str | None:
    """Only plain http(s) links are rendered as links; anything else is shown as text or dropped."""
    url = (url or "").strip()
    if re.match(r"^https?://[^\s<>\"']+$", url):
        return html.escape(url, quote=True)
    return None


def _title_text(title: str, passage: str = "") -> str:
    text = (title or "").strip()
    if not text and passage.strip():
        first = split_sentences(passage)
        text = passage[first[0][0]:first[0][1]] if first else passage
    return shorten(text, SHORT_TITLE) if text.strip() else ""


def short_title(title: str, passage: str = "", doc_id: int = 0) -> str:
    """The title as shown (escaped): the document's title, else its passage's first sentence, cut to
    ~60 characters at a word boundary; ``#id`` when there is neither."""
    text = _title_text(title, passage)
    return esc(text) if text else f"#{int(doc_id)}"


def source_line(date: str | None, source: str, url: str, page: int | None = None) -> str:
    """date · source (linked when the document has an http(s) URL) · page."""
    parts: list[str] = []
    if date:
        parts.append(esc(date))
    href = _href(url or "")
    label = esc(source) if source else ""
    if href:
        parts.append(f'<a href="{href}">{label or "link"}</a>')
    elif label:
        parts.append(label)
    if page:
        parts.append(f"p. {int(page)}")
    return " · ".join(parts)


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def _lang(text: str) -> str:
    return {"cyr": "ru", "lat": "en"}.get(script(text), "")


# --- the answer lines ------------------------------------------------------------------------------

@dataclass
class Line:
    """One answer sentence as shown: its text, bold spans inside it, and the documents it rests on."""

    text: str
    docs: list[int]
    bold: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Entry:
    """One source document: its number on the screen and its cited passages, in citation order."""

    number: int
    doc_id: int
    citations: list[Citation]

    @property
    def first(self) -> Citation:
        return self.citations[0]


def sentences_of(answer: Answer) -> list[tuple[str, list[int]]]:
    out: list[tuple[str, list[int]]] = []
    for sentence in answer.sentences or ():
        if isinstance(sentence, tuple):
            text, n = sentence
            out.append((str(text), [int(n)]))
        else:
            out.append((str(sentence.text), [int(n) for n in getattr(sentence, "citations", ())]))
    return out


def _bold_in(text: str, citations: Sequence[Citation], answer: Answer, cursor: list[int]) -> list[tuple[int, int]]:
    """Bold spans inside ``text``: the citations' ``bold`` spans that fall in the quoted sentence, else
    ``answer.highlights`` that fall where the sentence stands in ``answer.answer``."""
    spans: list[tuple[int, int]] = []
    for c in citations:
        at = c.passage.find(text)
        if at < 0:
            continue
        spans += [(s - at, e - at) for s, e in c.bold if at <= s < e <= at + len(text)]
    if not spans and answer.highlights:
        at = answer.answer.find(text, cursor[0])
        if at >= 0:
            spans = [(s - at, e - at) for s, e in answer.highlights if at <= s < e <= at + len(text)]
            cursor[0] = at + len(text)
    merged: list[tuple[int, int]] = []
    for s, e in sorted(set(spans)):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def _names(text: str) -> set[str]:
    """Capitalised words that are not stop words: the names a sentence is about."""
    return {w.lower() for w in _CAPITALISED.findall(text)} - STOPWORDS


def same_fact(a: str, b: str) -> bool:
    """Whether two answer sentences state the same fact: identical, or sharing most of their terms."""
    if _norm(a) == _norm(b):
        return True
    na, nb = set(_NUMBER.findall(a)), set(_NUMBER.findall(b))
    if na and nb and na != nb:  # "lasted forty minutes" may repeat; "2 hours" and "3 hours" do not
        return False
    names_a, names_b = _names(a), _names(b)
    if names_a and names_b and not names_a & names_b:  # "Russia rejected it" is not "Japan rejected it"
        return False
    ta, tb = set(terms(a)), set(terms(b))
    if not ta or not tb:
        return False
    return len(ta & tb) / min(len(ta), len(tb)) >= SAME_FACT and len(ta & tb) / len(ta | tb) >= SAME_FACT * 0.8


def answer_lines(answer: Answer, doc_number: dict[int, int]) -> list[Line]:
    """The answer sentences, each once, with document numbers; same-fact sentences merged into the first."""
    by_n = {c.n: c for c in answer.citations}
    lines: list[Line] = []
    cursor = [0]
    for text, ns in sentences_of(answer):
        text = " ".join(text.split())
        if not text:
            continue
        cited = [by_n[n] for n in ns if n in by_n]
        docs = list(dict.fromkeys(doc_number[c.doc_id] for c in cited if c.doc_id in doc_number))
        bold = _bold_in(text, cited, answer, cursor)
        for line in lines:
            if same_fact(line.text, text):
                line.docs += [d for d in docs if d not in line.docs]
                break
        else:
            lines.append(Line(text, docs, bold))
    return lines


def _line_html(line: Line) -> str:
    out, pos = [], 0
    for s, e in line.bold:
        out += [esc(line.text[pos:s]), f"<b>{esc(line.text[s:e])}</b>"]
        pos = e
    out.append(esc(line.text[pos:]))
    return "".join(out)


def lines_html(lines: list[Line]) -> str:
    """Sentences in a row; the citation markers follow the last sentence of a run citing the same documents."""
    parts: list[str] = []
    for i, line in enumerate(lines):
        parts.append(_line_html(line))
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if line.docs and (nxt is None or nxt.docs != line.docs):
            parts[-1] += " " + "".join(f"[{d}]" for d in sorted(line.docs))
    return " ".join(parts)


# --- sources ---------------------------------------------------------------------------------------

def entries_for(citations: Sequence[Citation]) -> list[Entry]:
    """Citations grouped by document, documents numbered in order of first citation."""
    entries: dict[int, Entry] = {}
    for c in citations:
        if c.doc_id not in entries:
            entries[c.doc_id] = Entry(len(entries) + 1, c.doc_id, [])
        entries[c.doc_id].citations.append(c)
    return list(entries.values())


def _mark(text: str) -> str:
    """The first words of an answer sentence, underlined: where it stands, never the sentence again."""
    words = text.split()
    count = min(MARK_WORDS, max(1, len(words) - 2))
    return f"<u>{esc(' '.join(words[:count]))}…</u>"


def _passage_pieces(c: Citation, answer_norms: set[str], shown: set[str]) -> list[tuple[str, str]]:
    """("mark" | "quote" | "text" | "gap", text) per sentence of a cited passage: "mark" for a sentence
    the answer prints (shown by its first words), "quote" for one that supports a generated sentence
    without being it (shown whole, in bold), "gap" for one already on the screen."""
    pieces: list[tuple[str, str]] = []
    quoted = [(s, e) for s, e in c.quotes if e > s]
    for s, e in split_sentences(c.passage) or [(0, len(c.passage))]:
        text = c.passage[s:e]
        key = _norm(text)
        if not key:
            continue
        overlap = max((min(e, qe) - max(s, qs) for qs, qe in quoted), default=0)
        if key in answer_norms:
            pieces.append(("mark", text))
        elif key in shown:
            pieces.append(("gap", text))
        elif overlap > (e - s) / 2:
            pieces.append(("quote", text))
        else:
            pieces.append(("text", text))
    return pieces


def _window(pieces: list[tuple[str, str]], budget: int) -> list[bool]:
    """Which pieces to keep: every mark, then new text nearest to the marks while the budget lasts."""
    keep = [kind in ("mark", "quote") for kind, _ in pieces]
    marks = [i for i, k in enumerate(keep) if k] or [-1]
    order = sorted((i for i, (kind, _) in enumerate(pieces) if kind == "text"),
                   key=lambda i: (min(abs(i - m) for m in marks), i < marks[0]))
    used = 0
    for i in order:
        size = len(pieces[i][1])
        if used and used + size > budget:
            continue
        if not used and size > budget and any(keep):
            continue
        keep[i] = True
        used += size
    return keep


def entry_quote(entry: Entry, answer_norms: set[str], shown: set[str], budget: int = CONTEXT_CHARS) -> str:
    """The document's cited passages as one expandable quote; "" when they show nothing new."""
    blocks: list[str] = []
    marked: set[str] = set()
    for c in entry.citations:
        pieces = _passage_pieces(c, answer_norms, shown)
        keep = _window(pieces, budget)
        out: list[str] = []
        gap = False
        new = False
        for (kind, text), kept in zip(pieces, keep):
            if not kept or kind == "gap" or (kind == "mark" and _norm(text) in marked):
                gap = True
                continue
            if gap and out:
                out.append("…")
            gap = False
            if kind == "mark":
                marked.add(_norm(text))
                out.append(_mark(text))
                new = True
            elif kind == "quote":
                shown.add(_norm(text))
                out.append(f"<b>{esc(text)}</b>")
                new = True
            else:
                shown.add(_norm(text))
                out.append(esc(text))
                new = True
        if not new:
            continue  # everything in this passage is already on the screen
        if keep and not keep[0] and out:
            out.insert(0, "…")
        if gap and out:
            out.append("…")
        blocks.append(" ".join(out))
    if not blocks:
        return ""
    return "<blockquote expandable>" + "\n".join(blocks) + "</blockquote>"


def entry_html(entry: Entry, answer_norms: set[str], shown: set[str], quote: bool = True) -> str:
    """``[k] Short title`` / ``date · source`` / the expandable quote."""
    c = entry.first
    head = f"[{entry.number}] {short_title(c.title, c.passage, c.doc_id)}"
    title = _title_text(c.title, c.passage)
    if title and not title.endswith("…"):  # a lead shown whole as the title is not quoted again
        shown.add(_norm(title))
    line = source_line(c.date, c.source, c.url, c.page)
    body = entry_quote(entry, answer_norms, shown) if quote else ""
    return "\n".join(part for part in (head, line, body) if part)


# --- the whole screen ------------------------------------------------------------------------------

def shown_citations(answer: Answer) -> list[Citation]:
    """The passages on the screen: those the answer quotes, or the nearest documents' for a non-answer."""
    if not answer.answered:
        docs: list[int] = []
        for c in answer.citations:
            if c.doc_id not in docs:
                docs.append(c.doc_id)
        keep = set(docs[:NEAREST])
        return [c for c in answer.citations if c.doc_id in keep]
    cited = {n for _text, ns in sentences_of(answer) for n in ns}
    return [c for c in answer.citations if c.n in cited] if cited else list(answer.citations)


def about_html(searched_for: str | None, lang: str) -> str:
    """What a follow-up was searched as: "about: talks stop" for a rule rewrite with a bracketed subject,
    the rewritten question itself when it reads as a person would write it."""
    if not searched_for:
        return ""
    m = _BRACKETED.match(searched_for.strip())
    if m:
        return t("about", lang, query=esc(shorten(m.group("about"), 120)))
    return t("searched_for", lang, query=esc(shorten(searched_for, 160)))


def language_note(question: str, lines: list[Line], lang: str) -> str:
    """"Quoted from an English source." when the answer is quoted in another language than the question."""
    asked = _lang(question)
    quoted = [_lang(line.text) for line in lines]
    other = next((q for q in quoted if q and asked and q != asked), "")
    return t(f"quoted_from_{other}", lang) if other else ""


def no_answer_html(answer: Answer, lang: str, searched_for: str | None = None) -> str:
    """At most five lines: the plain no, and up to three nearest documents as "title · date"."""
    lines = [t("no_answer", lang)]
    entries = entries_for(shown_citations(answer))
    if entries:
        lines.append(t("nearest", lang))
        for e in entries[:NEAREST]:
            c = e.first
            date = f" · {esc(c.date)}" if c.date else ""
            lines.append(f"· {short_title(c.title, c.passage, c.doc_id)}{date}")
    about = about_html(searched_for, lang)
    return "\n".join(([about] if about else []) + lines)


def time_html(answer: Answer) -> tuple[str, str, list[str]]:
    """What ``retrieval.time`` adds to an answer, as HTML: the dated first line ("As of 7 Feb 2024
    (TASS):"), a timeline's dated steps (one per line) and the notes (outlets stating the fact, reports
    that differ, a period fallback or "the latest report I have"). The screen numbers its sources per
    document, so the outlet count is given without the answer's citation marks."""
    from retrieval import time_text

    time = getattr(answer, "time", None)
    if time is None:
        return "", "", []
    first = f"<i>{esc(time.headline)}:</i>" if time.headline and not time.timeline else ""
    steps = "\n".join(esc(line) for line in answer.answer.splitlines()) if time.timeline else ""
    notes: list[str] = []
    corr = time.corroboration
    if corr is not None and corr.outlets > 1:
        notes.append(esc(time_text("outlets", time.lang, n=corr.outlets, marks="").replace(" .", ".")))
    if corr is not None and corr.differ:
        notes.append(esc(time_text("differ", time.lang)))
        notes += [f"• {esc(d.text)}" for d in corr.differ]
    if time.note:
        notes.append(f"<i>{esc(time.note)}</i>")
    return first, steps, notes


def answer_screen(answer: Answer, lang: str, searched_for: str | None = None) -> str:
    """The whole reply for an answer (:func:`bot.render.render_answer` splits it if it must)."""
    if not answer.answered:
        return no_answer_html(answer, lang, searched_for)
    entries = entries_for(shown_citations(answer))
    numbers = {e.doc_id: e.number for e in entries}
    lines = answer_lines(answer, numbers)
    head: list[str] = []
    about = about_html(searched_for, lang)
    if about:
        head.append(about)
    first, steps, notes = time_html(answer)
    if first:
        head.append(first)
    head.append(steps or (lines_html(lines) if lines else esc(answer.answer)))
    note = language_note(answer.question if not searched_for else searched_for, lines, lang)
    if note:
        head.append(note)
    head += notes
    answer_norms = {_norm(line.text) for line in lines} | {_norm(s) for s, _ in sentences_of(answer)}
    shown = set(answer_norms)
    blocks = ["\n".join(head)]
    blocks += [entry_html(e, answer_norms, shown) for e in entries]
    return "\n\n".join(blocks)


def inline_screen(answer: Answer, lang: str) -> str:
    """The answer for inline mode (posted into any chat): the answer lines and one line per source."""
    if not answer.answered:
        return no_answer_html(answer, lang)
    entries = entries_for(shown_citations(answer))
    lines = answer_lines(answer, {e.doc_id: e.number for e in entries})
    out = [lines_html(lines) if lines else esc(answer.answer)]
    note = language_note(answer.question, lines, lang)
    if note:
        out.append(note)
    sources = []
    for e in entries:
        c = e.first
        tail = source_line(c.date, c.source, c.url, c.page)
        sources.append(f"[{e.number}] {short_title(c.title, c.passage, c.doc_id)}" + (f" · {tail}" if tail else ""))
    return "\n".join(out) + ("\n\n" + "\n".join(sources) if sources else "")


def plain_answer(answer: Answer) -> str:
    """The answer lines as plain text (an inline result's description)."""
    if not answer.answered:
        return ""
    entries = entries_for(shown_citations(answer))
    lines = answer_lines(answer, {e.doc_id: e.number for e in entries})
    return " ".join(line.text for line in lines) or answer.answer
