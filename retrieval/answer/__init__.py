"""Extractive, faithful answers: one to three sentences quoted verbatim from the shown passages.

Every answer sentence is a character span of a cited passage, so it can be checked against the source;
nothing is paraphrased or generated. Two scores per candidate sentence:
- relevance, the gate: its similarity to the question plus the share of the question's words it holds
  (across languages, where no word is shared, the similarity alone, shifted: see gate.py). When no
  sentence reaches the threshold (``min_score``) the answer says so and the passages are shown as weak
  matches;
- the selection score: relevance plus the rules measured to pick the sentence that states the answer
  (bench/answer_quality.py, docs/answers.md): an answer of the expected type (when -> a date, how
  many -> a number, ...), the rank of its passage, and its neighbours' relevance.
A sentence that opens with a pronoun is quoted together with the sentence before it, which names the
subject. The span of the expected type inside a chosen sentence is returned for bold display.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

import numpy as np

from ..search.results import Retrieval
from ..text.lexical import terms
from ..text.scripts import script
from ..types import Answer, AnswerSentence, Citation, Hit
from . import features, gate
from .qtype import question_type

NO_ANSWER = "Nothing in the corpus answers this question."


@dataclass(frozen=True)
class Rules:
    """Weights of the selection rules; the defaults are the measured ones (docs/answers.md)."""

    lexical_weight: float = 0.3
    type_weight: float = 0.2
    rank_weight: float = 0.0
    context_weight: float = 0.0
    novelty_weight: float = 0.2
    join_pronouns: bool = True
    bold: bool = True
    max_sentences: int = 3
    keep_ratio: float = 0.85  # further sentences must score at least this share of the best one
    cross_shift: float | None = None  # None: gate.CROSS_SHIFT (Russian question, English passage, ...)
    russian_shift: float | None = None  # None: gate.RUSSIAN_SHIFT (Russian question, Russian passage)
    latin_shift: float | None = None  # None: gate.LATIN_SHIFT (English question, English passage)
    passage_weight: float = 0.1  # gate credit for the question words in the sentence's passage and title
    gate_type_penalty: float = 0.0  # a typed question ("when ...") whose sentence holds no such span
    name_penalty: float = 0.1  # times the share of the question's names missing from the passage and title
    extend_to_type: bool = True  # best sentence lacks the expected type, a neighbour has it: quote both
    related_weight: float = 0.5  # credit for a question word that only shares its root with a sentence word
    antecedent_words: bool = True  # a pronoun-led sentence's shared words counted with its antecedent's
    anaphora_anywhere: bool = True  # ... also a sentence pointing back mid-sentence ("the block to this")
    document_names: bool = True  # the names penalty looks at every cited passage of the same document
    loose_names: bool = True  # names match across scripts (Токио / Tokyo) and with a misspelt letter
    more_forms: bool = True  # Russian question forms typed like their English twins (qtype._MORE_FORMS)
    reason_type: bool = True  # why / почему questions expect a cause (because, after, из-за, ...)
    russian_lexical_weight: float | None = 0.5  # None: lexical_weight; Russian question over Russian text
    bridge_weight: float = 0.0  # across scripts: credit for the question's names and numbers in the sentence
    bridge_passage_weight: float = 0.0  # ... and in its passage and title
    word_bridge_weight: float = 0.3  # across scripts: credit for the share of question words a sentence translates
    word_bridge_threshold: float = 0.7  # cosine of two words (one in each script) counted as a translation
    word_bridge_stems: bool = True  # a sentence word also matches through its stem ("stopping" as "stop")
    promote_translated: bool = True  # a cross-script passage below the cut translating every question word is cited


DEFAULT_RULES = Rules()
PROMOTE_DEPTH = 8  # passages looked at for ``promote_translated``: the cited ones and those just below
# Only short questions are promoted: on XQuAD (4-8 content words per question) no passage below the cut
# translated every word, the rule changed no answer, and checking cost ~10 ms per question in word vectors.
PROMOTE_MAX_WORDS = 3


def sentence_texts(passage_text: str, passage_start: int, spans: Iterable[tuple[int, int]]) -> list[str]:
    """The sentence texts `ask` embeds for a passage, so ingest can embed (and cache) them ahead."""
    return [passage_text[s - passage_start:e - passage_start] for s, e in spans]


class SentenceEncoder(Protocol):
    """What the answer needs from the embedding side: vectors for candidate sentences (cached by the
    corpus's ``CachedEncoder``; ingest embedded them ahead, so usually none reaches the model)."""

    def sentences(self, texts: list[str]) -> np.ndarray: ...

    def words(self, words: list[str]) -> np.ndarray: ...


def compose(found: Retrieval, encoder: SentenceEncoder, min_score: float, rules: Rules | None = None,
            hit_bonus: list[float] | None = None, cite: int | None = None) -> Answer:
    """Build the answer from a search's result (hits, their sentence spans and pages, the question vector);
    ``encoder`` embeds the candidate sentences. Nothing is read from the store here. ``hit_bonus`` (per
    hit) is added to the selection score of its sentences, never to the gate: the recency prior of a
    "latest" question (``retrieval/time/prior.py``); None for every other question."""
    rules = rules or DEFAULT_RULES
    if cite is not None and cite < len(found.hits):
        found = _promoted(found, cite, encoder, rules) if rules.promote_translated else _first(found, cite)
    question, hits = found.question, found.hits
    if not hits:
        return Answer(question, False, NO_ANSWER, [])
    weak = Answer(question, False, NO_ANSWER, _citations(found, list(range(len(hits))), {}, {}, {}))
    cands = features.candidates(hits, found.spans, question)
    if not cands or found.vector is None:
        return weak
    _score(cands, question, hits, found.vector, encoder, rules, min_score)
    if hit_bonus:
        for cand in cands:
            cand.score += hit_bonus[cand.hit_index]
    pool = [c for c in cands if not c.duplicate]
    best_gate = max(pool, key=lambda c: c.relevance)
    # The gate is the best sentence's own relevance: on XQuAD (bench/answer_quality.py) it separated
    # answerable from unanswerable questions far better than the best passage's cosine.
    weak.confidence = best_gate.relevance
    if best_gate.relevance < min_score:
        return weak
    ranked = sorted((c for c in pool if c.relevance >= min_score), key=lambda c: c.score, reverse=True)
    best = ranked[0]
    chosen = [best]
    for cand in ranked[1:]:
        if len(chosen) >= rules.max_sentences:
            break
        if cand.score >= rules.keep_ratio * best.score and cand.text not in {c.text for c in chosen}:
            chosen.append(cand)
    if rules.extend_to_type and best.type_spans == [] and question_type(question, reasons=rules.reason_type, more_forms=rules.more_forms):
        chosen = _extend_to_type(best, chosen, cands)
    quoted = _with_antecedents(chosen, cands) if rules.join_pronouns else chosen
    return _answer(found, quoted, best_gate.relevance, rules)


def _score(cands: list[features.Candidate], question: str, hits: list[Hit], query_vector: np.ndarray,
           encoder: SentenceEncoder, rules: Rules, min_score: float = float("-inf")) -> None:
    vectors = encoder.sentences([c.text for c in cands])
    sims = vectors @ np.asarray(query_vector, dtype=np.float32).reshape(-1)
    q_terms = set(terms(question))
    kind = question_type(question, reasons=rules.reason_type, more_forms=rules.more_forms)
    top = max(h.score for h in hits) or 1.0
    shift = gate.CROSS_SHIFT if rules.cross_shift is None else rules.cross_shift
    ru_shift = gate.RUSSIAN_SHIFT if rules.russian_shift is None else rules.russian_shift
    lat_shift = gate.LATIN_SHIFT if rules.latin_shift is None else rules.latin_shift
    q_script = script(question)
    related = rules.related_weight
    bridge = features.bridge_terms(question) if (rules.bridge_weight or rules.bridge_passage_weight) else set()
    passage_bridge = [features.bridge_share(bridge, f"{h.title}\n{h.text}") if bridge else 0.0 for h in hits]
    passage_overlap = [features.overlap(q_terms, f"{h.title}\n{h.text}", related) for h in hits]
    by_place = {(c.hit_index, c.position): c for c in cands}
    for cand, sim in zip(cands, sims):
        cand.sim = float(sim)
        if cand.cross:  # no word is shared across languages: similarity alone, on the same-language scale
            cand.relevance = cand.sim - shift
            if bridge:  # names and numbers are the words two scripts can share
                cand.relevance += (rules.bridge_weight * features.bridge_share(bridge, cand.text)
                                   + rules.bridge_passage_weight * passage_bridge[cand.hit_index])
        else:
            cand.overlap = features.overlap(q_terms, cand.text, related)
            prev = by_place.get((cand.hit_index, cand.position - 1))
            refers = features.refers_back if rules.anaphora_anywhere else features.leans_on_previous
            if rules.antecedent_words and prev is not None and refers(cand.text):
                # "He said ..." names its subject in the sentence before: score it with those words too,
                # since it is quoted with them (_with_antecedents)
                cand.overlap = max(cand.overlap, features.overlap(q_terms, f"{prev.text} {cand.text}", related))
            lw = (rules.russian_lexical_weight if q_script == "cyr" and rules.russian_lexical_weight is not None
                  else rules.lexical_weight)
            cand.relevance = ((1 - lw) * cand.sim + lw * cand.overlap
                              + rules.passage_weight * passage_overlap[cand.hit_index])
            cand.relevance -= ru_shift if q_script == "cyr" else lat_shift
            cand.novelty = features.novelty(q_terms, cand.text)
        cand.type_spans = features.novel_type_spans(cand.text, kind, q_terms, cand.cross)
        if kind and not cand.type_spans:
            cand.relevance -= rules.gate_type_penalty
    if rules.name_penalty:
        names = features.question_names(question)
        if rules.document_names:  # "the diplomat" in this passage, "Rudenko" in another of the same article
            by_doc: dict[int, list[str]] = {}
            for hit in hits:
                by_doc.setdefault(hit.doc_id, [hit.title]).append(hit.text)
            context = ["\n".join(by_doc[hit.doc_id]) for hit in hits]
        else:
            context = [hit.title + "\n" + hit.text for hit in hits]
        missing = {i: features.missing_share(names, context[i], loose=rules.loose_names) for i in range(len(hits))}
        for cand in cands:
            if not cand.cross:
                cand.relevance -= rules.name_penalty * missing[cand.hit_index]
    if rules.word_bridge_weight and any(c.cross for c in cands):
        _bridge_words(cands, question, encoder, rules, min_score)
    for cand in cands:
        neighbours = [by_place.get((cand.hit_index, cand.position + d)) for d in (-1, 1)]
        context = max((n.relevance for n in neighbours if n is not None), default=0.0)
        cand.score = (cand.relevance
                      + rules.type_weight * bool(cand.type_spans)
                      + rules.rank_weight * hits[cand.hit_index].score / top
                      + rules.context_weight * context
                      + rules.novelty_weight * cand.novelty)


def _bridge_words(cands: list[features.Candidate], question: str, encoder: SentenceEncoder, rules: Rules,
                  min_score: float) -> None:
    """Cross-script sentences gain credit for the question words they translate (features.bridged_shares):
    across scripts the similarity was the gate's only signal, and it misses the word that carries the
    question ("stopping" for "прекратились"). A sentence that could not reach ``min_score`` even with
    every word translated is left out: it can be neither the gate's best nor quoted, and its words would
    only cost embedding time."""
    cross = [c for c in cands if c.cross and c.relevance + rules.word_bridge_weight >= min_score]
    for cand, share in zip(cross, _word_shares(cross, question, encoder, rules)):
        cand.overlap = share
        cand.relevance += rules.word_bridge_weight * share


def _first(found: Retrieval, n: int, order: list[int] | None = None) -> Retrieval:
    out = Retrieval(found.question, found.vector)
    for i in (order if order is not None else range(n)):
        out.add(found.hits[i], found.spans[i], found.page_starts[i])
    return out


def _promoted(found: Retrieval, cite: int, encoder: SentenceEncoder, rules: Rules) -> Retrieval:
    """The first ``cite`` hits, the last of them replaced by the best-ranked cross-script passage below
    the cut whose title and text translate every word of the question; only when the best hit is itself
    in the other script (a Russian question over English news), so a same-language answer is never
    displaced by a translation."""
    q_script = script(found.question)
    if not q_script or script(found.hits[0].text) in ("", q_script):
        return _first(found, cite)  # the corpus answers this question in its own script: nothing to bridge
    if len(features.content_words(found.question)) > PROMOTE_MAX_WORDS:
        return _first(found, cite)  # a longer question is never translated whole: not worth embedding five passages
    below = [features.Candidate(i, 0, 0, 0, f"{h.title}\n{h.text}", cross=True)
             for i, h in enumerate(found.hits) if i >= cite and q_script and script(h.text) not in ("", q_script)]
    full = [c.hit_index for c, share in zip(below, _word_shares(below, found.question, encoder, rules)) if share >= 0.999]
    order = list(range(cite))
    if full:
        order[-1] = full[0]
    return _first(found, cite, order)


def _word_shares(cands: list[features.Candidate], question: str, encoder: SentenceEncoder,
                 rules: Rules) -> list[float]:
    """Per candidate, the share of the question's words some word of the sentence matches by the model's
    word vectors (a translation, a synonym, another form of the word)."""
    q_words = [w for w in features.content_words(question) if features.script_of(w) == script(question)]
    per_sentence = [features.content_words(c.text) for c in cands]
    if rules.word_bridge_stems:  # "прекратились" is 0.65 from "stopping" but 0.72 from "stop"
        per_sentence = [features.with_stems(words) for words in per_sentence]
    vocabulary = sorted({w for words in per_sentence for w in words})
    if not q_words or not vocabulary:
        return [0.0] * len(cands)
    vectors = encoder.words(q_words + vocabulary)
    index = {w: i for i, w in enumerate(vocabulary)}
    return features.bridged_shares(vectors[:len(q_words)], per_sentence, index, vectors[len(q_words):],
                                   rules.word_bridge_threshold)


def _extend_to_type(best: features.Candidate, chosen: list[features.Candidate],
                    cands: list[features.Candidate]) -> list[features.Candidate]:
    """The neighbour of the best sentence that holds the expected type (the number is often in the next
    sentence), quoted right after (or before) it."""
    by_place = {(c.hit_index, c.position): c for c in cands}
    for d in (1, -1):
        n = by_place.get((best.hit_index, best.position + d))
        if n is not None and n.type_spans and n not in chosen:
            rest = [c for c in chosen if c is not best]
            pair = [best, n] if d == 1 else [n, best]
            return pair + rest[:max(0, len(chosen) - 1)]
    return chosen


def _with_antecedents(chosen: list[features.Candidate], cands: list[features.Candidate]) -> list[features.Candidate]:
    """Each pronoun-led sentence preceded by the sentence before it in the same passage (once)."""
    by_place = {(c.hit_index, c.position): c for c in cands}
    out: list[features.Candidate] = []
    for cand in chosen:
        prev = by_place.get((cand.hit_index, cand.position - 1))
        if prev is not None and features.leans_on_previous(cand.text) and prev not in out:
            out.append(prev)
        if cand not in out:
            out.append(cand)
    return out


def _answer(found: Retrieval, quoted: list[features.Candidate], confidence: float, rules: Rules) -> Answer:
    question, hits = found.question, found.hits
    # Citation numbers follow first use in the answer; passages not quoted follow as further sources.
    order: list[int] = []
    for cand in quoted:
        if cand.hit_index not in order:
            order.append(cand.hit_index)
    order += [i for i in range(len(hits)) if i not in order]
    number = {hit_index: n + 1 for n, hit_index in enumerate(order)}
    quotes: dict[int, list[tuple[int, int]]] = {}
    bold: dict[int, list[tuple[int, int]]] = {}
    parts: list[str] = []
    highlights: list[tuple[int, int]] = []
    offset = 0
    for k, cand in enumerate(quoted):
        quotes.setdefault(cand.hit_index, []).append((cand.start, cand.end))
        nxt = quoted[k + 1] if k + 1 < len(quoted) else None
        joined = nxt is not None and nxt.hit_index == cand.hit_index and nxt.position == cand.position + 1
        piece = cand.text if joined else f"{cand.text} [{number[cand.hit_index]}]"
        if rules.bold and cand.type_spans:
            s, e = cand.type_spans[0]
            bold.setdefault(cand.hit_index, []).append((cand.start + s, cand.start + e))
            highlights.append((offset + s, offset + e))
        parts.append(piece)
        offset += len(piece) + 1
    # the sentence whose page a citation names: its passage's best-scoring quoted sentence (the one that
    # answers; a neighbour quoted for context may sit on the page before)
    lead: dict[int, features.Candidate] = {}
    for cand in quoted:
        if cand.hit_index not in lead or cand.score > lead[cand.hit_index].score:
            lead[cand.hit_index] = cand
    anchors = {i: cand.start for i, cand in lead.items()}
    sentences = [AnswerSentence(cand.text, [number[cand.hit_index]], 1.0, cand.text) for cand in quoted]
    answer = Answer(question, True, " ".join(parts), _citations(found, order, quotes, bold, anchors), sentences,
                    confidence)
    answer.highlights = highlights
    return answer


def _citations(found: Retrieval, order: list[int], quotes: dict[int, list[tuple[int, int]]],
               bold: dict[int, list[tuple[int, int]]], anchors: dict[int, int]) -> list[Citation]:
    hits = found.hits
    return [
        Citation(
            n=n + 1, doc_id=hits[i].doc_id, passage_id=hits[i].passage_id, title=hits[i].title,
            date=hits[i].date, source=hits[i].source, url=hits[i].url, passage=hits[i].text,
            score=hits[i].score, quotes=sorted(quotes.get(i, [])), page=_page(found, i, anchors.get(i)),
            bold=sorted(bold.get(i, [])),
        )
        for n, i in enumerate(order)
    ]


def _page(found: Retrieval, index: int, anchor: int | None) -> int | None:
    """A passage can straddle a page break: a quoted passage cites the page of the sentence at ``anchor``
    (a passage offset), one not quoted the page where it starts."""
    hit = found.hits[index]
    if anchor is not None and index < len(found.page_starts):
        return found.page(index, hit.start + anchor)
    return hit.page
