"""A deadline over every socket of one network call (a page fetch, an LLM request).

A per-read timeout never fires while a hostile server keeps dripping bytes, so a call could last as long
as the server likes. At the deadline every socket the call opened is shut down, which makes a blocked
read return at once; a socket opened after the deadline is refused. The URL loader and the LLM client
both build on this one class.
"""
from __future__ import annotations

import socket
import threading
import time
from typing import Any


class SocketDeadline:
    """``with SocketDeadline(seconds) as d:`` then ``d.track(sock)`` for each socket the call opens."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self.started = time.monotonic()
        self.ends = self.started + seconds
        self.sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "SocketDeadline":
        self._timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def remaining(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def track(self, sock: socket.socket) -> None:
        """Shut ``sock`` down at the deadline; past it, close the socket and raise TimeoutError."""
        with self._lock:
            if self.expired:
                sock.close()
                raise TimeoutError("deadline passed")
            self.sockets.append(sock)
