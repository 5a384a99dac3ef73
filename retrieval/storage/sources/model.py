"""Sources as data: what a followed source is and its sync state, as stored and as `sources list --json` shows it.

A source is a feed, a sitemap, a local folder or a Telegram channel that citebot keeps following on an
interval. These value types are shared by the store (``retrieval.storage.sources``), the sync loop, the
CLI and the bot, so they live apart from all of them and import nothing heavy.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ...errors import UserError

KINDS = ("feed", "sitemap", "folder", "telegram")
DEFAULT_EVERY = 30 * 60  # seconds between two syncs of a source unless --every says otherwise
MIN_EVERY = 1
MAX_EVERY = 30 * 24 * 3600
MAX_BACKOFF = 24 * 3600  # a failing source is retried at least once a day
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass
class SourceState:
    """Where a source's sync stands. Times are Unix seconds (UTC), None when it never happened.

    ``etag`` / ``last_modified`` are the validators of the last full response (sent back as
    If-None-Match / If-Modified-Since); ``failures`` counts consecutive failed syncs (the backoff);
    ``next_due`` is when the source is synced next; ``entries`` how many entries have been seen."""

    etag: str = ""
    last_modified: str = ""
    last_success: float | None = None
    last_attempt: float | None = None
    last_error: str = ""
    failures: int = 0
    next_due: float = 0.0
    entries: int = 0


@dataclass
class Source:
    """One followed source. ``every`` is its interval in seconds; ``prune`` (folders) removes documents
    whose files disappeared."""

    id: int
    kind: str
    location: str
    name: str
    every: int = DEFAULT_EVERY
    prune: bool = False
    added: float = 0.0
    state: SourceState = field(default_factory=SourceState)

    def due(self, now: float) -> bool:
        return self.state.next_due <= now

    def to_json(self) -> dict[str, Any]:
        """The stable ``citebot sources list --json`` shape: times as ISO 8601 UTC strings."""
        data = asdict(self)
        data["added"] = iso(self.added)
        state = data["state"]
        for key in ("last_success", "last_attempt", "next_due"):
            state[key] = iso(state[key])
        return data


@dataclass
class SeenEntry:
    """An entry of a source already indexed (or deliberately skipped): ``key`` is its link (or id, or
    file path), ``signature`` what the feed said about it (so a changed item is fetched again),
    ``content_hash`` the indexed text's hash and ``doc_id`` the document holding it (None if skipped).
    ``origin`` says what was indexed: ``article`` (the linked page), ``feed`` (the entry's own text,
    because the page could not be fetched), ``file`` (a folder's file) or ``post`` (a channel post)."""

    key: str
    signature: str
    content_hash: str = ""
    doc_id: int | None = None
    origin: str = "article"


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_every(raw: str | int | float | None) -> int:
    """An interval as seconds: ``90``, ``90s``, ``30m``, ``1h``, ``1d`` (also ``1h30m``)."""
    if raw is None or raw == "":
        return DEFAULT_EVERY
    if isinstance(raw, (int, float)):
        seconds = int(raw)
    else:
        text = str(raw).strip().lower().replace(" ", "")
        if text.isascii() and text.isdigit() and len(text) < 12:
            seconds = int(text)
        else:
            parts = re.findall(r"(\d{1,9})([smhd])", text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise UserError(f"--every {raw!r}: give an interval like 90s, 30m, 1h or 1d", code="bad_interval",
                                value=str(raw))
            seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if not MIN_EVERY <= seconds <= MAX_EVERY:
        raise UserError(f"--every {raw!r}: the interval must be between {MIN_EVERY} s and 30 days",
                        code="bad_interval", value=str(raw))
    return seconds


_CHANNEL = re.compile(r"^(?:@|(?:https?://)?t\.me/)([A-Za-z][A-Za-z0-9_]{3,31})/?$")


def channel_key(ref: str | int) -> str | None:
    """A Telegram channel's canonical location: ``@username`` (lower case) or its numeric chat id
    (``-100...``); None when ``ref`` names no channel."""
    if isinstance(ref, int):
        return str(ref)
    text = str(ref).strip()
    if re.fullmatch(r"-?\d{1,20}", text):
        return str(int(text))
    match = _CHANNEL.match(text)
    return "@" + match.group(1).lower() if match else None


def classify(location: str) -> tuple[str, str]:
    """(kind, canonical location) for what a user typed after `sources add`; UserError when it is none
    of a URL, an existing directory or a Telegram channel."""
    text = location.strip()
    if not text:
        raise UserError("sources add: give a feed or sitemap URL, a folder or a @channel", code="bad_source")
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")) and "://t.me/" not in lowered:
        from urllib.parse import urlsplit

        parts = urlsplit(text)
        if not parts.hostname:
            raise UserError(f"{text}: not a valid URL", code="bad_source", location=text)
        kind = "sitemap" if "sitemap" in parts.path.lower() else "feed"
        return kind, text
    channel = channel_key(text)
    if channel is not None and (text.startswith("@") or "t.me/" in lowered or text.lstrip("-").isdigit()):
        return "telegram", channel
    path = Path(text).expanduser()
    if path.is_dir():
        return "folder", str(path.resolve())
    if path.exists():
        raise UserError(f"{text}: a followed folder must be a directory, not a file", code="source_is_file",
                        location=text)
    raise UserError(f"{text}: not an http(s) URL, an existing directory or a @channel", code="bad_source",
                    location=text)


def default_name(kind: str, location: str) -> str:
    if kind == "folder":
        return Path(location).name or location
    if kind == "telegram":
        return location
    from urllib.parse import urlsplit

    parts = urlsplit(location)
    return (parts.hostname or location) + (parts.path if parts.path not in ("", "/") else "")
