"""A bot process for tests/bot/test_channel_crash.py: the real Application over a real Corpus (hash
embedder, no model to load) whose writes are slowed, so a SIGKILL lands while a channel post is indexed.

    python -m tests.bot.channel_crash_bot     # settings from the environment, CRASH_BOT_DELAY s per post
"""
from __future__ import annotations

import os
import time

from retrieval import Corpus, load_settings

from bot.app import build_application, serve_until_signalled
from bot.settings import BOT_SETTINGS
from tests.fakes.hash_embedder import HashEmbedder


class SlowEmbedder(HashEmbedder):
    """The hash embedder, ``delay`` seconds slower per batch of passages: the window a kill lands in."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def encode_passages(self, texts: list[str]):  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        return super().encode_passages(texts)


def main() -> None:
    settings = load_settings(env=dict(os.environ), extra=BOT_SETTINGS)
    corpus = Corpus(settings, embedder=SlowEmbedder(float(os.environ.get("CRASH_BOT_DELAY", "0.5"))))
    app = build_application(settings, corpus, network_retries=2, backoff=0.1, read_timeout=5)
    try:
        serve_until_signalled(app, settings, first_delay=0.1, poll_timeout=1)
    finally:
        corpus.close()


if __name__ == "__main__":
    main()
