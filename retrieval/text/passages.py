"""Sentence splitting and grouping sentences into overlapping passages, keeping character offsets.

Offsets index the document text, so an answer can quote a sentence verbatim and a citation can point at
exactly where it came from. The splitter is a small rule set (terminal punctuation followed by a capital,
digit or quote) with English and Russian abbreviation lists: measured on the bundled and test articles it
beats splitting on every period, and it needs no model download. Passages are capped by characters as
well as words (about 12 per word): one 10 MB "word" (a CSV field without spaces) would otherwise reach
the embedder whole and take gigabytes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..settings import default

# Lower-cased tokens that end with a period but do not end a sentence.
ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof st sr jr gen col lt sgt capt cmdr adm gov sen rep rev hon pres messrs mme
    inc ltd co corp bros plc llc dept univ assn est approx
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun
    ed eds ref cf al vs etc e.g i.e u.s u.k u.n e.u a.m p.m
    ave blvd rd mt ft
    г гг т.е т.д т.п т.н ул им проф др акад чл корр млн млрд тыс руб коп долл см стр д ст пр пос обл р-н
    г-н г-жа ген зам нач тел мин сек ок пр-т просп пер наб
    """.split()
)

# Abbreviations only when a number follows ("No. 5", "p. 12", "ст. 3"): "said no." ends a sentence.
NUMBER_ABBREVIATIONS = frozenset("no nos vol vols p pp fig figs ch sec art para п гл рис табл".split())

# The lookbehind makes a run of terminal punctuation match only from its first character: without it a
# run of 20,000 dots (or "!") took 7 s and a megabyte of them hours (each start re-scanned the run).
_BOUNDARY = re.compile(r"""(?<![.!?…])([.!?…]+)(["'»”’)\]]*)(\s+)(?=["'«“‘(\[]?[A-ZА-ЯЁ0-9])""")
_PARAGRAPH = re.compile(r"\n\s*\n")
_WORD = re.compile(r"\w+", re.UNICODE)
CHARS_PER_WORD = 12  # a passage of N words holds at most 12*N characters (English averages about 6)


@dataclass(frozen=True)
class Passage:
    """Consecutive sentences of one document; ``sentences`` are (start, end) offsets in the document."""

    ordinal: int
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...] = field(default=())


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def _is_abbreviation(text: str, dot_index: int, next_char: str = "") -> bool:
    """True when the period at ``dot_index`` closes an abbreviation or an initial, not a sentence."""
    start = dot_index
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in "(\"«“'":
        start -= 1
    token = text[start:dot_index].lower()
    if not token:
        return False
    if token in ABBREVIATIONS or token.rstrip(".") in ABBREVIATIONS:
        return True
    if token in NUMBER_ABBREVIATIONS and next_char.isdigit():
        return True
    # Initials such as "A." or "А." (a single letter) and dotted acronyms such as "U.S."
    if len(token) == 1 and token.isalpha():
        return True
    if re.fullmatch(r"(?:\w\.)+\w", token):
        return True
    return False


def split_sentences(text: str, lang: str = "") -> list[tuple[int, int]]:
    """Split ``text`` into sentences; returns stripped (start, end) spans. ``lang`` is accepted for
    future language-specific rules; English and Russian rules are always active."""
    spans: list[tuple[int, int]] = []
    for para_start, para_end in _paragraphs(text):
        cursor = para_start
        for match in _BOUNDARY.finditer(text, para_start, para_end):
            punct = match.group(1)
            next_char = text[match.end(3)] if match.end(3) < len(text) else ""
            if punct == "." and _is_abbreviation(text, match.start(1), next_char):
                continue
            end = match.end(2)
            _append_stripped(text, cursor, end, spans)
            cursor = match.end(3)
        _append_stripped(text, cursor, para_end, spans)
    return spans


def _paragraphs(text: str) -> list[tuple[int, int]]:
    spans, cursor = [], 0
    for match in _PARAGRAPH.finditer(text):
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, len(text)))
    return spans


def _append_stripped(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start and _WORD.search(text, start, end):
        spans.append((start, end))


def _chunk_long_sentence(text: str, span: tuple[int, int], max_words: int, max_chars: int) -> list[tuple[int, int]]:
    """A run-on "sentence" longer than a passage (tables, lists) is cut at word boundaries, and a piece
    still over ``max_chars`` (one huge token) is cut every ``max_chars`` characters."""
    if span[1] - span[0] <= max_chars and word_count(text[span[0]:span[1]]) <= max_words:
        return [span]
    chunks: list[tuple[int, int]] = []
    start: int | None = None
    last_end = span[0]
    count = 0
    for m in re.finditer(r"\S+", text[span[0]:span[1]]):
        w_start, w_end = span[0] + m.start(), span[0] + m.end()
        if start is not None and (count >= max_words or w_end - start > max_chars):
            chunks.append((start, last_end))
            start, count = None, 0
        if w_end - w_start > max_chars:  # one token longer than a passage
            for cut in range(w_start, w_end, max_chars):
                chunks.append((cut, min(cut + max_chars, w_end)))
            continue
        if start is None:
            start = w_start
        last_end = w_end
        count += 1
    if start is not None:
        chunks.append((start, last_end))
    return chunks


def make_passages(text: str, lang: str = "", min_words: int = default("passage_min_words"),
                  max_words: int = default("passage_max_words"),
                  max_chars: int | None = None) -> list[Passage]:
    """Group sentences into passages of about ``min_words``-``max_words`` words, overlapping by one sentence.

    The defaults are those of CITEBOT_PASSAGE_MIN_WORDS / CITEBOT_PASSAGE_MAX_WORDS (the corpus passes the
    settings). A passage closes once it reaches ``min_words`` or when the next sentence would push it past
    ``max_words`` words or ``max_chars`` characters (default ``12 * max_words``); the next passage then
    starts with the previous passage's last sentence, so a sentence at a boundary is always quoted with
    its context on at least one side.
    """
    max_chars = max_chars or CHARS_PER_WORD * max_words
    sentences: list[tuple[int, int]] = []
    for span in split_sentences(text, lang):
        sentences.extend(_chunk_long_sentence(text, span, max_words, max_chars))
    counts = [word_count(text[s:e]) for s, e in sentences]
    passages: list[Passage] = []
    i = 0
    while i < len(sentences):
        j, words = i, 0
        while j < len(sentences):
            if j > i and (words + counts[j] > max_words or sentences[j][1] - sentences[i][0] > max_chars):
                break
            words += counts[j]
            j += 1
            if words >= min_words:
                break
        group = sentences[i:j]
        start, end = group[0][0], group[-1][1]
        passages.append(Passage(len(passages), start, end, text[start:end], tuple(group)))
        if j >= len(sentences):
            break
        # One sentence of overlap, unless the passage is a single sentence (no progress otherwise).
        i = j - 1 if j - 1 > i else j
    return passages
