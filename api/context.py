"""The current request's id, for log lines and error bodies (a context variable, so threads see it too),
and the log format that shows it."""
from __future__ import annotations

import contextvars
import logging
import re
import uuid

_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("citebot_request_id", default="-")
_GOOD_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id() -> str:
    return _REQUEST_ID.get()


def new_request_id(offered: str | None = None) -> str:
    """The client's X-Request-ID when it is a short plain token (a load balancer's), else a fresh one."""
    return offered if offered and _GOOD_ID.match(offered) else uuid.uuid4().hex[:16]


def set_request_id(value: str) -> contextvars.Token:
    return _REQUEST_ID.set(value)


def reset_request_id(token: contextvars.Token) -> None:
    _REQUEST_ID.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id()
        return True


def setup_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
