"""A followed channel's posts survive SIGKILLs of the bot while they are being indexed: after the
restarts every post is in the library exactly once, and `verify` passes.

The bot runs as a real process (``tests/bot/channel_crash_bot.py``: the real Application and journal
over a real corpus whose embedding is slowed); the fake Bot API, like Telegram, confirms an update only
at the next ``getUpdates``, and the bot's journal replays what it received but did not finish. The
replay of old questions is turned off here (CITEBOT_TELEGRAM_REPLAY_MAX_AGE=0): channel posts are
replayed whatever their age (before they were, this test lost posts).
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from retrieval import Corpus, load_settings, open_sources
from retrieval.ingest.telegram import post_path
from tests.bot.conftest import TOKEN
from tests.conftest import loops
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.bot_crash import wait_polling
from tests.fakes.hash_embedder import HashEmbedder
from tests.fakes.telegram_posts import as_bot_api, raw_posts

ROOT = Path(__file__).resolve().parents[2]
RIA = -1001101170442
DELAY = 0.6  # seconds the slowed embedder takes per post
ROUNDS = loops(2, 3)  # kills, two fresh posts each: 2 in `make test`, 3 under CITEBOT_TEST_FULL


def spawn(home: Path, api: FakeBotAPI) -> subprocess.Popen:
    env = dict(os.environ, CITEBOT_HOME=str(home), TELEGRAM_BOT_TOKEN=TOKEN, CITEBOT_TELEGRAM_API_URL=api.url,
               CITEBOT_TELEGRAM_STARTUP_RETRIES="5", CITEBOT_TELEGRAM_SYNC_SECONDS="0",
               CITEBOT_TELEGRAM_REPLAY_MAX_AGE="0", CRASH_BOT_DELAY=str(DELAY))
    return subprocess.Popen([sys.executable, "-m", "tests.bot.channel_crash_bot"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_sigkill_while_channel_posts_are_indexed_loses_and_doubles_nothing(tmp_path):
    home = tmp_path / "index"
    settings = load_settings(env={"CITEBOT_HOME": str(home)})
    with open_sources(settings) as sources:
        sources.add("@rian_ru")
    posts = raw_posts(limit=2 * ROUNDS, channel_file="1001101170442_messages.json", min_chars=300)
    rng = random.Random(7)
    published: list[int] = []
    with FakeBotAPI(TOKEN) as api:
        api.add_channel(RIA, "РИА Новости", "rian_ru")
        for round_ in range(ROUNDS):
            proc = spawn(home, api)
            try:
                wait_polling(api, proc, len(api.calls_to("getUpdates")), timeout=60)
                for post in posts[2 * round_:2 * round_ + 2]:
                    published.append(api.post_to_channel(RIA, *as_bot_api(post.markdown), date=post.date)["message_id"])
                time.sleep(rng.uniform(0.1, DELAY))  # while the first of them is being embedded
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        proc = spawn(home, api)
        try:
            wait_polling(api, proc, len(api.calls_to("getUpdates")), timeout=60)
            with Corpus(settings, embedder=HashEmbedder()) as corpus:
                api.wait_for(lambda: all(corpus.store.documents.find(path=post_path(m, chat_id=RIA)) for m in published),
                             timeout=60)
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    with Corpus(settings, embedder=HashEmbedder()) as corpus:
        docs = corpus.documents()
        assert sorted(d.url for d in docs) == sorted(f"https://t.me/rian_ru/{m}" for m in published)
        assert len(docs) == len(published) == 2 * ROUNDS  # each post once
        assert corpus.verify().ok
    with open_sources(settings) as sources:
        assert sources.list()[0].state.entries == 2 * ROUNDS
