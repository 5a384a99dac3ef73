"""The interface of the followed-sources store (both engines implement it).

Both engines keep two tables: ``sources`` (one row per followed feed, sitemap, folder or channel, with
its validators, last success, last error, consecutive failures and next due time) and
``source_entries`` (the entries already indexed, each with the signature the feed gave it and the hash
of the text indexed, so an entry is fetched again only when its item changed). ``claim`` is how replicas
share the work: it returns False when another process is syncing that source (a lock file per source on
SQLite, a session advisory lock on PostgreSQL; both vanish with a killed process).
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Iterator

from ...errors import UserError
from .model import SeenEntry, Source, SourceState, channel_key, classify, default_name, parse_every

__all__ = ["Sources"]


class Sources(ABC):
    """The followed sources of one corpus. Thread-safe; each call is one short transaction."""

    location: str = ""

    # -- the engine's primitives ----------------------------------------------------------------------
    @abstractmethod
    def _insert(self, kind: str, location: str, name: str, every: int, prune: bool, now: float) -> int | None:
        """Insert a source; None when one with this location exists."""

    @abstractmethod
    def _rows(self, source_id: int | None = None, location: str | None = None) -> list[Source]: ...

    @abstractmethod
    def _delete(self, source_id: int) -> bool: ...

    @abstractmethod
    def save_state(self, source_id: int, state: SourceState) -> None:
        """Write a source's whole sync state."""

    @abstractmethod
    def seen(self, source_id: int, keys: list[str] | None = None) -> dict[str, SeenEntry]:
        """Entries of the source already seen (those of ``keys``, or all)."""

    @abstractmethod
    def mark_seen(self, source_id: int, entries: list[SeenEntry]) -> None:
        """Record entries as seen (replacing earlier records of the same keys)."""

    @abstractmethod
    def forget(self, source_id: int, keys: list[str]) -> None:
        """Drop seen records (a folder's pruned files)."""

    @abstractmethod
    def claim(self, source_id: int) -> bool:
        """Try to become the only process syncing this source; False when another holds it."""

    @abstractmethod
    def release(self, source_id: int) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    # -- the public API ---------------------------------------------------------------------------------
    def add(self, location: str, every: str | int | None = None, name: str | None = None,
            prune: bool = False) -> Source:
        """Follow ``location`` (an http(s) feed or sitemap URL, a directory, ``@channel`` or a chat id).
        It is due at once. UserError (code ``source_exists``) when it is followed already."""
        kind, canonical = classify(location)
        seconds = parse_every(every)
        label = (name or "").strip()[:200] or default_name(kind, canonical)
        source_id = self._insert(kind, canonical, label, seconds, bool(prune), time.time())
        if source_id is None:
            existing = self._rows(location=canonical)
            ident = existing[0].id if existing else "?"
            raise UserError(f"{canonical} is followed already (source {ident})", code="source_exists",
                            id=ident, location=canonical)
        return self._rows(source_id=source_id)[0]

    def list(self) -> list[Source]:
        """Every source, oldest first."""
        return self._rows()

    def get(self, source_id: int | str) -> Source | None:
        """The source with this id, None when there is none."""
        ident = _ident(source_id)
        rows = self._rows(source_id=ident) if ident is not None else []
        return rows[0] if rows else None

    def require(self, source_id: int | str) -> Source:
        """The source with this id; UserError (code ``no_source``) when there is none."""
        source = self.get(source_id)
        if source is None:
            raise UserError(f"no source {str(source_id)!r}",
                            code="no_source", ref=str(source_id))
        return source

    def remove(self, source_id: int | str) -> Source:
        """Stop following a source (its documents stay in the corpus). UserError when there is none."""
        source = self.require(source_id)
        self._delete(source.id)
        return source

    def find_channel(self, username_or_chat_id: str | int) -> Source | None:
        """The followed Telegram channel by ``@username``/``username``/t.me link or numeric chat id."""
        key = channel_key(username_or_chat_id)
        if key is None and isinstance(username_or_chat_id, str):
            key = channel_key("@" + username_or_chat_id.strip().lstrip("@"))
        if key is None:
            return None
        rows = self._rows(location=key)
        return rows[0] if rows and rows[0].kind == "telegram" else None

    def due(self, now: float) -> list[Source]:
        """Sources whose next sync time has come."""
        return [s for s in self._rows() if s.due(now)]

    @contextmanager
    def claimed(self, source_id: int) -> Iterator[bool]:
        """``with sources.claimed(id) as mine:`` -- ``mine`` is False when another process syncs it."""
        mine = self.claim(source_id)
        try:
            yield mine
        finally:
            if mine:
                self.release(source_id)

    def __enter__(self) -> "Sources":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ident(raw: int | str) -> int | None:
    if isinstance(raw, int):
        return raw
    text = str(raw).strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
