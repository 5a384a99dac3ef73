"""The watch store's interface and values (the engines, ``sqlite`` and ``postgres``, implement it).

Standing questions and their push outbox, stored beside the corpus on either engine.

A watch is a question a chat asked to be told about; a push is one answering passage queued for that
chat. The outbox lives in the database, not in a process, so ``citebot sync`` (which finds the new
passages) and the bot (which sends) can be different processes, and a restart neither loses nor
repeats a push: a push is unique per (watch, passage text), and is marked delivered once sent.

The bounds are enforced here, inside one transaction each, so two processes cannot overshoot them:
at most ``limit`` watches per owner (the user, or the chat when no user is known) in :meth:`add`, and
at most one push per watch every ``min_gap`` seconds in :meth:`queue`.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

COMPONENT = "watches"

# what :meth:`WatchStore.queue` did
QUEUED, SEEN, THROTTLED, GONE = "queued", "seen", "throttled", "gone"


@dataclass(frozen=True)
class Watch:
    """A standing question: ``owner`` is who the per-user limit counts against (user id, else chat id)."""

    id: int
    chat_id: int
    user_id: int | None
    question: str
    created: float  # Unix seconds
    last_push: float | None = None

    @property
    def owner(self) -> int:
        return self.user_id if self.user_id is not None else self.chat_id


@dataclass(frozen=True)
class Push:
    """One answer queued for a watch's chat; ``answer`` is the answer as JSON (``retrieval.watch``
    turns it back into an ``Answer``), ``delivered`` the Unix time it was sent (None: pending)."""

    id: int
    watch_id: int
    chat_id: int
    question: str
    doc_id: int
    passage_hash: str
    answer: str
    created: float
    delivered: float | None = None


@dataclass(frozen=True)
class Added:
    """What :meth:`WatchStore.add` did: the watch (new or the chat's identical one) or, over the limit, None."""

    watch: Watch | None
    new: bool
    count: int  # the owner's watches now


# One row mapping for both engines: the column order of these SELECTs is what the two functions read.
WATCH_COLUMNS = "SELECT id, chat_id, user_id, question, created, last_push FROM watches"
PUSH_COLUMNS = ("SELECT id, watch_id, chat_id, question, doc_id, passage_hash, answer, created, delivered "
                "FROM watch_pushes")


def watch_from_row(row: Any) -> Watch:
    return Watch(int(row[0]), int(row[1]), None if row[2] is None else int(row[2]), row[3], float(row[4]),
                 None if row[5] is None else float(row[5]))


def push_from_row(row: Any) -> Push:
    return Push(int(row[0]), int(row[1]), int(row[2]), row[3], int(row[4]), row[5], row[6], float(row[7]),
                None if row[8] is None else float(row[8]))


def refusal(watch: Watch | None, seen: bool, now: float, min_gap: float) -> str | None:
    """Why a push is not queued (GONE, SEEN, THROTTLED), or None to queue it: the one rule both engines
    apply inside their transaction."""
    if watch is None:
        return GONE
    if seen:
        return SEEN
    if watch.last_push is not None and now - watch.last_push < min_gap:
        return THROTTLED
    return None


class WatchStore(abc.ABC):
    """Watches and pushes in one database; every method is one short transaction, thread-safe."""

    location: str = ""

    @abc.abstractmethod
    def add(self, chat_id: int, question: str, user_id: int | None, limit: int, now: float) -> Added:
        """A new watch, unless the chat already watches this exact question (that one is returned) or
        its owner already has ``limit`` watches (``watch`` is None)."""

    @abc.abstractmethod
    def list(self, chat_id: int | None = None) -> list[Watch]:
        """Watches by id, of one chat or all."""

    @abc.abstractmethod
    def get(self, watch_id: int) -> Watch | None: ...

    @abc.abstractmethod
    def remove(self, watch_id: int, chat_id: int | None = None) -> Watch | None:
        """Remove a watch (only if it belongs to ``chat_id`` when given) with its pending pushes."""

    @abc.abstractmethod
    def queue(self, watch_id: int, doc_id: int, passage_hash: str, answer: str, now: float,
              min_gap: float) -> str:
        """Queue a push: QUEUED, or SEEN (this passage was queued for this watch before), THROTTLED (the
        watch had a push less than ``min_gap`` seconds ago) or GONE (the watch was removed)."""

    @abc.abstractmethod
    def pending(self, limit: int = 100) -> list[Push]:
        """Undelivered pushes, oldest first."""

    @abc.abstractmethod
    def delivered(self, push_id: int, now: float) -> bool:
        """Mark a push sent; False if it was already marked (or is unknown)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "WatchStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
