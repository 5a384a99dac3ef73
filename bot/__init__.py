"""citebot's Telegram bot: a thin python-telegram-bot application over the retrieval public API."""
