"""What a search hands to the answer: the ranked hits and everything the answer needs about them.

``Corpus.retrieve`` builds one :class:`Retrieval` per question (the question cleaned, its vector, each
hit's sentence spans and page starts, read in one storage call); ``answer.compose`` reads only this, so
a question is embedded once and its passages are read once, and a stage added between search and answer
(temporal intent, a reranker) has one value to read and refine.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..types import Hit, page_at


@dataclass
class Retrieval:
    """Ranked hits for ``question`` (best first), with per hit its sentences (document offsets) and the
    character offsets where its document's pages start (empty without pages); ``vector`` is the question's
    vector (None in lexical mode)."""

    question: str
    vector: np.ndarray | None
    hits: list[Hit] = field(default_factory=list)
    spans: list[list[tuple[int, int]]] = field(default_factory=list)
    page_starts: list[list[int]] = field(default_factory=list)

    def add(self, hit: Hit, spans: list[tuple[int, int]], page_starts: list[int]) -> None:
        self.hits.append(hit)
        self.spans.append([tuple(s) for s in spans])  # type: ignore[misc]
        self.page_starts.append(list(page_starts))

    def page(self, index: int, offset: int) -> int | None:
        """The page of character ``offset`` (in document offsets) of hit ``index``'s document."""
        return page_at(self.page_starts[index], offset)
