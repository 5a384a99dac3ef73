"""What a caller may choose about loading: size limit, following links, internal URLs, fetch deadlines."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retrieval.settings import Settings

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_TIMEOUT = 20.0  # seconds, for connecting and for each read
DEFAULT_DEADLINE = 120.0  # seconds for a whole fetch, redirects included


@dataclass(frozen=True)
class IngestOptions:
    """``follow_links``: follow symbolic links that leave an added directory. ``allow_private_urls``:
    fetch loopback, private, link-local and metadata addresses (refused by default: a URL given to the
    bot must not reach the machine's own services). ``allowed_networks``: networks (CIDR) fetched even
    when private URLs are refused."""

    max_bytes: int = DEFAULT_MAX_BYTES
    follow_links: bool = False
    allow_private_urls: bool = False
    allowed_networks: tuple[str, ...] = ()
    fetch_timeout: float = DEFAULT_TIMEOUT
    fetch_deadline: float = DEFAULT_DEADLINE

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> "IngestOptions":
        """Options from resolved settings (CITEBOT_MAX_FILE_MB, CITEBOT_ALLOW_PRIVATE_URLS, ...)."""
        typed = settings.typed
        values: dict[str, Any] = dict(
            max_bytes=typed.max_file_mb * 1024 * 1024,
            allow_private_urls=typed.allow_private_urls,
            fetch_timeout=typed.fetch_timeout,
            fetch_deadline=typed.fetch_deadline,
        )
        values.update(overrides)
        return cls(**values)
