"""Ranking metrics as trec_eval and BEIR compute them (nDCG, recall, MRR at k) and the one percentile."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from ..errors import UserError


def dcg_at_k(gains: Sequence[float], k: int) -> float:
    """Discounted cumulative gain with linear gains (trec_eval / BEIR convention)."""
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))


def ndcg_at_k(ranked: Sequence[str], qrels: dict[str, int], k: int) -> float:
    """nDCG@k of one ranking; 0 when the query has no relevant document."""
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)
    idcg = dcg_at_k(ideal, k)
    if idcg == 0:
        return 0.0
    gains = [max(qrels.get(key, 0), 0) for key in ranked[:k]]
    return dcg_at_k(gains, k) / idcg


def recall_at_k(ranked: Sequence[str], qrels: dict[str, int], k: int) -> float:
    """Share of the relevant documents found in the top k."""
    relevant = {key for key, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], qrels: dict[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the top k (0 if none)."""
    for i, key in enumerate(ranked[:k]):
        if qrels.get(key, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), without needing numpy."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def dedupe_ranking(keys: Iterable[str]) -> list[str]:
    """Passage-level ranking -> document ranking by each document's best passage (max aggregation)."""
    seen: set[str] = set()
    out: list[str] = []
    for key in keys:
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


@dataclass
class Scores:
    ndcg_at_10: float
    recall_at_5: float
    recall_at_10: float
    recall_at_100: float
    mrr_at_10: float


def score_rankings(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> Scores:
    """Mean metrics over every query that has judgements (a query with no ranking scores 0)."""
    qids = [qid for qid, rels in qrels.items() if any(g > 0 for g in rels.values())]
    if not qids:
        raise UserError("no query has a relevant document in the qrels: nothing to evaluate")
    n = len(qids)

    def mean(fn, k: int) -> float:
        return sum(fn(rankings.get(q, []), qrels[q], k) for q in qids) / n

    return Scores(
        ndcg_at_10=mean(ndcg_at_k, 10),
        recall_at_5=mean(recall_at_k, 5),
        recall_at_10=mean(recall_at_k, 10),
        recall_at_100=mean(recall_at_k, 100),
        mrr_at_10=mean(mrr_at_k, 10),
    )
