"""Where the bot keeps its own tables: ``open_bot_storage(settings)`` picks the backend."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.storage.base import BotStorage
from bot.storage.sqlite import FILE_NAME, SQLiteBotStorage

__all__ = ["BotStorage", "SQLiteBotStorage", "open_bot_storage"]


def open_bot_storage(settings: Any) -> BotStorage:
    """In the corpus's PostgreSQL database when CITEBOT_DATABASE_URL names one (so bot replicas share
    votes and the update journal), else SQLite beside the index (``CITEBOT_HOME/feedback.sqlite3``)."""
    from retrieval import is_postgres_url

    url = settings.database_url or ""
    if is_postgres_url(url):
        from bot.storage.postgres import PostgresBotStorage

        return PostgresBotStorage(url)
    return SQLiteBotStorage(Path(settings.home_path) / FILE_NAME)
