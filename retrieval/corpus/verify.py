"""`citebot verify`: the store checks itself (engine-specific, no model needed); a repair that must embed
again (missing or damaged vectors) is finished here, by the caller's encoder.
"""
from __future__ import annotations

from typing import Callable, ContextManager

from ..storage import Storage, VerifyReport


def verify(store: Storage, model: str, lock: ContextManager, embed_missing: Callable[[], int],
           repair: bool = False) -> VerifyReport:
    """Check the store and its derived indexes; with ``repair`` rebuild them and embed what is missing
    (``embed_missing``, which loads the model only then), then check again so the report says how things
    are after the repair. ``lock`` is the corpus's write lock, held while the store is checked or rebuilt."""
    with lock:
        report = store.verify(model, repair=repair)
    if not repair or not report.missing:
        return report
    embedded = embed_missing()
    with lock:
        store.vectors.rebuild(model)
        after = store.verify(model, repair=False)
    after.repairs = report.repairs + [f"embedded {embedded} passage texts and rebuilt the dense index"]
    return after
