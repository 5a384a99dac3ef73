"""The FastAPI application: ``create_app(settings)`` for one server process, ``app_from_env()`` for
uvicorn's workers (each opens the corpus once, at start-up, and warms the embedding model).

Middleware, outermost first: the request guard (request ids, body limits, access log), CORS only when
CITEBOT_API_CORS_ORIGINS names origins. Errors have one shape (api/errors.py).
"""
from __future__ import annotations

import contextlib
import logging
from typing import Any, AsyncIterator

from fastapi import FastAPI

from retrieval import Corpus, Keys, Sources, UserError, Watches, load_settings, open_keys, open_sources, open_watches

from . import errors
from .context import setup_logging
from .auth import Authenticator
from .chat import router as chat_router
from .limits import RateLimiter, RequestGuard
from .metrics import Metrics
from .page import router as page_router
from .routes import probes, v1
from .service import Service
from .sources import SourceDesk
from .sources import router as sources_router
from .watches import router as watches_router
from .settings import API_SETTINGS

log = logging.getLogger("citebot.api")

DESCRIPTION = """Answers questions over news articles with sentences quoted verbatim, each with its citation.

Send an API key as `Authorization: Bearer KEY` (or `X-API-Key`). Errors are `{"error": {"code", "message",
"request_id"}}`. See docs/api.md."""


def all_settings(env: Any = None) -> Any:
    """Retrieval's settings plus the API's (and the bot's, so `citebot settings` lists one table)."""
    return load_settings(env, extra=API_SETTINGS)


def concurrency(settings: Any, corpus: Corpus) -> int:
    """CITEBOT_API_CONCURRENCY, or by engine: SQLite serialises searches in one process, PostgreSQL does not."""
    if settings.api_concurrency:
        return int(settings.api_concurrency)
    return 4 if getattr(corpus.store, "engine", "") == "postgresql" else 1


def create_app(settings: Any = None, corpus: Corpus | None = None, embedder: Any = None,
               keys: Keys | None = None, warm_up: bool = True, sources: Sources | None = None,
               watches: Watches | None = None) -> FastAPI:
    """The application. ``corpus``/``keys``/``sources``/``watches`` given are used as they are (and not closed); otherwise they
    are opened at start-up from ``settings`` (``embedder`` overrides the configured model, for tests)."""
    settings = settings if settings is not None else all_settings()
    errors.SECRETS.values = errors.Secrets.of(settings).values

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_corpus, own_keys, own_sources, own_watches = corpus is None, keys is None, sources is None, watches is None
        opened = corpus if corpus is not None else Corpus.open(settings, embedder=embedder)
        store = keys if keys is not None else open_keys(settings)
        followed = sources if sources is not None else open_sources(settings)
        app.state.watches = watches if watches is not None else open_watches(settings)
        app.state.sources = SourceDesk(settings, followed, app.state.watches)
        app.state.service = Service(opened, concurrency(settings, opened), app.state.metrics)
        app.state.auth = Authenticator(settings, store)
        if warm_up:
            try:
                await app.state.service.run(opened.warm)
            except UserError as exc:
                log.warning("warm-up query failed: %s", exc)
        try:
            yield
        finally:
            if own_keys:
                store.close()
            if own_sources:
                followed.close()
            if own_watches:
                app.state.watches.close()
            if own_corpus:
                opened.close()

    app = FastAPI(title="citebot", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None)
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.limiter = RateLimiter(settings.api_rate_limit)
    errors.install(app)
    app.include_router(v1)
    app.include_router(sources_router)
    app.include_router(watches_router)
    app.include_router(chat_router)
    app.include_router(probes)
    app.include_router(page_router)
    if settings.api_cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.api_cors_origins),
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
                           expose_headers=["X-Request-ID", "Retry-After"], max_age=600)
    app.add_middleware(RequestGuard, max_bytes=settings.api_max_body_kb * 1024,
                       upload_bytes=settings.max_file_mb * 1024 * 1024 + 64 * 1024,
                       body_timeout=settings.api_body_timeout, max_requests=settings.api_max_requests)
    return app


def app_from_env() -> FastAPI:
    """uvicorn's factory in each worker process: settings from the environment (`citebot serve` sets
    CITEBOT_HOME from --home before starting the workers)."""
    setup_logging()
    return create_app(all_settings())
