"""Batches of documents on their way into the store: prepared documents and ready results, in input order.

Passages of several documents are embedded in one encode call (the model is much faster on batches),
then the batch is written in one short transaction. A batch also remembers the content hashes and
near-duplicate signatures of its documents, so the same text twice in one input is caught before
either is stored.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..text.passages import Passage
from ..types import AddResult, Document


@dataclass
class Prepared:
    """A cleaned document ready to be embedded and written: its passages, the stored document it
    replaces (same path), its near-duplicate signature, and the newest stored document id its
    near-duplicate check saw (None: not checked, ``force``)."""

    doc: Document
    passages: list[Passage]
    replaces: int | None
    signature: bytes | None
    seen: int | None = None


@dataclass
class Batch:
    items: list[Prepared | AddResult] = field(default_factory=list)
    hashes: set[str] = field(default_factory=set)
    signatures: list[tuple[bytes, str]] = field(default_factory=list)  # (signature, title or path)
    passages: int = 0

    def add(self, item: Prepared | AddResult) -> None:
        self.items.append(item)
        if isinstance(item, Prepared):
            self.hashes.add(item.doc.content_hash)
            if item.signature is not None:
                self.signatures.append((item.signature, item.doc.title or item.doc.path))
            self.passages += len(item.passages)

    @property
    def prepared(self) -> list[Prepared]:
        return [item for item in self.items if isinstance(item, Prepared)]

    def __bool__(self) -> bool:
        return bool(self.items)
