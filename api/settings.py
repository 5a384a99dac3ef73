"""The API's settings, declared as data beside retrieval's and the bot's (the docs table is generated).

Key settings are secret: `citebot settings` shows them as ***, and no response or log line prints them.
"""
from __future__ import annotations

from retrieval import Setting

API_SETTINGS: tuple[Setting, ...] = (
    Setting("api_keys", (), "CITEBOT_API_KEYS",
            "Comma list of reader keys for the HTTP API (ask, search, list and read documents), besides those "
            "made with `citebot keys add`. With no key at all, reads are open to clients on this machine only "
            "(`citebot serve` then refuses to listen beyond loopback) and nobody may add or remove documents.",
            kind=tuple, secret=True, group="api"),
    Setting("api_admin_keys", (), "CITEBOT_API_ADMIN_KEYS",
            "Comma list of admin keys: everything a reader key may do, plus adding and removing documents.",
            kind=tuple, secret=True, group="api"),
    Setting("api_rate_limit", 60, "CITEBOT_API_RATE_LIMIT",
            "Requests per key (per client address without a key) per minute under /v1, in bursts of up to as "
            "many; past it the answer is 429 with Retry-After. 0 disables the limit.", kind=int, group="api",
            bounds=(0, 1_000_000)),
    Setting("api_max_body_kb", 256, "CITEBOT_API_MAX_BODY_KB",
            "Largest JSON or form request body, in KiB (413 beyond); uploads to POST /v1/documents may be "
            "CITEBOT_MAX_FILE_MB.", kind=int, group="api", bounds=(1, 1_048_576), tier="advanced"),
    Setting("api_body_timeout", 60.0, "CITEBOT_API_BODY_TIMEOUT",
            "Seconds a client may take to send a request body (408 beyond).", kind=float, group="api",
            bounds=(0.1, 3600), tier="advanced"),
    Setting("api_header_timeout", 10.0, "CITEBOT_API_HEADER_TIMEOUT",
            "Seconds a client may take to send a request's headers before the connection is closed "
            "(a slowloris client holds no connection longer).", kind=float, group="api", bounds=(0.1, 600), tier="advanced"),
    Setting("api_concurrency", 0, "CITEBOT_API_CONCURRENCY",
            "Questions, searches and ingests one server process works on at once, in its thread pool; more "
            "wait their turn. 0 means 1 on SQLite (its store answers one search at a time, so more threads only wait: "
            "at 100k passages 1 and 4 gave the same answers/s) and 4 on PostgreSQL.", kind=int,
            group="api", bounds=(0, 256), tier="advanced"),
    Setting("api_max_requests", 256, "CITEBOT_API_MAX_REQUESTS",
            "Requests one server process holds at once (waiting for a thread or being answered); more are "
            "answered 429 with Retry-After at once, so a burst cannot pile up memory. /healthz and /readyz are "
            "not counted.", kind=int, group="api", bounds=(1, 100_000), tier="advanced"),
    Setting("api_cors_origins", (), "CITEBOT_API_CORS_ORIGINS",
            "Comma list of web origins allowed to call the API from a browser (CORS), e.g. "
            "`https://cms.example.org`; empty means none.", kind=tuple, group="api", tier="advanced"),
    Setting("api_source_folders", (), "CITEBOT_API_SOURCE_FOLDERS",
            "Comma list of server directories under which an admin key may follow a folder with POST /v1/sources; "
            "empty means none (feeds, sitemaps and channels only: follow a folder with `citebot sources add DIR` "
            "on the server), so an API key never reads files elsewhere on the machine.", kind=tuple, group="api",
            tier="advanced"),
)
