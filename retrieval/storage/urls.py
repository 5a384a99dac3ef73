"""Database URLs: which engine one names (the only place that decides), and how to show one without its
password (messages, `citebot stats`, the bot's errors). Needs no driver: psycopg parses when installed."""
from __future__ import annotations

import re

POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def is_postgres_url(url: str) -> bool:
    return url.strip().lower().startswith(POSTGRES_SCHEMES)


def safe_location(url: str) -> str:
    """The URL without its password (for messages and `citebot stats`)."""
    masked = re.sub(r"//([^:/@]*):[^@]*@", r"//\1@", url)
    try:
        from psycopg import ProgrammingError
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        return masked
    try:
        params = conninfo_to_dict(url)
    except ProgrammingError:
        return masked
    user = params.get("user", "")
    host = params.get("host", "")
    port = params.get("port", "")
    where = host if not host.startswith("/") else ""
    out = f"postgresql://{user + '@' if user else ''}{where}{':' + port if port and where else ''}/{params.get('dbname', '')}"
    if host.startswith("/"):
        out += f"?host={host}"
    return out
