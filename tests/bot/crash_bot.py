"""A bot process for tests/bot/test_crash.py: the real Application, journal and storage over a slow
stub library, so a SIGKILL can land between receiving a question and sending its answer.

    python -m tests.bot.crash_bot        # settings from the environment, CRASH_BOT_DELAY seconds per answer
"""
from __future__ import annotations

import os
import time

from retrieval import Answer, Citation, load_settings

from bot.app import build_application, serve_until_signalled
from bot.settings import BOT_SETTINGS


class SlowLibrary:
    """Answers every question after ``delay`` seconds with a sentence that names the question."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def ask(self, question: str) -> Answer:
        time.sleep(self.delay)
        text = f"Answer to: {question}"
        citation = Citation(n=1, doc_id=1, passage_id=1, title="Stub", date=None, source="", url="",
                            passage=text, score=1.0, quotes=[(0, len(text))])
        return Answer(question, True, text, [citation], [(text, 1)], 1.0)

    def search(self, query: str, k: int = 10, offset: int = 0) -> list:
        return []


def main() -> None:
    settings = load_settings(env=dict(os.environ), extra=BOT_SETTINGS)
    app = build_application(settings, SlowLibrary(float(os.environ.get("CRASH_BOT_DELAY", "1.0"))),
                            network_retries=2, backoff=0.1, read_timeout=5)
    serve_until_signalled(app, settings, first_delay=0.1, poll_timeout=1)


if __name__ == "__main__":
    main()
