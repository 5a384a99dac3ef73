"""Where the bot keeps its own tables: ``open_bot_storage(settings)`` picks the backend."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.storage.base import BotStorage
from bot.storage.sqlite import FILE_NAME, SQLiteBotStorage

__all__ = ["BotStorage", "SQLiteBotStorage", "open_bot_storage"]


def open_bot_storage(settings: Any) -> BotStorage:
    """SQLite beside the index (``CITEBOT_HOME/feedback.sqlite3``).

    A PostgreSQL backend (CITEBOT_DATABASE_URL=postgresql://...) plugs in here as another
    :class:`BotStorage`; until it exists the bot keeps its tables in SQLite.
    """
    return SQLiteBotStorage(Path(settings.home_path) / FILE_NAME)
