"""Database URLs: which engine one names (the only place that decides), how to show one without its
password (messages, `citebot stats`, the bot's errors), and whether one is well-formed. Needs no driver:
psycopg parses when installed.

CITEBOT_DATABASE_URL is checked when the settings are loaded (:func:`check_database_url`), so a malformed
value is one line and exit 2 before anything connects (psycopg raised tracebacks with exit 1 for an
unclosed IPv6 bracket, a bad percent escape, an unknown query parameter, a 100,000-character host, spaces
around the URL, and accepted ``connect_timeout=abc`` until it connected). Its messages never repeat the URL
or a part of it that could be the password.
"""
from __future__ import annotations

import re
import urllib.parse

POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")
MAX_URL_CHARS = 4096
INTEGER_PARAMS = frozenset({"port", "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                            "keepalives_count", "tcp_user_timeout"})
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


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


def check_database_url(raw: str) -> str:
    """The URL, stripped of surrounding spaces, or ValueError saying what is wrong with it ("" = SQLite)."""
    url = raw.strip()
    if not url:
        return ""
    if not is_postgres_url(url):
        scheme = url.split(":", 1)[0][:20] if ":" in url else url[:20]
        raise ValueError(f"unsupported database {scheme!r}; use a postgresql:// URL, or leave it empty for "
                         "SQLite in CITEBOT_HOME")
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"the URL is {len(url):,} characters long; the limit is {MAX_URL_CHARS:,}")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValueError("the URL contains spaces or control characters (percent-encode them: %20)")
    if _BAD_PERCENT.search(url):
        raise ValueError("a bad percent escape (% must be followed by two hex digits; write %25 for %)")
    authority = re.split(r"[/?#]", url.split("://", 1)[1], maxsplit=1)[0].rpartition("@")[2]
    if authority.count("[") != authority.count("]"):
        raise ValueError("an unclosed [ in the host (an IPv6 address is written [::1])")
    try:
        parts = urllib.parse.urlsplit(url.replace("postgresql+psycopg://", "postgresql://", 1))
    except ValueError:
        raise ValueError("not a valid URL (check the brackets around an IPv6 host)") from None
    hosts = parts.netloc.rpartition("@")[2]
    params = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    for host in re.split(r",", hosts) + [v for k, v in params if k == "host"]:
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if len(urllib.parse.unquote(name)) > 253 and not name.startswith("/"):
            raise ValueError(f"a host name of {len(name):,} characters; the limit is 253")
    ports = [h.rsplit(":", 1)[1] for h in re.split(r",", hosts) if re.search(r"(^|\])[^:\]]*:[^:\]]*$|\]:", h)]
    for key, value in [*(("port", p) for p in ports), *params]:
        if key in INTEGER_PARAMS and not re.fullmatch(r"-?\d{1,9}", value.strip()):
            raise ValueError(f"{key} must be a whole number" + ("" if key == "port" else f", not {value[:20]!r}"))
        if key == "port" and not 0 < int(value) <= 65535:
            raise ValueError("port must be between 1 and 65535")
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:  # opening the store says how to install the driver
        return url
    try:
        conninfo_to_dict(url)
    except Exception as exc:  # libpq's own parser: its message may quote the password, never shown
        unknown = re.search(r'invalid URI query parameter: "([A-Za-z_]{1,40})"', str(exc))
        if unknown:
            raise ValueError(f"unknown query parameter {unknown.group(1)!r} (see the libpq connection "
                             "parameters)") from None
        raise ValueError("libpq cannot parse it as a connection URL") from None
    return url
