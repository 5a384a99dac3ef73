"""The bot's own tables behind one small interface: button questions, feedback votes, the update journal.

The retrieval store holds documents; this holds what only the bot needs, so deleting it loses
feedback and pending replies, never documents. Implementations: ``bot.storage.sqlite`` (a file beside
the index, the default); a PostgreSQL one can implement the same methods. Every method is a short
synchronous transaction and must be safe to call from several threads (handlers run them in worker
threads). Times are Unix seconds (``time.time()``).

The journal makes answering at-least-once: each update is recorded when it arrives (``receive``) and
marked when its reply has been sent (``finish``); after a crash, ``unfinished`` lists what still
needs an answer. Update ids are only unique per bot, so the journal is keyed by (bot_id, update_id).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

# what receive() found
NEW = "new"  # first time this update is seen
PENDING = "pending"  # seen before and never finished: a previous process died while handling it
DONE = "done"  # already answered: a redelivery to ignore


@dataclass
class StoredQuestion:
    """A question behind an answer's buttons (callback data carries only its key)."""

    key: str
    question: str
    passage_ids: list[int]  # the passages shown with the answer, in citation order
    answered: bool
    user_id: int | None = None
    chat_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. per-sentence quotes of a generated answer


@dataclass
class Vote:
    key: str
    question: str
    passage_ids: list[int]
    user_id: int | None
    vote: int  # +1 or -1


@dataclass
class Tally:
    up: int = 0
    down: int = 0


@dataclass
class JournalEntry:
    """An update received and not yet answered."""

    bot_id: int
    update_id: int
    chat_id: int | None
    received: float
    payload: dict[str, Any]  # the update as Telegram sent it (JSON), to process it again


class BotStorage(ABC):
    """What the bot keeps about its chats. See the module docstring for the guarantees."""

    # ``finish`` is a short local commit that never waits for a disk or a network: the journal may then
    # call it in the event loop right after a reply is sent (SQLite); otherwise it runs on its own thread
    quick_finish: bool = False

    # -- questions behind buttons ---------------------------------------------------------------------
    @abstractmethod
    def remember(self, question: str, passage_ids: list[int], user_id: int | None, chat_id: int | None,
                 answered: bool, extra: dict[str, Any] | None = None) -> str:
        """Store a question and return a new short key (at most 12 ASCII characters) for callback data."""

    @abstractmethod
    def question(self, key: str) -> StoredQuestion | None:
        """The stored question, or None for an unknown (forged or pruned) key."""

    # -- votes ----------------------------------------------------------------------------------------
    @abstractmethod
    def vote(self, key: str, user_id: int | None, vote: int) -> Vote | None:
        """Record or change one user's vote (+1/-1) on an answer; None if the key is unknown."""

    @abstractmethod
    def tally(self, key: str) -> Tally:
        """Votes on one answer, one per user."""

    @abstractmethod
    def votes(self) -> list[Vote]:
        """Every vote, oldest first (for evaluation exports)."""

    @abstractmethod
    def unvote(self, key: str, user_id: int | None) -> None:
        """Withdraw one user's vote on an answer (a 👍/👎 reaction taken back)."""

    # -- answer messages ------------------------------------------------------------------------------
    @abstractmethod
    def attach(self, key: str, chat_id: int, message_id: int) -> None:
        """Remember that message ``message_id`` in ``chat_id`` shows the answer to question ``key``."""

    @abstractmethod
    def key_at(self, chat_id: int, message_id: int) -> str | None:
        """The question key behind an answer message (for votes given as reactions), or None."""

    # -- update journal -------------------------------------------------------------------------------
    @abstractmethod
    def receive(self, bot_id: int, update_id: int, chat_id: int | None, payload: dict[str, Any],
                at: float) -> str:
        """Record an arriving update unless it is known; return NEW, PENDING or DONE (module constants)."""

    def receive_all(self, bot_id: int, updates: list[tuple[int, int | None, dict[str, Any]]],
                    at: float) -> list[str]:
        """``receive`` for each (update_id, chat_id, payload) of a batch; engines may do it in one transaction."""
        return [self.receive(bot_id, update_id, chat_id, payload, at) for update_id, chat_id, payload in updates]

    @abstractmethod
    def finish(self, bot_id: int, update_id: int, at: float) -> None:
        """The update's reply was sent (or it needed none): drop its payload, remember it is done."""

    @abstractmethod
    def unfinished(self, bot_id: int) -> list[JournalEntry]:
        """Updates received and never finished, oldest first."""

    @abstractmethod
    def prune(self, before: float) -> int:
        """Forget journal entries received before ``before``; return how many were removed."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; the object is unusable afterwards."""
