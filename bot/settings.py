"""Telegram settings, declared as data next to retrieval's so the generated settings table covers them too.

The env names are a contract with the CLI and the docs: keep them stable.
"""
from __future__ import annotations

from retrieval.settings import Setting

BOT_SETTINGS: tuple[Setting, ...] = (
    Setting("telegram_token", "", "TELEGRAM_BOT_TOKEN",
            "Bot token from @BotFather. Required for `citebot bot`; never logged.", kind=str, secret=True, group="telegram"),
    Setting("telegram_api_url", "", "CITEBOT_TELEGRAM_API_URL",
            "Bot API base URL for a self-hosted Bot API server, e.g. `http://127.0.0.1:8081`; "
            "empty means api.telegram.org.", kind=str, group="telegram", tier="advanced"),
    Setting("telegram_allowed_users", (), "CITEBOT_TELEGRAM_ALLOWED_USERS",
            "Comma list of Telegram user ids who may use the bot; empty means everyone.", kind=tuple, group="telegram"),
    Setting("telegram_allowed_chats", (), "CITEBOT_TELEGRAM_ALLOWED_CHATS",
            "Comma list of chat ids (groups are negative) where the bot may be used; empty means every chat. "
            "A private chat's id is the user's id.", kind=tuple, group="telegram"),
    Setting("telegram_admins", (), "CITEBOT_TELEGRAM_ADMINS",
            "Comma list of user ids who may add and remove documents; empty means nobody. "
            "Admins pass the allow-lists.", kind=tuple, group="telegram"),
    Setting("telegram_rate_limit", 20, "CITEBOT_TELEGRAM_RATE_LIMIT",
            "Questions per user per minute before the bot asks them to slow down; 0 disables the limit.", kind=int, group="telegram"),
    Setting("telegram_max_upload_mb", 20, "CITEBOT_TELEGRAM_MAX_UPLOAD_MB",
            "Largest uploaded file accepted, checked before download (the Bot API cannot fetch files over 20 MB).", kind=int, group="telegram"),
    Setting("telegram_webhook_url", "", "CITEBOT_TELEGRAM_WEBHOOK_URL",
            "Public HTTPS URL Telegram posts updates to; empty means long polling.", kind=str, group="telegram"),
    Setting("telegram_webhook_listen", "127.0.0.1", "CITEBOT_TELEGRAM_WEBHOOK_LISTEN",
            "Address the webhook server listens on (behind a reverse proxy usually 127.0.0.1).", kind=str, group="telegram", tier="advanced"),
    Setting("telegram_webhook_port", 8443, "CITEBOT_TELEGRAM_WEBHOOK_PORT",
            "Port the webhook server listens on.", kind=int, group="telegram", tier="advanced"),
    Setting("telegram_webhook_secret", "", "CITEBOT_TELEGRAM_WEBHOOK_SECRET",
            "Secret token Telegram sends in each webhook request (1-256 chars of A-Z a-z 0-9 _ -); "
            "requests without it are rejected.", kind=str, secret=True, group="telegram"),
    Setting("telegram_startup_retries", 10, "CITEBOT_TELEGRAM_STARTUP_RETRIES",
            "How many times an unreachable Bot API is retried at start-up (exponential backoff, "
            "at most 60 s apart) before giving up; -1 retries forever.", kind=int, group="telegram", tier="advanced"),
    Setting("telegram_replay_max_age", 600, "CITEBOT_TELEGRAM_REPLAY_MAX_AGE",
            "Seconds: at start-up, questions received but not answered before a crash or restart are answered "
            "if they are at most this old.", kind=int, group="telegram", bounds=(0, 86400), tier="advanced"),
    Setting("telegram_apology_max_age", 3600, "CITEBOT_TELEGRAM_APOLOGY_MAX_AGE",
            "Seconds: older unanswered questions get a short \"sorry, I was restarting\" up to this age; "
            "older still are dropped silently.", kind=int, group="telegram", bounds=(0, 604800), tier="advanced"),
    Setting("telegram_sync_seconds", 30, "CITEBOT_TELEGRAM_SYNC_SECONDS",
            "Seconds between two looks of `citebot bot` for followed sources that are due (synced in a worker "
            "thread, each on its own interval) and for followed channels to check; 0: the bot syncs nothing "
            "(run `citebot sync` instead).", kind=int, group="telegram", bounds=(0, 86400), tier="advanced"),
    Setting("telegram_push_seconds", 10, "CITEBOT_TELEGRAM_PUSH_SECONDS",
            "Seconds between two looks of `citebot bot` into the standing questions' outbox (answers queued by "
            "its own syncs, its channels or `citebot sync`); 0 sends no pushes.", kind=int, group="telegram",
            bounds=(0, 3600), tier="advanced"),
)
