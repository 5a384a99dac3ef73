"""Every error the API returns has one shape, ``{"error": {"code", "message"}}``, and never a traceback.

The library's :class:`UserError` codes map to 4xx (an unknown id is 404, everything else a client can
fix is 400); anything unexpected is a 500 naming only the request id, with the traceback in the server's
log (written by the request guard, api/limits.py). Messages pass through :func:`scrub`, so a secret setting's value is never echoed back.
"""
from __future__ import annotations

from typing import Any, Iterable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from retrieval import CitebotError, SettingsError, UserError

from .context import request_id

NOT_FOUND_CODES = {"no_document", "no_key", "no_source", "no_watch"}
CONFLICT_CODES = {"source_exists", "watch_limit"}  # 409: the request is fine, the state is not (already followed)
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 408: "request_timeout", 413: "too_large", 415: "unsupported_media_type",
                422: "invalid_request", 429: "rate_limited", 503: "unavailable"}


class ApiError(Exception):
    """An error the API means to return: status, a stable code, one line for people, optional headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class Secrets:
    """The values of secret settings: replaced by *** in anything the API sends."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values = sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True)

    @classmethod
    def of(cls, settings: Any) -> "Secrets":
        found: list[str] = []
        for setting in settings.declared:
            if setting.secret:
                value = getattr(settings, setting.name)
                found.extend(value if isinstance(value, tuple) else [str(value or "")])
        return cls(found)

    def scrub(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, "***")
        return text


SECRETS = Secrets()


def body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": SECRETS.scrub(message), "request_id": request_id()}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body(code, message), status_code=status, headers=headers)


def from_user_error(exc: CitebotError | SettingsError) -> ApiError:
    code = getattr(exc, "code", "") or "bad_request"
    status = 404 if code in NOT_FOUND_CODES else 400  # by code, never by the message's words
    status = 409 if code in CONFLICT_CODES else status
    return ApiError(status, code, str(exc) or code)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        if err.get("type") == "json_invalid":
            return "the request body is not valid JSON"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    """Exception handlers for the error shape."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        _count(request, exc.code)
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(UserError)
    @app.exception_handler(CitebotError)
    @app.exception_handler(SettingsError)
    async def _user(request: Request, exc: Exception) -> JSONResponse:
        err = from_user_error(exc)  # type: ignore[arg-type]
        _count(request, err.code)
        return error_response(err.status, err.code, err.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message = _validation_message(exc)
        code = "invalid_json" if any(e.get("type") == "json_invalid" for e in exc.errors()[:5]) else "invalid_request"
        _count(request, code)
        return error_response(400 if code == "invalid_json" else 422, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
        _count(request, code)
        return error_response(exc.status_code, code, message, getattr(exc, "headers", None))



def internal_message() -> str:
    return f"internal error; the server log has the details under request id {request_id()}"


def _count(request: Request, code: str) -> None:
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.error(code)
