"""Extractive, faithful answers: one to three sentences quoted verbatim from the shown passages.

Every answer sentence is a character span of a cited passage, so it can be checked against the source;
nothing is paraphrased or generated. Sentences are scored by their own similarity to the question plus
how many of the question's content words they contain; the passage holding the best sentence becomes
citation [1]. When even the best sentence scores below the threshold (``min_score``), the answer says so
and the passages are shown as weak matches.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .lexical import terms
from .types import Answer, AnswerSentence, Citation, Hit

NO_ANSWER = "Nothing in the corpus answers this question."
MAX_SENTENCES = 3
LEXICAL_WEIGHT = 0.3
KEEP_RATIO = 0.85  # further sentences must score at least this share of the best one


@dataclass
class Candidate:
    hit_index: int
    start: int  # offsets inside the passage text
    end: int
    text: str
    score: float = 0.0


def _candidates(hits: list[Hit], sentence_spans: list[list[tuple[int, int]]]) -> list[Candidate]:
    """Sentences of the hits, each attributed to the best-ranked passage that contains it."""
    seen: set[tuple[int, int, int]] = set()
    out: list[Candidate] = []
    for i, (hit, spans) in enumerate(zip(hits, sentence_spans)):
        for s, e in spans:
            key = (hit.doc_id, s, e)
            if key in seen or not (hit.start <= s and e <= hit.end):
                continue
            seen.add(key)
            rel_s, rel_e = s - hit.start, e - hit.start
            out.append(Candidate(i, rel_s, rel_e, hit.text[rel_s:rel_e]))
    return out


def _overlap(question_terms: set[str], text: str) -> float:
    if not question_terms:
        return 0.0
    return len(question_terms & set(terms(text))) / len(question_terms)


def compose(
    question: str,
    hits: list[Hit],
    sentence_spans: list[list[tuple[int, int]]],
    query_vector: np.ndarray,
    encode_sentences: Callable[[list[str]], np.ndarray],
    min_score: float,
) -> Answer:
    """Build the answer from ranked hits; ``sentence_spans`` are each hit's sentences in document offsets."""
    if not hits:
        return Answer(question, False, NO_ANSWER, [])
    weak = Answer(question, False, NO_ANSWER, _citations(hits, list(range(len(hits))), {}))
    candidates = _candidates(hits, sentence_spans)
    if not candidates:
        return weak
    vectors = encode_sentences([c.text for c in candidates])
    similarities = vectors @ np.asarray(query_vector, dtype=np.float32).reshape(-1)
    q_terms = set(terms(question))
    for cand, sim in zip(candidates, similarities):
        cand.score = (1 - LEXICAL_WEIGHT) * float(sim) + LEXICAL_WEIGHT * _overlap(q_terms, cand.text)
    ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
    best = ranked[0]
    # The gate is the best sentence's own score: on XQuAD (bench/answer_quality.py) it separated
    # answerable from unanswerable questions far better than the best passage's cosine.
    weak.confidence = best.score
    if best.score < min_score:
        return weak
    chosen = [best]
    for cand in ranked[1:]:
        if len(chosen) >= MAX_SENTENCES:
            break
        if (cand.score >= max(min_score, KEEP_RATIO * best.score)
                and cand.text not in {c.text for c in chosen}):
            chosen.append(cand)

    # Citation numbers follow first use in the answer; passages not quoted follow as further sources.
    order: list[int] = []
    for cand in chosen:
        if cand.hit_index not in order:
            order.append(cand.hit_index)
    order += [i for i in range(len(hits)) if i not in order]
    number = {hit_index: n + 1 for n, hit_index in enumerate(order)}
    quotes: dict[int, list[tuple[int, int]]] = {}
    for cand in chosen:
        quotes.setdefault(cand.hit_index, []).append((cand.start, cand.end))
    sentences = [AnswerSentence(cand.text, [number[cand.hit_index]], 1.0, cand.text) for cand in chosen]
    text = " ".join(f"{s.text} [{s.citations[0]}]" for s in sentences)
    return Answer(question, True, text, _citations(hits, order, quotes), sentences, best.score)


def _citations(hits: list[Hit], order: list[int], quotes: dict[int, list[tuple[int, int]]]) -> list[Citation]:
    return [
        Citation(
            n=n + 1, doc_id=hits[i].doc_id, passage_id=hits[i].passage_id, title=hits[i].title,
            date=hits[i].date, source=hits[i].source, url=hits[i].url, passage=hits[i].text,
            score=hits[i].score, quotes=sorted(quotes.get(i, [])), page=hits[i].page,
        )
        for n, i in enumerate(order)
    ]
