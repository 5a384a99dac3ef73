"""A bot process for the crash tests and bench.bot_load: the real Application, journal and storage over
a slow stub library, so a SIGKILL can land between receiving a question and sending its answer.

    python -m tests.bot.crash_bot        # settings from the environment

``CRASH_BOT_DELAY`` seconds per answer, plus ``CRASH_BOT_STEP`` times N for a question containing
"question N" (a burst's answers then leave one after another, as real searches of different cost do).
``CRASH_BOT_MARK=legacy`` marks updates done the old way (when the handlers return, through the shared
worker pool), for the before/after figure in bench.bot_load.
"""
from __future__ import annotations

import os
import re
import time

from retrieval import Answer, Citation, load_settings

from bot.app import build_application, serve_until_signalled
from bot.settings import BOT_SETTINGS


class SlowLibrary:
    """Answers every question after a delay with a sentence that names the question."""

    def __init__(self, delay: float, step: float = 0.0) -> None:
        self.delay = delay
        self.step = step

    def ask(self, question: str) -> Answer:
        n = re.search(r"question (\d+)", question)
        time.sleep(self.delay + (self.step * int(n.group(1)) if n else 0.0))
        text = f"Answer to: {question}"
        citation = Citation(n=1, doc_id=1, passage_id=1, title="Stub", date=None, source="", url="",
                            passage=text, score=1.0, quotes=[(0, len(text))])
        return Answer(question, True, text, [citation], [(text, 1)], 1.0)

    def search(self, query: str, k: int = 10, offset: int = 0) -> list:
        return []


def main() -> None:
    settings = load_settings(env=dict(os.environ), extra=BOT_SETTINGS)
    library = SlowLibrary(float(os.environ.get("CRASH_BOT_DELAY", "1.0")), float(os.environ.get("CRASH_BOT_STEP", "0")))
    app = build_application(settings, library, network_retries=2, backoff=0.1, read_timeout=5)
    if os.environ.get("CRASH_BOT_MARK") == "legacy":
        app.journal.eager = False
    serve_until_signalled(app, settings, first_delay=0.1, poll_timeout=1)


if __name__ == "__main__":
    main()
