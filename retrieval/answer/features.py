"""Candidate answer sentences and what is measured on each: similarity, shared words, novelty,
expected-type matches, and whether it leans on the previous sentence (a leading pronoun).

Kept apart from the selection itself so each rule can be tested on a handful of hand-made sentences.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from ..text.lexical import terms
from ..text.scripts import script
from ..types import Hit
from .qtype import type_spans

_FIRST_WORD = re.compile(r"[\"'«“(]*(\w+)")
PRONOUNS = frozenset(
    "he she it they his her its their this these those such there "
    "он она оно они его её ее их этот эта это эти этого этой этих там тогда".split()
)


@dataclass
class Candidate:
    """One sentence of a ranked passage; offsets are inside the passage text."""

    hit_index: int
    position: int  # index among the passage's sentences (neighbours are position +/- 1)
    start: int
    end: int
    text: str
    cross: bool = False  # the question and the passage are in different scripts (ru question, en news)
    sim: float = 0.0
    overlap: float = 0.0
    novelty: float = 0.0
    type_spans: list[tuple[int, int]] = field(default_factory=list)
    relevance: float = 0.0  # what the gate compares with the threshold
    score: float = 0.0  # what the selection ranks by
    duplicate: bool = False  # already a sentence of a better-ranked passage (kept only as a neighbour)


def candidates(hits: list[Hit], sentence_spans: list[list[tuple[int, int]]], question: str) -> list[Candidate]:
    """Every sentence of every hit, in passage order. A sentence also present in a better-ranked passage
    is marked ``duplicate`` (it is scored there) but kept so its neighbours can see it."""
    q_script = script(question)
    seen: set[tuple[int, int, int]] = set()
    out: list[Candidate] = []
    for i, (hit, spans) in enumerate(zip(hits, sentence_spans)):
        cross = bool(q_script) and script(hit.text) not in ("", q_script)
        position = 0
        for s, e in spans:
            if not (hit.start <= s and e <= hit.end):
                continue
            key = (hit.doc_id, s, e)
            rel_s, rel_e = s - hit.start, e - hit.start
            out.append(Candidate(i, position, rel_s, rel_e, hit.text[rel_s:rel_e], cross, duplicate=key in seen))
            seen.add(key)
            position += 1
    return out


@functools.lru_cache(maxsize=32768)
def term_set(text: str) -> frozenset[str]:
    """The stemmed terms of a sentence, cached: the same sentences come back question after question."""
    return frozenset(terms(text))


def overlap(question_terms: set[str], text: str) -> float:
    """Share of the question's content terms the sentence contains."""
    if not question_terms:
        return 0.0
    return len(question_terms & term_set(text)) / len(question_terms)


def novelty(question_terms: set[str], text: str) -> float:
    """Share of the sentence's terms the question does not already contain (what it would add)."""
    own = term_set(text)
    if not own:
        return 0.0
    return len(own - question_terms) / len(own)


def novel_type_spans(text: str, kind: str, question_terms: set[str], cross: bool) -> list[tuple[int, int]]:
    """Spans of the expected type that the question does not already name (same language only: across
    languages the question's words cannot be compared)."""
    if not kind:
        return []
    spans = type_spans(text, kind)
    if cross or not question_terms:
        return spans
    return [(s, e) for s, e in spans if not term_set(text[s:e]) <= question_terms]


def leans_on_previous(text: str) -> bool:
    """True when the sentence opens with a pronoun, so its subject is named in the sentence before."""
    m = _FIRST_WORD.match(text)
    return bool(m) and m.group(1).lower() in PRONOUNS


_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-ZА-ЯЁ][\w'’-]+")


def question_names(question: str) -> set[str]:
    """Stemmed terms of the capitalised words of a question other than its first word (names, places)."""
    return {t for m in _NAME.finditer(question.strip()) for t in terms(m.group())}


def missing_share(names: set[str], text: str) -> float:
    """Share of ``names`` that ``text`` does not contain (0 when the question names nothing)."""
    if not names:
        return 0.0
    return len(names - term_set(text)) / len(names)
