"""Load benchmark for the Telegram bot: simulated users asking through the fake Bot API server.

The real bot (``bot.app.serve``: PTB Application, rate limiter, handlers) serves the bundled corpus
(``corpus/``) through the strict fake Bot API server from ``tests/fakes/bot_api.py``. Each simulated
user asks its questions one after another (closed loop, like a person waiting for the answer);
all users ask at once. Questions are distinct (the bundled article's own questions plus XQuAD's
English and Russian questions from ../shared/data), so every query is really embedded.

Printed per run: replies delivered / lost (no reply within the timeout), messages the strict server
rejected, reply latency p50 / p95 / max (question sent -> final reply message received by the
server) and throughput, and the journal's window: from the server receiving a reply to the journal
marking its question done (a crash inside it sends the reply twice after the restart). ``--adding``
runs the same load while another Corpus on the same index (as ``citebot add`` in a second process
would) keeps adding Reuters stories; ``--faults 0.05`` makes the server answer 5% of sends with 429
(retry_after 1 s) or 502; ``--mark legacy`` marks questions done the old way (when the handlers
return, through the worker pool the searches use).

The ``kill`` variant is the crash loop of tests/bot/test_crash.py (tests/fakes/bot_crash.py) made long:
bursts of 10 questions from 5 users to the real bot process, SIGKILLed at a random moment while the
answers are being sent, restarted, ``--kill-rounds`` times for the old marking ("before") and the
current one ("after"); it prints lost answers and doubled replies per 1,000 questions.

    python -m bench.bot_load                 # 50 users x 20 questions, then the same while adding, then kill
    python -m bench.bot_load --users 10 --questions 5 --variants plain
    python -m bench.bot_load --variants kill --kill-rounds 20
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import DATA, ROOT

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TOKEN = "7000000001:BENCH-token-not-secret"

SEED_QUESTIONS = [
    "Why is the resumption of peace treaty talks with Japan impossible?",
    "Who is the Russian Deputy Foreign Minister quoted by TASS?",
    "When did the Soviet Union and Japan sign a joint declaration?",
    "What is the main stumbling block in the peace treaty talks?",
    "Which islands does Japan claim?",
    "How many packages of sanctions has Japan adopted?",
    "When did Moscow stop the peace treaty talks with Tokyo?",
    "What did Rudenko say about relations with Japan?",
    "What is the key condition for normalisation of relations with Japan?",
    "What kind of document were Russia and Japan negotiating?",
    "What happened to the Kuril Islands after World War II?",
    "Who is Japan increasing military activity with?",
    "What did the Russian foreign ministry say about sovereignty over the islands?",
    "Since when have Russia and Japan negotiated a peace treaty?",
    "What are the Habomai Islands?",
    "What did Japan do after the start of the special military operation?",
    "Is there any topic for a serious political discussion with Japan?",
    "What assistance is Japan giving to Kiev?",
    "What did the 1956 declaration end?",
    "Are Russia and Japan still negotiating?",
]


def question_pool(seed: int = 0) -> list[str]:
    """Distinct questions: the seed article's, then XQuAD English and Russian (if the data is there)."""
    questions = list(SEED_QUESTIONS)
    try:
        from retrieval.eval import load_squad

        extra: list[str] = []
        for lang in ("en", "ru"):
            path = DATA / "xquad" / f"xquad.{lang}.dev.json"
            if path.exists():
                extra.extend(q.text for q in load_squad(path, lang=lang).queries)
        random.Random(seed).shuffle(extra)
        questions.extend(extra)
    except Exception as exc:  # the benchmark still runs on the seed questions alone
        print(f"  (XQuAD questions not loaded: {exc})", file=sys.stderr)
    seen: set[str] = set()
    return [q for q in questions if not (q in seen or seen.add(q))]


def reuters_documents(limit: int) -> list[Any]:
    from retrieval import Document
    from retrieval.eval import load_reuters

    docs: list[Any] = []
    for path in sorted((DATA / "reuters21578").glob("reut2-*.sgm")):
        for d in load_reuters(path):
            docs.append(Document(text=d.text, title=d.title, date=d.date, source="Reuters", lang="en"))
            if len(docs) >= limit:
                return docs
    return docs


def run_load(api: Any, users: int, questions: list[list[str]], timeout: float) -> dict[str, Any]:
    """Every user asks its questions in turn; returns latencies and counts."""
    latencies: list[float] = []
    replies: list[tuple[int, int, float]] = []  # (chat, question message id, server received the reply)
    lost = 0
    lock = threading.Lock()

    def user(uid: int, asks: list[str]) -> None:
        nonlocal lost
        chat = 10_000 + uid
        done = 0
        for question in asks:
            started = time.monotonic()
            asked = api.send_text(chat, question, language_code="ru" if uid % 5 == 0 else "en")
            want = done + 1

            def finished() -> dict | None:
                final = [m for m in api.bot_messages(chat) if "reply_markup" in m or "Sorry" in m["text"]]
                return final[want - 1] if len(final) >= want else None

            try:
                message = api.wait_for(finished, timeout)
            except AssertionError:
                with lock:
                    lost += 1
                # count it as done so a late reply is not taken for the next question's
                done += 1
                continue
            done += 1
            with lock:
                latencies.append(message["sent_at"] - started)
                replies.append((chat, asked["message_id"], message["sent_wall"]))

    threads = [threading.Thread(target=user, args=(u, questions[u]), daemon=True) for u in range(users)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    return {"latencies": latencies, "lost": lost, "elapsed": elapsed, "replies": replies}


def journal_windows(api: Any, journal: Any, replies: list[tuple[int, int, float]]) -> list[float]:
    """Seconds from the server receiving each reply to the journal committing its question as done."""
    windows = []
    for chat, message_id, received in replies:
        update_id = api.update_of.get((chat, message_id))
        marked = journal.marked_at.get(update_id) if update_id is not None else None
        if marked is not None:
            windows.append(marked - received)
    return windows


def adder(corpus_home: Path, embedder: Any, docs: list[Any], stop: threading.Event, out: dict[str, int]) -> None:
    """Another Corpus on the same index adding documents one by one until told to stop."""
    from retrieval import Corpus, load_settings

    with Corpus.open(load_settings(env={}).replace(home=str(corpus_home)), embedder=embedder) as writer:
        for doc in docs:
            if stop.is_set():
                break
            result = writer.add_document(doc)
            if result.status == "added":
                out["documents"] += 1
                out["passages"] += result.passages
            else:
                out["skipped"] += 1
        out["ran_out"] = int(not stop.is_set())


def run_variant(name: str, args: argparse.Namespace, pool: list[str], offset: int) -> dict[str, Any]:
    from retrieval import Corpus, load_settings
    from bot.app import build_application
    from bot.settings import BOT_SETTINGS
    from tests.fakes.bot_api import FakeBotAPI, RunningBot

    with tempfile.TemporaryDirectory(prefix="citebot-botload-") as tmp:
        home = Path(tmp) / "index"
        corpus = Corpus.open(load_settings(env={}).replace(home=str(home)))
        corpus.add_paths([ROOT / "corpus"])
        corpus.ask("warm up the model")
        stats = corpus.stats()
        with FakeBotAPI(TOKEN) as api:
            env = {"CITEBOT_HOME": str(home), "TELEGRAM_BOT_TOKEN": TOKEN, "CITEBOT_TELEGRAM_API_URL": api.url,
                   "CITEBOT_TELEGRAM_RATE_LIMIT": "0"}
            settings = load_settings(env=env, extra=BOT_SETTINGS)
            app = build_application(settings, corpus)
            app.journal.eager = args.mark != "legacy"
            bot = RunningBot(app, settings).start()
            api.wait_for(lambda: api.calls_to("getUpdates"), timeout=30)

            asks = [[pool[(offset + u * args.questions + i) % len(pool)] for i in range(args.questions)]
                    for u in range(args.users)]
            stop_adding = threading.Event()
            added = {"documents": 0, "passages": 0, "skipped": 0, "ran_out": 0}
            writer = None
            if name == "adding":
                docs = reuters_documents(args.add_docs)
                writer = threading.Thread(target=adder, args=(home, corpus.embedder, docs, stop_adding, added),
                                          daemon=True)
                writer.start()
            api.fault_rate = args.faults
            result = run_load(api, args.users, asks, args.timeout)
            stop_adding.set()
            if writer:
                writer.join(120)
            time.sleep(1.0)  # the last marks are committed
            result["windows"] = journal_windows(api, app.journal, result["replies"])
            bot.stop()
            app.bot_data.storage.close()
            result.update(rejected=len(api.rejected), added=added, stats=stats,
                          sends=len(api.calls_to("sendMessage")), faults=args.faults)
        corpus.close()
    return result


def report(name: str, args: argparse.Namespace, r: dict[str, Any]) -> None:
    from retrieval.eval import percentile

    total = args.users * args.questions
    lat = r["latencies"]
    print(f"bot load [{name}]: {args.users} users x {args.questions} questions = {total}, corpus "
          f"{r['stats']['documents']} document(s) / {r['stats']['passages']} passages"
          + (f", {r['faults']:.0%} of sends answered 429/502" if r["faults"] else ""))
    print(f"  replies delivered {len(lat)} / {total}, lost {r['lost']}, rejected by the strict server {r['rejected']}")
    if lat:
        print(f"  reply latency p50 {percentile(lat, 50):.2f} s, p95 {percentile(lat, 95):.2f} s, "
              f"max {max(lat):.2f} s, mean {statistics.mean(lat):.2f} s; "
              f"{len(lat) / r['elapsed']:.1f} replies/s over {r['elapsed']:.1f} s")
    windows = r.get("windows") or []
    if windows:
        print(f"  journal window (server has the reply -> marked done, {args.mark} marking): "
              f"p50 {1000 * percentile(windows, 50):.1f} ms, p95 {1000 * percentile(windows, 95):.1f} ms, "
              f"max {1000 * max(windows):.1f} ms over {len(windows)} replies")
    if name == "adding":
        a = r["added"]
        print(f"  documents added concurrently: {a['documents']} ({a['passages']} passages), "
              f"{a['skipped']} skipped as duplicates or near-duplicates; "
              + ("the adder ran out of stories before the load ended" if a["ran_out"]
                 else "still adding when the load ended"))


def run_kill(args: argparse.Namespace) -> int:
    """The crash loop before (legacy marking) and after (marked at send, own writer): lost and doubled."""
    from tests.fakes.bot_crash import kill_loop

    failed = 0
    for label, mark in (("before", "legacy"), ("after", "eager")):
        if mark not in args.kill_marks.split(","):
            continue
        with tempfile.TemporaryDirectory(prefix="citebot-botkill-") as tmp:
            started = time.monotonic()
            r = kill_loop(Path(tmp) / "index", rounds=args.kill_rounds, seed=2026, mark=mark)
        print(f"bot kill during send [{label}: {mark} marking]: {r.questions} questions in bursts of 10 from 5 users, "
              f"{r.kills} SIGKILLs, lost {r.lost}, doubled {r.doubled} = {r.per_thousand():.1f} per 1,000 questions "
              f"({time.monotonic() - started:.0f} s)", flush=True)
        failed += r.lost + len(r.rejected)
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.bot_load", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--questions", type=int, default=20, help="questions per user")
    parser.add_argument("--variants", default="plain,adding,kill", help="comma list of: plain, adding, kill")
    parser.add_argument("--mark", choices=("eager", "legacy"), default="eager",
                        help="when the journal marks a question done: at send (eager) or the old way (legacy)")
    parser.add_argument("--kill-rounds", type=int, default=20, help="bursts (and SIGKILLs) per marking, kill variant")
    parser.add_argument("--kill-marks", default="legacy,eager", help="which markings the kill variant runs")
    parser.add_argument("--add-docs", type=int, default=3000, help="Reuters stories available to add (adding)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a reply counts as lost")
    parser.add_argument("--faults", type=float, default=0.0, metavar="SHARE",
                        help="answer this share of sends (0-1) with 429 retry_after=1 or 502")
    args = parser.parse_args(argv)

    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        import faiss
        import torch

        torch.set_num_threads(1)
        faiss.omp_set_num_threads(1)
    except ImportError:
        pass
    pool = question_pool()
    failed = 0
    for i, name in enumerate(v.strip() for v in args.variants.split(",") if v.strip()):
        if name not in {"plain", "adding", "kill"}:
            print(f"unknown variant {name!r}; choose plain, adding and/or kill", file=sys.stderr)
            return 2
        if name == "kill":
            failed += run_kill(args)
            continue
        result = run_variant(name, args, pool, offset=i * args.users * args.questions)
        report(name, args, result)
        failed += result["lost"] + result["rejected"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
