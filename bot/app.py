"""Building and running the Telegram application: polling or webhook, retries, token-safe logs.

``run(settings)`` is what ``citebot bot`` calls. ``serve(app, ...)`` is the async core that tests run
against the fake Bot API server with a stop event.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any, Callable, Coroutine
from urllib.parse import quote, urlparse

from telegram import BotCommand, Update
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder
from telegram.request import BaseRequest, HTTPXRequest

from retrieval.answer.conversation import Conversations
from retrieval.errors import UserError

from bot.access import Access, RateLimiter
from bot.context import CONTEXT_TYPES, BotData, Conversing, Library
from bot.delivery import Journal, JournalingApplication, JournalingRequest, bot_id_of, replay_unfinished
from bot.handlers import COMMANDS, register
from bot.i18n import t
from bot.jobs import schedule
from bot.storage import BotStorage, open_bot_storage

log = logging.getLogger("bot")


# --- never log the token ---------------------------------------------------------------------------

_SECRETS: set[str] = set()
_factory_installed = False


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``<redacted>``."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "<redacted>")
    return text


def protect_secrets(*secrets: str) -> None:
    """Redact these strings from every log record created from now on, whatever logger or handler.

    Done in the record factory (not a handler filter) so that every handler, including pytest's
    caplog and PTB's/httpx's own loggers, only ever sees the redacted message and traceback. The
    token appears in every Bot API URL (httpx logs them) and in PTB's InvalidToken message.
    """
    global _factory_installed
    for secret in secrets:
        if secret and len(secret) >= 6:
            # file download URLs carry the token percent-encoded (":" -> "%3A")
            _SECRETS.update({secret, quote(secret, safe=""), quote(secret)})
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request, URL holds the token
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if not _SECRETS:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must still be logged, not raise here
            message = str(record.msg)
        if redact(message) != message:  # records without a secret are left exactly as they are
            record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if redact(text) != text:
                record.exc_text = redact(text)
                exc = record.exc_info[1]
                exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
                if isinstance(exc, TelegramError):
                    exc.message = redact(exc.message)
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


# --- sends survive 429, 5xx and timeouts -----------------------------------------------------------

STARTUP_ENDPOINTS = frozenset({"getMe", "deleteWebhook", "setWebhook", "setMyCommands"})
BEST_EFFORT = frozenset({"sendChatAction", "sendMessageDraft", "setMessageReaction"})


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter (honours 429 ``retry_after``, keeps under Telegram's flood limits) that also
    retries 5xx answers and timeouts with exponential backoff.

    Chat actions ("typing…"), drafts and the 👀 reaction bypass the limiter: they are best effort and
    must not delay replies.
    A retried send after a timeout can rarely deliver twice; losing a reply is worse.
    """

    def __init__(self, *args: Any, network_retries: int = 6, backoff: float = 0.5, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.network_retries = network_retries
        self.backoff = backoff

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]], args: Any,
                              kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                              rate_limit_args: int | None) -> Any:
        if endpoint in BEST_EFFORT:  # progress shown while answering (bot.progress): never queued or retried
            return await callback(*args, **kwargs)
        if endpoint in STARTUP_ENDPOINTS:  # retried by the start-up loop / bootstrap_retries instead
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        delay = self.backoff
        for attempt in range(self.network_retries + 1):
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            except BadRequest:
                raise
            except (TimedOut, NetworkError) as exc:
                if attempt == self.network_retries:
                    raise
                log.warning("Bot API %s failed (%s); retry %d/%d in %.1f s", endpoint, redact(str(exc)),
                            attempt + 1, self.network_retries, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        raise AssertionError("unreachable")


# --- building --------------------------------------------------------------------------------------

def api_urls(api_url: str) -> tuple[str, str]:
    """(base_url, base_file_url) for PTB from a Bot API server root such as ``http://127.0.0.1:8081``."""
    root = api_url.strip().rstrip("/")
    if root.endswith("/bot"):
        root = root[: -len("/bot")]
    return f"{root}/bot", f"{root}/file/bot"


def build_application(settings: Any, corpus: Library, *, request: BaseRequest | None = None,
                      get_updates_request: BaseRequest | None = None,
                      storage: BotStorage | None = None, conversations: Conversing | None = None,
                      network_retries: int = 6, backoff: float = 0.5, read_timeout: float = 20.0) -> Application:
    """The PTB Application with handlers, rate limiter, journal and shared state (not started)."""
    token = settings.telegram_token
    if not token:
        raise UserError("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and export its token")
    protect_secrets(token, settings.telegram_webhook_secret)
    storage = storage or open_bot_storage(settings)
    journal = Journal(storage, bot_id_of(token))
    builder: ApplicationBuilder = (
        Application.builder()
        .application_class(JournalingApplication)
        .context_types(CONTEXT_TYPES)
        .token(token)
        .concurrent_updates(True)
        .rate_limiter(RetryingRateLimiter(max_retries=5, network_retries=network_retries, backoff=backoff))
        .post_init(_post_init)
    )
    if settings.telegram_api_url:
        base_url, base_file_url = api_urls(settings.telegram_api_url)
        builder = builder.base_url(base_url).base_file_url(base_file_url)
    if request is not None:
        builder = builder.request(request)
        updates_request = get_updates_request or request
    else:
        builder = builder.connect_timeout(10).read_timeout(read_timeout).write_timeout(30).pool_timeout(10)
        updates_request = HTTPXRequest(connection_pool_size=1, connect_timeout=10, read_timeout=20)
    # every update is journaled as it arrives, before PTB can confirm it to Telegram (bot.delivery)
    builder = builder.get_updates_request(JournalingRequest(updates_request, journal))
    app = builder.build()
    app.journal = journal
    data: BotData = app.bot_data
    data.corpus = corpus
    data.access = Access.from_settings(settings)
    data.limiter = RateLimiter(settings.telegram_rate_limit)
    data.storage = storage
    data.conversations = conversations if conversations is not None else Conversations()
    data.max_upload_mb = settings.telegram_max_upload_mb
    data.settings = settings
    register(app)
    schedule(app, settings)  # followed sources synced, channels checked, watch pushes sent (bot.jobs)
    return app


async def _post_init(app: Application) -> None:
    """The command menu in English and Russian (failure to set it is logged, not fatal)."""
    for lang in ("en", "ru"):
        commands = [BotCommand(name, t(f"cmd_{name}", lang)) for name in COMMANDS]
        try:
            await app.bot.set_my_commands(commands, language_code=None if lang == "en" else lang)
        except TelegramError as exc:
            log.warning("could not set the command menu (%s): %s", lang, redact(str(exc)))


# --- running ---------------------------------------------------------------------------------------

class StartupError(UserError):
    """The Bot API could not be reached (or rejected the token) at start-up."""


async def initialize_with_retry(app: Application, retries: int, first_delay: float = 1.0,
                                max_delay: float = 60.0) -> None:
    """``app.initialize()`` (which calls getMe), retrying network errors with exponential backoff."""
    delay = first_delay
    attempt = 0
    while True:
        try:
            await app.initialize()
            return
        except InvalidToken:
            raise StartupError("Telegram rejected the bot token (TELEGRAM_BOT_TOKEN): check it with @BotFather") from None
        except BadRequest as exc:
            raise StartupError(f"Telegram Bot API refused to start: {redact(str(exc))}") from None
        except (NetworkError, TimedOut) as exc:
            attempt += 1
            if 0 <= retries < attempt:
                raise StartupError(
                    f"Telegram Bot API unreachable after {attempt} attempts: {redact(str(exc))}") from None
            log.warning("Telegram Bot API unreachable (%s); retrying in %.1f s (attempt %d%s)",
                        redact(str(exc)), delay, attempt, "" if retries < 0 else f" of {retries}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)


async def serve(app: Application, settings: Any, stop: asyncio.Event, *,
                first_delay: float = 1.0, poll_interval: float = 0.0, poll_timeout: int = 10) -> None:
    """Start (polling or webhook), serve until ``stop`` is set, then shut down cleanly."""
    await initialize_with_retry(app, settings.telegram_startup_retries, first_delay=first_delay)
    try:
        if app.post_init:
            await app.post_init(app)
        retries = settings.telegram_startup_retries
        if settings.telegram_webhook_url:
            url = settings.telegram_webhook_url
            await app.updater.start_webhook(
                listen=settings.telegram_webhook_listen,
                port=settings.telegram_webhook_port,
                url_path=urlparse(url).path.lstrip("/"),
                webhook_url=url,
                secret_token=settings.telegram_webhook_secret or None,
                allowed_updates=Update.ALL_TYPES,
                bootstrap_retries=retries,
            )
            log.info("serving by webhook on %s:%s", settings.telegram_webhook_listen, settings.telegram_webhook_port)
        else:
            await app.updater.start_polling(
                poll_interval=poll_interval, timeout=poll_timeout,
                allowed_updates=Update.ALL_TYPES, bootstrap_retries=retries,
            )
            log.info("serving by long polling as @%s", app.bot.username)
        await app.start()
        journal = getattr(app, "journal", None)
        if journal is not None:
            await replay_unfinished(app, journal,
                                    settings.telegram_replay_max_age, settings.telegram_apology_max_age)
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            if app.updater and app.updater.running:
                await app.updater.stop()
        with contextlib.suppress(Exception):
            if app.running:
                await app.stop()
        await app.shutdown()


def serve_until_signalled(app: Application, settings: Any, **serve_options: Any) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly and close the bot's storage."""
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await serve(app, settings, stop, **serve_options)

    try:
        asyncio.run(main())
    finally:
        app.bot_data.close()


def run(settings: Any) -> int:
    """Blocking entry point for ``citebot bot``: open the corpus, serve until SIGINT/SIGTERM."""
    if not settings.telegram_token:
        raise UserError("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and export its token")
    protect_secrets(settings.telegram_token, settings.telegram_webhook_secret)
    Access.from_settings(settings)  # a bad id list fails here, before the corpus is opened
    from retrieval import Corpus  # heavy import only when actually serving

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    corpus = Corpus.open(settings)
    app = build_application(settings, corpus)
    log.info("loading the embedding model so the first question is not slow")
    try:
        corpus.warm()
    except UserError as exc:
        log.warning("warm-up query failed: %s", exc)
    try:
        serve_until_signalled(app, settings)
    finally:
        corpus.close()
    return 0
