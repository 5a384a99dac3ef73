"""An embedding worker process (``python -m retrieval.embed.worker``), started by ``embed.pool.EmbedPool``
when it cannot fork workers from the adding process (a process running other threads, or a backend whose
model a forked child cannot use: e5-small's C engine and its OpenMP runtime).

It reads the parent's ``sys.path``, a picklable factory of the model and the descriptors of its siblings'
pipes from stdin, builds the model once (one thread), forks one sibling per pair of descriptors
(``forked.fork_siblings``: they share the model it loaded; none for a backend that is not ``fork_safe``,
whose workers each load their own), then embeds each list of texts it is sent and writes the vectors back
on stdout, until stdin closes: when the adding process ends, however it ends; its siblings die with it.
Kept apart from ``pool`` so that running it imports nothing of the library but what the model needs.
"""
from __future__ import annotations

import os
import signal
import sys

from . import forked
from .channel import receive, serve


def main() -> None:
    """A worker: read sys.path, the model's factory and its siblings' pipes, fork the siblings, then embed
    each list of texts it is sent until its stdin closes. Its stdout carries only the answers (anything
    printed goes to stderr)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop (and closes our stdin)
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    try:
        sys.path[:] = receive(requests)
        factory = receive(requests)
        siblings: list[tuple[int, int]] = receive(requests)
    except EOFError:
        return
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as base.limit_threads, without importing faiss (15 MB)
    model = forked.load(factory) if siblings else _build(factory)
    if model is None:  # e.g. the model's package is missing: the adding process embeds, and says so
        return
    children = forked.fork_siblings(model, siblings) if siblings else []
    serve(model, requests, answers)
    forked.reap(children)


def _build(factory):
    try:
        return factory()
    except Exception:
        return None


if __name__ == "__main__":
    main()
