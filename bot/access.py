"""Who may use the bot, who may change the library, and how fast anyone may ask.

Rules (documented in the README, "Telegram bot"):
- an empty allow-list is open; a non-empty one must contain the user (users list) and the chat
  (chats list) — both lists apply, in private chats and in groups alike;
- admins may always use the bot and are the only ones who may add or remove documents; an empty
  admin list means nobody can change the library from Telegram.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from retrieval.errors import UserError


def parse_ids(values: Iterable[Any], env: str) -> frozenset[int]:
    """Telegram ids from a settings list; a non-numeric entry is a clear start-up error."""
    ids: set[int] = set()
    for raw in values:
        text = str(raw).strip()
        if not text:
            continue
        try:
            ids.add(int(text))
        except ValueError:
            raise UserError(f"{env}: {text!r} is not a numeric Telegram id") from None
    return frozenset(ids)


@dataclass(frozen=True)
class Access:
    """The allow-lists and admin list, resolved to integer ids."""

    users: frozenset[int] = frozenset()
    chats: frozenset[int] = frozenset()
    admins: frozenset[int] = frozenset()

    @classmethod
    def from_settings(cls, settings: Any) -> "Access":
        return cls(
            users=parse_ids(settings.telegram_allowed_users, "CITEBOT_TELEGRAM_ALLOWED_USERS"),
            chats=parse_ids(settings.telegram_allowed_chats, "CITEBOT_TELEGRAM_ALLOWED_CHATS"),
            admins=parse_ids(settings.telegram_admins, "CITEBOT_TELEGRAM_ADMINS"),
        )

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admins

    def may_use(self, user_id: int | None, chat_id: int | None) -> bool:
        """Whether this user may ask questions in this chat."""
        if self.is_admin(user_id):
            return True
        if user_id is None:
            return False
        if self.users and user_id not in self.users:
            return False
        if self.chats and chat_id not in self.chats:
            return False
        return True


@dataclass
class RateLimiter:
    """At most ``limit`` questions per user in any ``window`` seconds (sliding window); 0 disables."""

    limit: int
    window: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[int, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, user_id: int) -> float:
        """Record a question; 0.0 if allowed, else the seconds until the user may ask again."""
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            seen = self._seen[user_id]
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.limit:
                return max(0.1, seen[0] + self.window - now)
            seen.append(now)
            return 0.0
