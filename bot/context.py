"""The typed handler context: what every handler can reach (library, access rules, storage) without Any.

PTB builds ``BotData`` once per application (``ContextTypes(bot_data=BotData)``) and hands each
handler a :class:`Context`; ``bot.app.build_application`` fills the fields before the bot starts.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from retrieval.types import AddResult, Answer, Document, DocumentInfo, Hit

from bot.access import Access, RateLimiter
from bot.storage.base import BotStorage

if TYPE_CHECKING:
    from pathlib import Path

    from retrieval import Sources, Watches


class Library(Protocol):
    """The part of ``retrieval.Corpus`` the bot uses (tests pass doubles with the same methods)."""

    @property
    def min_score(self) -> float: ...

    def ask(self, question: str) -> Answer: ...

    def search(self, query: str, k: int = 10, offset: int = 0) -> list[Hit]: ...

    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentInfo]: ...

    def stats(self) -> dict[str, Any]: ...

    def add_paths(self, paths: Sequence[str | Path], *, overrides: dict[str, str] | None = None,
                  force: bool = False) -> list[AddResult]: ...

    def add_document(self, doc: Document, force: bool = False) -> AddResult: ...

    def remove(self, ref: str | int) -> DocumentInfo: ...


class Conversing(Protocol):
    """``retrieval.answer.conversation.Conversations``: follow-ups turned into standalone questions."""

    def ask(self, corpus: Any, key: Any, question: str, **filters: Any) -> Answer: ...

    def forget(self, key: Any) -> None: ...


class BotData:
    """Shared state of one running bot (PTB creates it empty; build_application fills it)."""

    def __init__(self) -> None:
        self.corpus: Library | None = None
        self.access: Access = Access()
        self.limiter: RateLimiter = RateLimiter(0)
        self.storage: BotStorage | None = None
        self.conversations: Conversing | None = None
        self.max_upload_mb: int = 20
        self.relevance: float | None = None  # min dense similarity for "More sources"; None: half the answer threshold
        self.inline_latest: dict[int, str] = {}  # user id -> their newest inline query id (older ones are dropped)
        self.settings: Any = None  # the bot's settings (followed sources and watches are opened from them)
        self.syncing = False  # a sync round of bot.jobs is running (rounds never overlap)
        self.fetcher: Any = None  # the sync's fetcher, one for the bot's life (per-host turns span rounds)
        self._sources: Any = None
        self._watches: Any = None
        self._opening = threading.Lock()

    @property
    def sources(self) -> "Sources":
        """The followed sources (``retrieval.open_sources``), opened on first use."""
        with self._opening:
            if self._sources is None:
                from retrieval import open_sources

                self._sources = open_sources(self.settings)
            return self._sources

    @property
    def watches(self) -> "Watches":
        """The standing questions and their outbox (``retrieval.open_watches``), opened on first use."""
        with self._opening:
            if self._watches is None:
                from retrieval import open_watches

                self._watches = open_watches(self.settings)
            return self._watches

    def close(self) -> None:
        """Close the bot's stores (its own tables, sources, watches) at shut-down."""
        for store in (self._sources, self._watches, self.storage):
            if store is not None:
                store.close()
        self._sources = self._watches = None


class Context(CallbackContext[ExtBot, dict, dict, BotData]):
    """``context`` in every handler: typed shortcuts to the library and the bot's storage."""

    def __init__(self, application: Application, chat_id: int | None = None, user_id: int | None = None):
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)

    @property
    def corpus(self) -> Library:
        assert self.bot_data.corpus is not None, "build_application sets the corpus"
        return self.bot_data.corpus

    @property
    def storage(self) -> BotStorage:
        assert self.bot_data.storage is not None, "build_application sets the storage"
        return self.bot_data.storage


CONTEXT_TYPES = ContextTypes(context=Context, bot_data=BotData)
