"""An embedding worker process (``python -m retrieval.embed.worker``), started by ``embed.pool.EmbedPool``.

It reads the parent's ``sys.path`` and a picklable factory of the model from stdin, builds the model once
(one thread), then embeds each list of texts it is sent and writes the vectors back on stdout, until stdin
closes: when the adding process ends, however it ends. Kept apart from ``pool`` so that running it imports
nothing of the library but what the model needs.
"""
from __future__ import annotations

import os
import signal
import sys
from typing import Any

from .base import limit_threads
from .pool import receive, send


def main() -> None:
    """A worker: read sys.path and the model's factory, then embed each list of texts it is sent until its
    stdin closes. Its stdout carries only the answers (anything printed goes to stderr)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop (and closes our stdin)
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    try:
        sys.path[:] = receive(requests)
        factory = receive(requests)
    except EOFError:
        return
    limit_threads(1)
    try:
        model = factory()
    except Exception:  # e.g. the model's package is missing: the adding process embeds, and says so
        return
    while True:
        try:
            texts = receive(requests)
        except EOFError:
            return
        try:
            answer: tuple[str, Any] = ("ok", model.encode_passages(texts))
        except Exception as exc:  # reported to the adding process, which embeds these texts itself
            answer = ("error", f"{type(exc).__name__}: {exc}")
        try:
            send(answers, answer)
        except OSError:  # the adding process is gone
            return


if __name__ == "__main__":
    main()
