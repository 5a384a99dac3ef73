"""Channel freshness: a followed channel's post to "answerable", and to a standing question's push.

The real bot (``bot.app.serve``) runs against the strict fake Bot API (``tests/fakes/bot_api.py``) with
the default embedding model; real posts of RIA Novosti (``../shared/data/tg_news_ru``) are published
one after another as ``channel_post`` updates with their entities. Printed: post -> indexed (its
document in the store, so `ask` can cite it) p50 / p95 / max over the posts, and post -> push delivered
for one post that answers a standing question (pushes are sent every CITEBOT_TELEGRAM_PUSH_SECONDS=1 s).

    python -m bench.channel_freshness                  # 40 posts, the default embedder
    python -m bench.channel_freshness --posts 10 --hash  # the tests' hash embedder (no model)
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from retrieval import Corpus, load_settings  # noqa: E402
from retrieval.ingest.telegram import post_path  # noqa: E402

RIA = -1001101170442
WATCHED_POST = 271601  # "cats are the most popular pets": answers the question below
QUESTION = "Какие питомцы самые популярные у россиян?"


def main(argv: list[str] | None = None) -> int:
    from bot.app import build_application
    from tests.bot.conftest import ADMIN, TOKEN, USER, bot_settings
    from tests.fakes.bot_api import FakeBotAPI, RunningBot
    from tests.fakes.hash_embedder import HashEmbedder
    from tests.fakes.telegram_posts import as_bot_api, raw_posts

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=40)
    parser.add_argument("--hash", action="store_true", help="the tests' hash embedder instead of the model")
    args = parser.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="citebot-channel-bench-")) / "index"
    corpus = Corpus(load_settings(env={}).replace(home=str(home)), embedder=HashEmbedder() if args.hash else None)
    corpus.search("warm up", k=1)  # the model is loaded before the clock starts, as `citebot bot` does
    posts = raw_posts(limit=max(args.posts, 41), channel_file="1001101170442_messages.json", min_chars=300)
    watched = next(p for p in posts if p.message_id == WATCHED_POST)
    chosen = [p for p in posts if p is not watched][: args.posts - 1] + [watched]
    latencies: list[float] = []
    push = None
    with FakeBotAPI(TOKEN) as api:
        api.add_channel(RIA, "РИА Новости", "rian_ru")
        settings = bot_settings(home, api.url, CITEBOT_TELEGRAM_SYNC_SECONDS="300", CITEBOT_TELEGRAM_PUSH_SECONDS="1",
                                CITEBOT_WATCH_PUSH_MINUTES="0")
        app = build_application(settings, corpus, network_retries=3, backoff=0.1, read_timeout=5)
        bot = RunningBot(app, settings).start()
        try:
            api.wait_for(lambda: api.calls_to("getUpdates"))
            api.send_text(ADMIN, "/follow @rian_ru")
            api.wait_messages(ADMIN, 1)
            api.send_text(USER, f"/watch {QUESTION}", language_code="ru")
            api.wait_messages(USER, 1)
            for post in chosen:
                text, entities = as_bot_api(post.markdown)
                started = time.monotonic()
                message = api.post_to_channel(RIA, text, entities, date=post.date)
                path = post_path(message["message_id"], chat_id=RIA)
                while corpus.store.documents.find(path=path) is None and time.monotonic() - started < 60:
                    time.sleep(0.005)
                latencies.append(time.monotonic() - started)
                if post is watched:
                    api.wait_messages(USER, 2, timeout=60)
                    push = time.monotonic() - started
        finally:
            bot.stop()
            app.bot_data.close()
            corpus.close()
    latencies.sort()
    p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]
    model = "hash embedder" if args.hash else "default embedder"
    print(f"{len(latencies)} channel posts, {model}: post -> indexed p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms; post -> watch push delivered "
          f"{push:.2f} s (pushes sent every 1 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
