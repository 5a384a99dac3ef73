"""Bot-only fixtures: settings, the fake Bot API server, and the real bot running against it.

The bot runs in a background thread with its own event loop (exactly as ``citebot bot`` runs it,
through ``bot.app.serve``); the test thread plays the Telegram users through the fake server.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from retrieval import Corpus, load_settings
from bot.app import build_application
from bot.settings import BOT_SETTINGS
from tests.fakes.bot_api import FakeBotAPI, RunningBot
from tests.bot.recording import Harness, RecordingRequest
from tests.conftest import SEED_ARTICLE

# Shaped like a real token so a leak would be recognisable; tests assert it never shows up.
TOKEN = "7000000001:AAH-super-secret-token-value_XYZ123"
ADMIN = 1001
USER = 2002
STRANGER = 3003
GROUP = -100500


def bot_settings(home: Path, api_url: str = "", **overrides: Any):
    """Settings as ``citebot bot`` loads them, from an env dict (strings, like the real environment)."""
    env = {
        "CITEBOT_HOME": str(home),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "CITEBOT_TELEGRAM_API_URL": api_url,
        "CITEBOT_TELEGRAM_ADMINS": str(ADMIN),
        "CITEBOT_TELEGRAM_RATE_LIMIT": "0",
        "CITEBOT_TELEGRAM_STARTUP_RETRIES": "3",
    }
    env.update({k: str(v) for k, v in overrides.items()})
    return load_settings(env=env, extra=BOT_SETTINGS)


def _seed(tmp_path_factory, model) -> Path:
    home = tmp_path_factory.mktemp("seed") / "index"
    with Corpus.open(load_settings(env={}).replace(home=str(home)), embedder=model) as corpus:
        assert [r.status for r in corpus.add_paths([SEED_ARTICLE])] == ["added"]
    return home


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, embedder) -> Path:
    """An index holding the bundled TASS article, built once; tests get a copy."""
    return _seed(tmp_path_factory, embedder)


@pytest.fixture(scope="session")
def real_seed_index(tmp_path_factory, real_embedder) -> Path:
    """The same with the real model, for tests marked ``quality``."""
    return _seed(tmp_path_factory, real_embedder)


@pytest.fixture
def corpus(request, tmp_path, embedder):
    """A real Corpus over a private copy of the seed index (the bot's feedback file lands beside it); with
    the real model in a test marked ``quality`` (tests/conftest.py), else the hash embedder."""
    quality = request.node.get_closest_marker("quality") is not None
    model = request.getfixturevalue("real_embedder") if quality else embedder
    home = tmp_path / "index"
    shutil.copytree(request.getfixturevalue("real_seed_index" if quality else "seed_index"), home)
    opened = Corpus.open(load_settings(env={}).replace(home=str(home)), embedder=model)
    yield opened
    opened.close()


@pytest.fixture
def harness(tmp_path, corpus):
    """``harness(corpus=None, **env) -> Harness``: the app over a RecordingRequest (no server)."""
    made: list[Harness] = []

    def factory(use=None, **env: Any) -> Harness:
        request = RecordingRequest()
        settings = bot_settings(tmp_path / "index", **env)
        app = build_application(settings, use or corpus, request=request)
        made.append(Harness(app, request))
        return made[-1]

    yield factory
    for h in made:
        h.app.bot_data.storage.close()


@pytest.fixture
def fake_api():
    with FakeBotAPI(TOKEN) as api:
        yield api


@pytest.fixture
def start_bot(tmp_path, fake_api):
    """``start_bot(corpus, **env_overrides) -> RunningBot`` serving through ``fake_api``; stopped after."""
    running: list[RunningBot] = []

    def factory(corpus, api: FakeBotAPI | None = None, wait_polling: bool = True, api_url: str | None = None,
                read_timeout: float = 5.0, **overrides: Any) -> RunningBot:
        api = api or fake_api
        settings = bot_settings(tmp_path / "index", api_url or api.url, **overrides)
        app = build_application(settings, corpus, network_retries=3, backoff=0.1, read_timeout=read_timeout)
        bot = RunningBot(app, settings).start()
        running.append(bot)
        if wait_polling:
            api.wait_for(lambda: api.calls_to("getUpdates"), timeout=15)
        return bot

    yield factory
    for bot in running:
        bot.stop()
        bot.app.bot_data.storage.close()


@pytest.fixture
def quiet_logs(caplog):
    """Capture everything at DEBUG so token-leak assertions see every record."""
    caplog.set_level(logging.DEBUG)
    return caplog
