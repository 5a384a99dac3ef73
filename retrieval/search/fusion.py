"""Score fusion: two ranked candidate lists (dense and lexical) into one score per passage.

Convex fusion of min-max-normalised scores is the default (it beat reciprocal-rank fusion on SciFact
train, docs/evaluation.md); RRF stays available as ``fusion = rrf``.
"""
from __future__ import annotations

RRF_K = 60


def _minmax(values: dict[int, float]) -> dict[int, float]:
    if not values:
        return {}
    lo, hi = min(values.values()), max(values.values())
    if hi - lo < 1e-9:
        return {k: 1.0 for k in values}
    return {k: (v - lo) / (hi - lo) for k, v in values.items()}


def fuse_convex(dense: dict[int, float], lexical: dict[int, float], lexical_weight: float) -> dict[int, float]:
    """(1-w) * minmax(dense) + w * minmax(lexical); a missing score counts as the minimum (0)."""
    nd, nl = _minmax(dense), _minmax(lexical)
    wd, wl = 1 - lexical_weight, lexical_weight
    fused = {i: wd * v + wl * nl.get(i, 0.0) for i, v in nd.items()}
    for i, v in nl.items():
        if i not in fused:  # lexical only: its dense part is the minimum, 0
            fused[i] = wl * v
    return fused


def fuse_rrf(dense_ranked: list[int], lexical_ranked: list[int], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal-rank fusion: the sum of 1 / (k + rank) over both lists (ranks from 1)."""
    scores: dict[int, float] = {}
    for ranked in (dense_ranked, lexical_ranked):
        for rank, pid in enumerate(ranked):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank + 1)
    return scores
