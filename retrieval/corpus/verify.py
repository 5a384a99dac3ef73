"""`citebot verify`: the store checks itself (engine-specific, no model needed); a repair that must embed
again (missing or damaged vectors) is finished here, where the encoder is.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..storage import VerifyReport

if TYPE_CHECKING:  # pragma: no cover
    from .core import Corpus


def verify(corpus: "Corpus", repair: bool = False) -> VerifyReport:
    """Check the store and its derived indexes; with ``repair`` rebuild them and embed what is missing,
    then check again so the report says how things are after the repair."""
    store = corpus.store
    model = corpus.embedder.name  # the name only: no model is loaded unless a repair must embed
    with corpus.lock:
        report = store.verify(model, repair=repair)
    if not repair or not report.missing:
        return report
    embedded = corpus._embed_missing()
    with corpus.lock:
        store.rebuild_vector_index(model)
        after = store.verify(model, repair=False)
    after.repairs = report.repairs + [f"embedded {embedded} passage texts and rebuilt the dense index"]
    return after
