"""Request dependencies: who the caller is (api/auth.py) and whether they are within their rate limit."""
from __future__ import annotations

from fastapi import Request

from .auth import Principal, presented_key
from .errors import ApiError


def caller(request: Request, need: str = "reader", key: str = "") -> Principal:
    """The caller's principal, counted against its rate limit; ApiError 401/403/429 otherwise."""
    state = request.app.state
    host = request.client.host if request.client else None
    principal = state.auth.identify(key or presented_key(request.headers), host, need)
    verdict = state.limiter.check(principal.ident)
    if not verdict.allowed:
        raise ApiError(429, "rate_limited", f"too many requests; try again in {verdict.retry_after} s",
                       {"Retry-After": str(verdict.retry_after)})
    return principal


def reader(request: Request) -> Principal:
    return caller(request, "reader")


def admin(request: Request) -> Principal:
    return caller(request, "admin")
