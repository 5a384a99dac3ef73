"""An embedding worker process (``python -m retrieval.embed.worker``), started by ``embed.pool.EmbedPool``
for a backend whose model cannot be shared with forked children (``fork_safe`` false: e5-small's C engine
and its OpenMP runtime), or when the adding process runs other threads.

It reads the parent's ``sys.path`` and a picklable factory of the model from stdin, builds the model once
(one thread), then embeds each list of texts it is sent and writes the vectors back on stdout, until stdin
closes: when the adding process ends, however it ends. Kept apart from ``pool`` so that running it imports
nothing of the library but what the model needs.
"""
from __future__ import annotations

import os
import signal
import sys

from .base import limit_threads
from .channel import receive, serve


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
    serve(model, requests, answers)


if __name__ == "__main__":
    main()
