"""Corroboration: how many independent outlets state the answer's fact, and where reports differ.

The fact is the answer's first quoted sentence. Each passage among the question's candidates is
compared with it, sentence by sentence (content words, as the lexical index stems them):
- it *states* the fact when it holds every number/date span of the fact (``answer/qtype.py`` spans)
  and ``MIN_SHARED`` of the fact's words; a fact without a number or date must be nearly the same
  sentence (word Jaccard at least ``MIN_JACCARD``): "the board rejected the bid" and "the board accepted
  a revised bid" share most words and state opposite facts;
- it *differs* when it shares ``MIN_RELATED`` of the words but gives another number or date: both are
  shown, each cited, instead of silently picking one.

Independent outlets are counted after grouping: documents that are near-duplicates of each other (a
syndicated wire copy republished by several outlets) or come from the same source count once. So three
outlets running one Reuters story plus one independent report are 2 outlets, not 4. One citation per
group is given (the best-ranked one).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from ..answer.qtype import DATE, NUMBER, type_spans
from ..text.lexical import terms
from ..types import Hit

MIN_SHARED = 0.5  # share of the fact's content words a sentence holding its figures must hold to state it
MIN_JACCARD = 0.7  # word Jaccard a sentence needs to state a fact that has no figures
MIN_RELATED = 0.4  # ... to be about the same fact (then a different number is a disagreement)


@dataclass
class Statement:
    """A sentence of a pool passage about the fact: ``hit_index`` into the pool, the sentence, whether
    it agrees (states the fact) or gives another number/date."""

    hit_index: int
    text: str
    agrees: bool


def _figures(text: str) -> set[str]:
    spans = type_spans(text, NUMBER) + type_spans(text, DATE)
    return {re.sub(r"[\s,]", "", text[s:e]).lower() for s, e in spans}


def statements(fact: str, pool: Sequence[Hit], sentences: Sequence[Sequence[str]]) -> list[Statement]:
    """Per pool passage, its best sentence about ``fact`` (if any), agreeing or differing."""
    fact_terms = set(terms(fact))
    fact_figures = _figures(fact)
    if not fact_terms:
        return []
    out: list[Statement] = []
    for i, (hit, sents) in enumerate(zip(pool, sentences)):
        best: Statement | None = None
        best_share = 0.0
        for sent in sents:
            own = set(terms(sent))
            share = len(fact_terms & own) / len(fact_terms)
            if share < MIN_RELATED or share <= best_share:
                continue
            figures = _figures(sent)
            if fact_figures:
                agrees = share >= MIN_SHARED and fact_figures <= figures
            else:
                agrees = len(fact_terms & own) / len(fact_terms | own) >= MIN_JACCARD
            differs = bool(fact_figures - figures) and bool(figures - fact_figures)  # each gives a figure the other lacks
            if agrees or differs:
                best, best_share = Statement(i, sent, agrees), share
        if best is not None:
            out.append(best)
    return out


def outlet_groups(hits: Sequence[Hit], same_text: Callable[[str, str], bool]) -> list[list[int]]:
    """Indexes of ``hits`` grouped by outlet: same document, same source or near-duplicate passages
    (``same_text``) in one group, in order of first appearance."""
    parent = list(range(len(hits)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(hits)):
        for j in range(i):
            a, b = hits[i], hits[j]
            linked = (a.doc_id == b.doc_id or (a.source.strip() and a.source.strip().casefold() == b.source.strip().casefold())
                      or same_text(a.text, b.text))
            if linked:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(hits)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())
