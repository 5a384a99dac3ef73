"""What a caller may choose about loading: size limit, following links, internal URLs, fetch deadlines."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from retrieval.settings import Settings, default

from .addresses import UrlPolicy

MB = 1024 * 1024
DEFAULT_MAX_BYTES = default("max_file_mb") * MB  # the declared defaults (retrieval/settings.py), not copies
DEFAULT_TIMEOUT = default("fetch_timeout")  # seconds, for connecting and for each read
DEFAULT_DEADLINE = default("fetch_deadline")  # seconds for a whole fetch, redirects included


@dataclass(frozen=True)
class IngestOptions:
    """``follow_links``: follow symbolic links that leave an added directory. ``allow_private_urls``:
    fetch loopback and private addresses: True for all of them, or a list of CIDRs and hosts (refused by
    default: a URL given to the bot must not reach the machine's own services). ``allowed_networks``:
    more CIDRs/hosts fetched even when private URLs are refused. ``allow_metadata_urls``: the only way to
    fetch link-local and cloud metadata addresses (CIDRs/hosts; ``allow_private_urls`` never opens them)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    follow_links: bool = False
    allow_private_urls: bool | tuple[str, ...] = False
    allowed_networks: tuple[str, ...] = ()
    allow_metadata_urls: tuple[str, ...] = ()
    fetch_timeout: float = DEFAULT_TIMEOUT
    fetch_deadline: float = DEFAULT_DEADLINE

    @cached_property
    def policy(self) -> UrlPolicy:
        """The URL guard's policy from these options (raises UserError on a malformed entry)."""
        return UrlPolicy.build(self.allow_private_urls, self.allowed_networks, self.allow_metadata_urls)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> "IngestOptions":
        """Options from resolved settings (CITEBOT_MAX_FILE_MB, CITEBOT_ALLOW_PRIVATE_URLS, ...)."""
        values: dict[str, Any] = dict(
            max_bytes=settings.max_file_mb * MB,
            allow_private_urls=settings.allow_private_urls,
            allow_metadata_urls=settings.allow_metadata_urls,
            fetch_timeout=settings.fetch_timeout,
            fetch_deadline=settings.fetch_deadline,
        )
        values.update(overrides)
        return cls(**values)
