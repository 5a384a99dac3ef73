"""Embedding in worker processes, so `add` uses every core while the adding process prepares and writes.

A model runs one thread per process on purpose (``base.limit_threads``: questions on a busy 2-core
machine), so one process embeds on one core. ``EmbedPool`` starts ``workers`` processes, each embedding
with one thread; ``submit`` hands a chunk of texts to the next free worker and returns a future of its
vectors. The pool holds no state of the corpus: what a worker computes reaches the store only through the
adding process, which writes it. Workers and the adding process speak ``channel``'s protocol over pipes.

Three ways to start them. **Forked** (``forked``), when the backend allows it (``fork_safe``) and the
adding process runs no other thread (`citebot add`): the model is built and loaded once here, and the
workers are forked children sharing its pages, so the pool costs about one model's memory, not one per
worker. **Loader**, for the same backend when the adding process runs other threads (the bot, a parallel
`citebot sync`: forking it could copy a lock another thread holds): one spawned worker loads the model
and forks the others, which share its copy. **Spawned**, for a backend that is not ``fork_safe``
(e5-small): each worker loads its own. Spawned processes are plain ``python -m retrieval.embed.worker``
(``worker``), building the model from a picklable factory (``Embedder.worker_factory()``), not
``multiprocessing``: nothing of the caller's ``__main__`` is imported again (a script without a
``__main__`` guard would otherwise run once per worker).

Either way each worker runs in a session of its own: the terminal's Ctrl-C and hang-up reach only the
adding process, which decides, and the scheduler counts each worker as its own job (Linux's autogroup
shares the CPU equally between sessions, so workers left in the adding process's session would share
that session's one share between them on a busy machine, and the add would not get faster). A worker
exits when its request pipe closes: when the adding process ends, however it ends (even SIGKILL), so a
killed `citebot add` leaves no worker behind. A worker that fails or dies (or a model that does not load)
has its texts embedded in the adding process instead, as without a pool.
"""
from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from concurrent.futures import CancelledError, Future
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import forked
from .base import Embedder
from .channel import receive, send

_LIBRARY_ROOT = str(Path(__file__).resolve().parents[2])  # where `retrieval` is imported from


class EmbedPool:
    """``workers`` processes embedding passages with the model ``factory`` builds; ``local`` embeds in this
    process the texts of a worker that failed. ``fork``: the backend's loaded model may be shared with
    forked children (``fork_safe``); ``mode`` says which way the workers were started ("fork", "loader",
    "spawn")."""

    def __init__(self, factory: Callable[[], Embedder], workers: int, local: Callable[[list[str]], np.ndarray],
                 fork: bool = False) -> None:
        self.workers = workers
        self._local = local
        self._tasks: queue.Queue[tuple[list[str], Future] | None] = queue.Queue()
        self._closing = False
        self._shared: Embedder | None = None  # the forked workers' model, kept until they are gone
        self._processes: list[Any]
        if fork and forked.can_fork():
            self.mode = "fork"
            self._shared = forked.load(factory)
            self._processes = forked.fork_workers(self._shared, workers) if self._shared is not None else []
        elif fork:
            self.mode = "loader"
            self._processes = self._spawn_loader(factory, workers)
        else:
            self.mode = "spawn"
            self._processes = self._spawn(factory, workers)
        serving: list[Any] = self._processes or [None]  # no worker (the model did not load): all embedded here
        self._threads = [threading.Thread(target=self._serve, args=(p,), daemon=True, name=f"embed-worker-{i}")
                         for i, p in enumerate(serving)]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _start(factory: Callable[[], Embedder], siblings: list[tuple[int, int]]) -> subprocess.Popen:
        """A ``python -m retrieval.embed.worker`` process building the model, then forking one worker per
        pair of ``siblings`` descriptors (passed to it)."""
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([_LIBRARY_ROOT, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # one thread, none idle
        process = subprocess.Popen([sys.executable, "-m", "retrieval.embed.worker"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, env=env, start_new_session=True,
                                   pass_fds=[fd for pair in siblings for fd in pair])
        try:  # where the factory's classes are imported from, the factory, the siblings' pipes
            send(process.stdin, list(sys.path))
            send(process.stdin, factory)
            send(process.stdin, siblings)
        except OSError:  # it died at once: its thread finds it gone and embeds here
            pass
        return process

    def _spawn(self, factory: Callable[[], Embedder], workers: int) -> list[subprocess.Popen]:
        """``workers`` processes, each building its own model."""
        return [self._start(factory, []) for _ in range(workers)]

    def _spawn_loader(self, factory: Callable[[], Embedder], workers: int) -> list[Any]:
        """One process building the model, which forks the other workers: they share its copy."""
        pipes = [forked.pipes() for _ in range(workers - 1)]  # (requests r, w; answers r, w) per sibling
        try:
            loader = self._start(factory, [(fds[0], fds[3]) for fds in pipes])
        finally:
            for fds in pipes:  # the loader holds the siblings' ends now
                os.close(fds[0])
                os.close(fds[3])
        return [loader, *(forked.Sibling(loader, os.fdopen(fds[1], "wb"), os.fdopen(fds[2], "rb")) for fds in pipes)]

    def submit(self, texts: list[str]) -> "Future[np.ndarray]":
        """Start embedding ``texts`` (passages) in the next free worker; the future holds their vectors."""
        future: Future[np.ndarray] = Future()
        self._tasks.put((texts, future))
        return future

    def _serve(self, process: Any) -> None:
        """One thread per worker: hand it the next texts and wait for its vectors. Texts the model refused
        there are embedded here (the model's error, if it is one, reaches the caller); once the worker is
        gone, everything it would have had is embedded here."""
        gone = process is None
        while True:
            task = self._tasks.get()
            if task is None:
                return
            texts, future = task
            if not future.set_running_or_notify_cancel():
                continue
            if not gone:
                try:
                    send(process.stdin, texts)
                    status, value = receive(process.stdout)
                    if status == "ok":
                        future.set_result(value)
                        continue
                except (OSError, EOFError, pickle.UnpicklingError):
                    gone = True
            if self._closing:
                future.set_exception(CancelledError())
                continue
            try:
                future.set_result(self._local(texts))
            except BaseException as exc:  # the model's own error (e.g. a missing package), for the caller
                future.set_exception(exc)

    def close(self, cancel: bool = False) -> None:
        """Let the workers finish what was submitted and exit; ``cancel`` stops them now (an interrupted add)."""
        if self._closing:
            return
        self._closing = cancel
        if cancel:
            while True:
                try:
                    task = self._tasks.get_nowait()
                except queue.Empty:
                    break
                if task is not None:
                    task[1].cancel()
            for process in self._processes:
                process.kill()
        for _ in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            thread.join()
        self._closing = True
        for process in self._processes:  # every pipe first: a loader waits for its siblings to see theirs close
            for stream in (process.stdin, process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        for process in self._processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._shared = None

    def __enter__(self) -> "EmbedPool":
        return self

    def __exit__(self, kind: Any, *exc: Any) -> None:
        self.close(cancel=kind is not None)
