"""Embedding in worker processes, so `add` uses every core while the adding process prepares and writes.

A model runs one thread per process on purpose (``base.limit_threads``: questions on a busy 2-core
machine), so one process embeds on one core. ``EmbedPool`` starts ``workers`` processes, each building the
embedder once from a picklable factory (``Embedder.worker_factory()``) with one thread; ``submit`` hands a
chunk of texts to the next free worker and returns a future of its vectors. The pool holds no state of
the corpus: what a worker computes reaches the store only through the adding process, which writes it.

Workers are plain ``python -m retrieval.embed.worker`` processes talking over their stdin and stdout
(length-prefixed pickles), not ``multiprocessing``: nothing of the caller's ``__main__`` is imported again
(a script without a ``__main__`` guard would otherwise run once per worker). Each worker runs in a session
of its own: the terminal's Ctrl-C and hang-up reach only the adding process, which decides, and the
scheduler counts each worker as its own job (Linux's autogroup shares the CPU equally between sessions,
so workers left in the adding process's session would share that session's one share between them on a
busy machine, and the add would not get faster). A worker exits when its stdin closes: when the adding
process ends, however it ends (even SIGKILL), so a killed `citebot add` leaves no worker behind. A
worker that fails or dies has its texts embedded in the adding process instead, as without a pool.
"""
from __future__ import annotations

import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from concurrent.futures import CancelledError, Future
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np

from .base import Embedder

_HEADER = struct.Struct("<Q")
_LIBRARY_ROOT = str(Path(__file__).resolve().parents[2])  # where `retrieval` is imported from


def send(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("the other side closed the pipe")
    size = _HEADER.unpack(head)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe")
    return pickle.loads(data)


class EmbedPool:
    """``workers`` processes embedding passages with the model ``factory`` builds; ``local`` embeds in this
    process the texts of a worker that failed."""

    def __init__(self, factory: Callable[[], Embedder], workers: int, local: Callable[[list[str]], np.ndarray]) -> None:
        self.workers = workers
        self._local = local
        self._tasks: queue.Queue[tuple[list[str], Future] | None] = queue.Queue()
        self._closing = False
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([_LIBRARY_ROOT, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
        self._processes = [subprocess.Popen([sys.executable, "-m", "retrieval.embed.worker"], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, env=env, start_new_session=True)
                           for _ in range(workers)]
        for process in self._processes:  # where the factory's classes are imported from, then the factory
            try:
                send(process.stdin, list(sys.path))
                send(process.stdin, factory)
            except OSError:  # it died at once: its thread finds it gone and embeds here
                pass
        self._threads = [threading.Thread(target=self._serve, args=(p,), daemon=True, name=f"embed-worker-{i}")
                         for i, p in enumerate(self._processes)]
        for thread in self._threads:
            thread.start()

    def submit(self, texts: list[str]) -> "Future[np.ndarray]":
        """Start embedding ``texts`` (passages) in the next free worker; the future holds their vectors."""
        future: Future[np.ndarray] = Future()
        self._tasks.put((texts, future))
        return future

    def _serve(self, process: subprocess.Popen) -> None:
        """One thread per worker: hand it the next texts and wait for its vectors. Texts the model refused
        there are embedded here (the model's error, if it is one, reaches the caller); once the worker is
        gone, everything it would have had is embedded here."""
        gone = False
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
        for process in self._processes:
            for stream in (process.stdin, process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> "EmbedPool":
        return self

    def __exit__(self, kind: Any, *exc: Any) -> None:
        self.close(cancel=kind is not None)
