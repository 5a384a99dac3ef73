"""Verification of a generated answer, sentence by sentence, before anything is shown.

A sentence is kept only if (1) it cites at least one passage and every number it cites was shown,
(2) every number, date and name in it occurs in the passages it cites (retrieval.generate.facts), and
(3) its support score reaches the threshold: 0.5 x the embedding similarity to the best sentence of a
cited passage + 0.5 x the share of its content words (stemmed) that sentence contains, and (4) it agrees
with that sentence on negation and on the role context of its names (retrieval.generate.consistency).
The best sentence becomes the sentence's quote. Sentences of a passage that read as instructions to a
model (retrieval.generate.injection) are neither support nor the place a fact is found. Everything else
is dropped and counted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..text.lexical import terms
from ..text.passages import split_sentences
from ..types import Citation
from .consistency import negation_problem, role_problem
from .facts import Haystack, missing_facts
from .injection import is_instruction, withhold

SIMILARITY_WEIGHT = 0.5
_GROUP = r"\[\s*\d+(?:\s*[,;–-]\s*\d+)*\s*\]"
_GROUPS = re.compile(rf"(?:{_GROUP}\s*)+")
_CITE_AFTER_STOP = re.compile(rf"([.!?…]+)\s*((?:{_GROUP}\s*)+)")
_CITE_THEN_CAPITAL = re.compile(rf"((?:{_GROUP}))\s+(?=[\"«“(]?[A-ZА-ЯЁ])")
_REFUSAL = re.compile(
    r"^\W*(no answer|i (?:can ?not|can't|don't|do not)|sorry|the passages? (?:do(?:es)? not|don't)|"
    r"there is no (?:information|answer)|нет ответа|не могу|в (?:тексте|отрывках) нет|извините)", re.I)
_LEAD = re.compile(r"^\s*(?:answer|ответ)\s*:\s*", re.I)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+", re.M)


@dataclass
class Claim:
    """One generated sentence: its text without the [n] markers, and the numbers it cites."""

    text: str
    citations: list[int]


@dataclass
class Verdict:
    claim: Claim
    kept: bool
    reason: str = ""  # why it was dropped: "no citation", "cites unshown [5]", "missing number 30", ...
    support: float = 0.0
    quote: str = ""
    quote_n: int | None = None  # the citation whose sentence is the quote


@dataclass
class Verification:
    verdicts: list[Verdict] = field(default_factory=list)
    refused: bool = False

    @property
    def kept(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.kept]

    @property
    def dropped(self) -> int:
        return sum(not v.kept for v in self.verdicts)


def _numbers(group: str) -> list[int]:
    out: list[int] = []
    for part in re.findall(r"\d+\s*[–-]\s*\d+|\d+", group):
        if re.search(r"[–-]", part):
            a, b = (int(x) for x in re.split(r"\s*[–-]\s*", part))
            out.extend(range(a, b + 1) if 0 < b - a < 10 else [a, b])
        else:
            out.append(int(part))
    return out


def split_claims(output: str) -> list[Claim]:
    """The sentences of a model's output with their citation numbers; "[1]." and ".[1]" both end one."""
    text = _LEAD.sub("", output.replace("\r", ""))
    text = _BULLET.sub("", text).replace("**", "")
    text = _CITE_AFTER_STOP.sub(lambda m: f" {m.group(2).strip()}{m.group(1)} ", text)
    text = _CITE_THEN_CAPITAL.sub(lambda m: f"{m.group(1)}. ", text)
    text = " ".join(text.split())
    claims = []
    for s, e in split_sentences(text):
        sentence = text[s:e]
        numbers: list[int] = []
        for group in _GROUPS.findall(sentence):
            numbers.extend(n for n in _numbers(group) if n not in numbers)
        clean = _GROUPS.sub(" ", sentence)
        clean = re.sub(r"\s+([.,;:!?…])", r"\1", " ".join(clean.split())).strip()
        clean = re.sub(r"(?<!\.)\.\.(?!\.)", ".", clean)  # "end. [1]." leaves a doubled stop
        if clean.strip(".!?…;:, "):
            claims.append(Claim(clean, numbers))
        elif numbers and claims:  # "… end. [1]" split after the stop: the numbers belong to the sentence before
            claims[-1].citations.extend(n for n in numbers if n not in claims[-1].citations)
    return claims


def is_refusal(output: str) -> bool:
    return bool(_REFUSAL.match(_LEAD.sub("", output).strip()))


def _coverage(claim_terms: set[str], sentence: str) -> float:
    if not claim_terms:
        return 0.0
    return len(claim_terms & set(terms(sentence))) / len(claim_terms)


def verify(output: str, citations: Sequence[Citation], encode: Callable[[list[str]], np.ndarray],
           min_support: float) -> Verification:
    """Check every sentence of ``output`` against the ``citations`` shown to the model."""
    result = Verification(refused=is_refusal(output))
    if result.refused:
        return result
    shown = {c.n: c for c in citations}
    sentences = {c.n: [c.passage[s:e] for s, e in split_sentences(c.passage)
                       if not is_instruction(c.passage[s:e])] or [""] for c in citations}
    data = {c.n: withhold(c.passage, split_sentences(c.passage)) for c in citations}
    pending: list[tuple[Verdict, list[tuple[int, str]]]] = []
    for claim in split_claims(output):
        verdict = Verdict(claim, kept=False)
        result.verdicts.append(verdict)
        if is_refusal(claim.text):
            verdict.reason = "refusal"
            continue
        if not claim.citations:
            verdict.reason = "no citation"
            continue
        unshown = [n for n in claim.citations if n not in shown]
        if unshown:
            verdict.reason = "cites unshown " + ", ".join(f"[{n}]" for n in unshown)
            continue
        cited = [shown[n] for n in claim.citations]
        haystack = Haystack([f"{c.title}\n{c.source}\n{data[c.n]}" for c in cited])
        missing = missing_facts(claim.text, haystack)
        if missing:
            verdict.reason = "not in the cited passages: " + ", ".join(missing)
            continue
        if not terms(claim.text):
            verdict.reason = "no content words"
            continue
        pending.append((verdict, [(n, s) for n in claim.citations for s in sentences[n]]))
    if not pending:
        return result
    scored = best_support([v.claim.text for v, _ in pending], [[s for _, s in c] for _, c in pending], encode)
    for (verdict, cands), (score, best) in zip(pending, scored):
        verdict.support, (verdict.quote_n, verdict.quote) = score, cands[best]
        if verdict.support < min_support:
            verdict.reason = f"support {verdict.support:.2f} below {min_support:.2f}"
            continue
        problem = negation_problem(verdict.claim.text, verdict.quote) or role_problem(verdict.claim.text,
                                                                                     verdict.quote)
        if problem:
            verdict.reason = problem
        else:
            verdict.kept = True
    return result


def best_support(claims: list[str], candidates: list[list[str]],
                 encode: Callable[[list[str]], np.ndarray]) -> list[tuple[float, int]]:
    """For each claim, the support score against its best candidate sentence and that sentence's index
    (one encode call for everything: passage sentences are usually cached already)."""
    if not claims:
        return []
    texts = claims + [s for cands in candidates for s in cands]
    vectors = np.asarray(encode(texts), dtype=np.float32)
    claim_vectors, rest = vectors[:len(claims)], vectors[len(claims):]
    out, offset = [], 0
    for claim, cands, vector in zip(claims, candidates, claim_vectors):
        sims = rest[offset:offset + len(cands)] @ vector
        offset += len(cands)
        claim_terms = set(terms(claim))
        scores = [SIMILARITY_WEIGHT * float(sim) + (1 - SIMILARITY_WEIGHT) * _coverage(claim_terms, s)
                  for sim, s in zip(sims, cands)]
        best = int(np.argmax(scores))
        out.append((scores[best], best))
    return out
