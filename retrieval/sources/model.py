"""What one sync did (per source and in all) and when a source is due next; the source types themselves
are defined beside their store (``retrieval.storage.sources.model``) and re-exported here.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..storage.sources.model import (DEFAULT_EVERY, KINDS, MAX_BACKOFF, SeenEntry, Source, SourceState, channel_key,
                                     classify, default_name, iso, parse_every)

__all__ = ["DEFAULT_EVERY", "KINDS", "MAX_BACKOFF", "SeenEntry", "Source", "SourceState", "SourceResult",
           "SyncReport", "channel_key", "classify", "default_name", "iso", "next_due_after", "now_ts",
           "parse_every"]


@dataclass
class SourceResult:
    """What one sync of one source did. ``status``: ``ok``, ``not-modified``, ``error``, ``skipped``
    (another process holds it) or ``not-due``."""

    source_id: int
    name: str
    status: str
    new_doc_ids: list[int] = field(default_factory=list)
    replaced_doc_ids: list[int] = field(default_factory=list)
    removed_doc_ids: list[int] = field(default_factory=list)
    entries: int = 0  # entries in the feed / sitemap / folder this time
    unchanged: int = 0  # entries seen before and not fetched again
    fallbacks: int = 0  # entries indexed from the feed's own text because the page failed
    errors: list[str] = field(default_factory=list)  # per-entry problems (the rest went on)
    error: str = ""  # why the whole source failed this time
    seconds: float = 0.0


@dataclass
class SyncReport:
    """What :func:`retrieval.sources.sync_sources` did across sources."""

    results: list[SourceResult] = field(default_factory=list)

    @property
    def new_doc_ids(self) -> list[int]:
        return [d for r in self.results for d in r.new_doc_ids]

    @property
    def replaced_doc_ids(self) -> list[int]:
        return [d for r in self.results for d in r.replaced_doc_ids]

    @property
    def removed_doc_ids(self) -> list[int]:
        return [d for r in self.results for d in r.removed_doc_ids]

    @property
    def errors(self) -> list[str]:
        """One line per failed source and per failed entry."""
        out = []
        for r in self.results:
            if r.error:
                out.append(f"source {r.source_id} ({r.name}): {r.error}")
            out.extend(f"source {r.source_id} ({r.name}): {e}" for e in r.errors)
        return out

    @property
    def synced(self) -> int:
        return sum(1 for r in self.results if r.status in ("ok", "not-modified"))


def now_ts(now: float | datetime | None = None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        return (now if now.tzinfo else now.replace(tzinfo=timezone.utc)).timestamp()
    return float(now)


def next_due_after(source: Source, now: float, failed: bool, retry_after: float | None = None) -> float:
    """When to sync ``source`` next: its interval after a success; after failures an exponential backoff
    (interval x 2^(failures-1), capped at a day); never before a server's Retry-After."""
    delay = float(source.every)
    if failed:
        delay = min(MAX_BACKOFF, max(delay, source.every * 2.0 ** max(0, source.state.failures - 1)))
    if retry_after:
        delay = max(delay, min(float(retry_after), MAX_BACKOFF))
    return now + delay
