"""The recency prior: how much a passage's date counts when a question asks for the latest news.

Applied only to questions with a recency intent (``intent.py``); every other question is ranked exactly
as before. A passage's freshness is ``0.5 ** (age_days / half_life)``, its age counted back from the newest
date among the candidate passages (never later than ``today``: ``--as-of``, else the newest document
date): 1.0 for the newest report on the subject, 0.5 for one a half-life older. The anchor is the
newest candidate, not today, because what a "latest" question needs is the order of the reports on
its subject: in an archive (Reuters 1987) every report is months old and a decay from today would
flatten them all to the same tiny weight. Two places use it:

- retrieval: ``weight × freshness`` is added to each candidate's fused score (a candidate pool four
  times the cited passages is re-ranked, so a newer, slightly less similar report can enter the top k);
- selection: ``sentence_weight × freshness`` is added to the selection score of each sentence (the
  gate itself, what decides whether anything answers, never changes).

Undated passages have freshness 0: they never win a recency question on their date, and they are
never removed by it (they stay in the pool with their own relevance). Passages dated after ``today``
(future-dated feed entries) count as fresh as today, not fresher. Dates are days (ISO, no time of day),
so a feed entry without a timezone is dated on the day it states.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

from ..types import Hit


@dataclass(frozen=True)
class Prior:
    """The documented weights (settings ``recency_*``)."""

    half_life_days: float = 7.0
    weight: float = 0.3
    sentence_weight: float = 0.15


def freshness(date: str | None, today: str | None, half_life_days: float) -> float:
    """0..1: 1 for ``today`` (or later), 0.5 a half-life before, 0 for an undated passage."""
    if not date:
        return 0.0
    if not today:
        return 1.0
    try:
        age = (dt.date.fromisoformat(today) - dt.date.fromisoformat(date[:10])).days
    except ValueError:
        return 0.0
    return 0.5 ** (max(0, age) / max(half_life_days, 1e-6))


def anchor(hits: Sequence[Hit], today: str | None) -> str | None:
    """The newest date among ``hits``, capped at ``today`` (a future-dated entry does not move it)."""
    dates = [h.date[:10] for h in hits if h.date]
    if today:
        dates = [min(d, today) for d in dates]
    return max(dates, default=today)


def rerank(hits: Sequence[Hit], today: str | None, prior: Prior, k: int) -> list[Hit]:
    """The ``k`` best of ``hits`` by fused score + weight × freshness (ties: the earlier rank)."""
    ref = anchor(hits, today)
    scored = [(h.score + prior.weight * freshness(h.date, ref, prior.half_life_days), -i, h)
              for i, h in enumerate(hits)]
    scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [h for _, _, h in scored[:k]]


def sentence_bonus(hits: Sequence[Hit], today: str | None, prior: Prior) -> list[float]:
    """Per hit, what its sentences add to their selection score."""
    ref = anchor(hits, today)
    return [prior.sentence_weight * freshness(h.date, ref, prior.half_life_days) for h in hits]
