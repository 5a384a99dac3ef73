"""Running the app on uvicorn: ``serve(settings, host, port, workers)`` as `citebot serve` does.

uvicorn closes idle keep-alive connections but waits forever for a request's headers; the protocol
here closes a connection whose headers are not complete within CITEBOT_API_HEADER_TIMEOUT (slowloris),
and the request guard limits the body's time and the requests held at once
(CITEBOT_API_MAX_REQUESTS, 429 beyond); uvicorn's own cap on open connections is only a backstop. With no API key configured, only loopback hosts are allowed.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from retrieval import UserError

from .context import setup_logging

HEADER_TIMEOUT_ENV = "CITEBOT_API_HEADER_TIMEOUT"
MAX_CONNECTIONS = 4096  # uvicorn's backstop (503 for every request while more are open); requests are capped lower


class GuardedH11Protocol(H11Protocol):
    """H11 with a deadline for each request's headers (from the connection, or the previous response)."""

    header_timeout = float(os.environ.get(HEADER_TIMEOUT_ENV) or 10.0)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _headers_too_slow(self) -> None:
        waiting = self.cycle is None or self.cycle.response_complete
        if waiting and not self.transport.is_closing():
            self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._cancel_header_deadline()
        if not self.transport.is_closing():
            self._arm_header_deadline()

    def _cancel_header_deadline(self) -> None:
        deadline = getattr(self, "_header_deadline", None)
        if deadline is not None:
            deadline.cancel()

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a new request's headers arrived
            self._cancel_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)


def is_loopback_host(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Any, host: str) -> None:
    """Refuse to listen beyond loopback while no API key exists (reads would be open to the network)."""
    if is_loopback_host(host) or settings.api_keys or settings.api_admin_keys:
        return
    from retrieval import open_keys

    keys = open_keys(settings)
    try:
        if keys.count_active():
            return
    finally:
        keys.close()
    raise UserError(f"no API key is configured, so the API may listen on loopback only (not {host}); create one "
                    f"with `citebot keys add NAME` or set CITEBOT_API_KEYS", code="no_keys")


def config(settings: Any, host: str, port: int, workers: int, app: Any = None, **extra: Any) -> uvicorn.Config:
    """The uvicorn configuration: ``app`` (an application object) or the per-worker factory."""
    GuardedH11Protocol.header_timeout = float(settings.api_header_timeout)
    return uvicorn.Config(
        app if app is not None else "api.app:app_from_env", factory=app is None, host=host, port=port,
        workers=workers if app is None else None, http=GuardedH11Protocol, ws="none", lifespan="on",
        limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=5, timeout_graceful_shutdown=10,
        h11_max_incomplete_event_size=16 * 1024, server_header=False, access_log=False, log_config=None,
        proxy_headers=True, **extra)


def serve(settings: Any, host: str = "127.0.0.1", port: int = 8080, workers: int = 1) -> int:
    """Blocking: serve until SIGINT/SIGTERM. Several workers share the port; each opens the corpus once."""
    check_exposure(settings, host)
    os.environ["CITEBOT_HOME"] = str(settings.home)
    os.environ[HEADER_TIMEOUT_ENV] = str(settings.api_header_timeout)
    setup_logging()
    if workers == 1:  # this process serves: the app gets the CLI's settings as they are
        from .app import create_app

        cfg = config(settings, host, port, 1, app=create_app(settings))
    else:  # each worker process builds its app from the environment (CITEBOT_HOME set above)
        cfg = config(settings, host, port, workers)
    server = uvicorn.Server(cfg)
    try:
        if workers > 1:
            from uvicorn.supervisors import Multiprocess

            Multiprocess(cfg, sockets=[cfg.bind_socket()]).run()
            return 0
        server.run()
    except KeyboardInterrupt:
        return 130
    if not server.started:
        raise UserError(f"the API could not start on {host}:{port} (see the log above)", code="serve_failed")
    return 0
