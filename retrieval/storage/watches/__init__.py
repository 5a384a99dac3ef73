"""Standing questions and their push outbox (``base``: the interface and values), on SQLite or PostgreSQL.

:func:`open_watches` chooses the engine from ``CITEBOT_DATABASE_URL`` like every storage part.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import UserError
from .base import COMPONENT, GONE, QUEUED, SEEN, THROTTLED, Added, Push, Watch, WatchStore

if TYPE_CHECKING:  # pragma: no cover
    from ...settings import Settings

__all__ = ["COMPONENT", "GONE", "QUEUED", "SEEN", "THROTTLED", "Added", "Push", "Watch", "WatchStore", "open_watches"]


def open_watches(settings: "Settings") -> WatchStore:
    """The watch store for ``settings``: PostgreSQL when CITEBOT_DATABASE_URL is a postgresql:// URL,
    else SQLite in CITEBOT_HOME/citebot.sqlite3."""
    from .. import MissingDriver, is_postgres_url

    url = (settings.database_url or "").strip()
    if not url:
        from .sqlite import SQLiteWatchStore

        return SQLiteWatchStore(settings.home_path / "citebot.sqlite3")
    if not is_postgres_url(url):
        raise UserError("CITEBOT_DATABASE_URL: use a postgresql:// URL, or leave it empty for SQLite in CITEBOT_HOME")
    try:
        from .postgres import PostgresWatchStore
    except ImportError as exc:
        raise MissingDriver(f"CITEBOT_DATABASE_URL names PostgreSQL but its driver is not installed "
                            f"({exc.name or exc}); install it with `pip install 'citebot[postgres]'`") from None
    return PostgresWatchStore(url)
