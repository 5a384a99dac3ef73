"""Further sources: the passages worth showing after an answer ("More sources" in the bot).

The rule is retrieval's, not an app's: a passage is relevant when its dense similarity reaches a floor
(by default half the corpus's answer threshold: on the bundled article same-topic passages score
0.20-0.30 with USE, an unrelated article about 0) or its lexical score is at least a quarter of the best
one (it shares a rare question word, not just a common one). Apps page through the result.
"""
from __future__ import annotations

from typing import Iterable, Protocol

from ..types import Hit

RELEVANCE_SHARE = 0.5  # the dense floor, as a share of the answer threshold
LEXICAL_SHARE = 0.25  # the lexical floor, as a share of the best lexical score among the hits


class Searcher(Protocol):
    """What further_passages needs: ``Corpus.search`` (or a double with the same method)."""

    def search(self, query: str, k: int = 10) -> list[Hit]: ...


def relevance_floor(min_score: float) -> float:
    """The default dense floor for a corpus whose answer threshold is ``min_score``."""
    return RELEVANCE_SHARE * min_score


def relevant(hits: list[Hit], floor: float) -> list[Hit]:
    """The hits that pass the rule, in their order."""
    best_lexical = max((h.lexical or 0.0 for h in hits), default=0.0)
    return [h for h in hits
            if (h.dense is not None and h.dense >= floor)
            or (best_lexical > 0 and (h.lexical or 0.0) >= LEXICAL_SHARE * best_lexical)]


def further_passages(corpus: Searcher, question: str, shown: Iterable[int], upto: int, floor: float) -> list[Hit]:
    """Relevant passages for ``question``, best first, without the ``shown`` ones (by passage id); enough
    are searched for ``upto`` of them to be listed."""
    shown = set(shown)
    hits = corpus.search(question, k=upto + len(shown) + 1)
    return [h for h in relevant(hits, floor) if h.passage_id not in shown]
