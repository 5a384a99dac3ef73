"""Freshness of followed feeds: how long after an entry appears on a feed `citebot ask` cites it, and how
many entries per second a sync indexes, with the default embedding model.

Feeds are served by the local news site (tests/fakes/feed_server.py: Reuters-21578 stories as RSS with
article pages), one feed per loopback address 127.0.0.N, so each feed is its own host for the
politeness rules (one request at a time per host, CITEBOT_SYNC_HOST_DELAY between them).

* Freshness: 100 feeds followed with `--every 1m`; a real `citebot sync` process loops over them;
  50 new entries are published at random moments on random feeds; this process polls the corpus and
  asks each entry's question (its first sentence's opening words) until the answer cites the entry's
  URL. Reported: p50 / p95 / max seconds from publication to citation.
* Throughput: one `sync_sources` pass over 100 feeds holding 5 new entries each, in process, with
  article fetches (each entry's page fetched and extracted) and without (the entries' own text).

Usage: python -m bench.freshness [--feeds 100] [--entries 50] [--window 150] [--per-feed 5]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench.common import ROOT, exit_on_sigterm, log, publish
from bench.retrieval_speed import machine


def servers(stack: ExitStack, site, count: int) -> list:  # type: ignore[no-untyped-def]
    from tests.fakes.feed_server import FeedServer

    return [stack.enter_context(FeedServer(site, host=f"127.0.0.{i + 1}")) for i in range(count)]


def settings_for(home: Path):  # type: ignore[no-untyped-def]
    from retrieval import load_settings

    return load_settings(env={}).replace(home=str(home), allow_private_urls=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def freshness(args: argparse.Namespace, stories: list) -> dict:  # type: ignore[no-untyped-def]
    from retrieval import Corpus
    from retrieval.sources import open_sources
    from tests.fakes.feed_server import FeedSite

    rng = random.Random(18)
    home = Path(tempfile.mkdtemp(prefix="citebot-fresh-"))
    settings = settings_for(home)
    site = FeedSite()
    seed, fresh = stories[:args.feeds], stories[args.feeds:args.feeds + args.entries]
    for i, story in enumerate(seed):
        story.feed = i
    site.publish(*seed)
    with ExitStack() as stack:
        hosts = servers(stack, site, args.feeds)
        with open_sources(settings) as sources:
            for i, server in enumerate(hosts):
                sources.add(f"{server.url}/f/{i}.xml", every=args.every, name=f"feed {i}")
        env = dict(os.environ, CITEBOT_HOME=str(home), CITEBOT_ALLOW_PRIVATE_URLS="true", PYTHONPATH=str(ROOT))
        log(f"freshness: starting `citebot sync` over {args.feeds} feeds (every {args.every})")
        sync = subprocess.Popen([sys.executable, "-m", "retrieval.cli", "sync", "--quiet"], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            corpus = stack.enter_context(Corpus(settings))
            started = time.monotonic()
            with open_sources(settings) as sources:
                while any(s.state.last_success is None for s in sources.list()):
                    if sync.poll() is not None:
                        raise RuntimeError(f"citebot sync exited: {sync.stderr.read()[-500:]}")
                    time.sleep(1)
            first_round = time.monotonic() - started
            log(f"freshness: first sync of {args.feeds} feeds ({len(seed)} entries) took {first_round:.0f} s")
            corpus.ask("warm up the model")
            moments = sorted(rng.uniform(0, args.window) for _ in fresh)
            pending: dict[str, tuple[float, str, str]] = {}
            latencies: list[float] = []
            indexed_after: list[float] = []
            begin = time.monotonic()
            queue = list(zip(moments, fresh))
            while queue or pending:
                now = time.monotonic()
                while queue and queue[0][0] <= now - begin:
                    _, story = queue.pop(0)
                    story.feed = rng.randrange(args.feeds)
                    site.publish(story)
                    link = f"{hosts[story.feed].url}/articles/{story.slug}.html"
                    question = " ".join(story.body.split("\n\n")[0].split()[:15])
                    pending[link] = (time.monotonic(), question, "")
                for link, (published, question, seen) in list(pending.items()):
                    if not seen:
                        if corpus.store.find_document(path=link) is None:
                            continue
                        indexed_after.append(time.monotonic() - published)
                        pending[link] = (published, question, "indexed")
                    answer = corpus.ask(question)
                    if any(c.url == link for c in answer.citations):
                        latencies.append(time.monotonic() - published)
                        del pending[link]
                        log(f"freshness: {len(latencies)}/{len(fresh)} cited after {latencies[-1]:.1f} s")
                if time.monotonic() - begin > args.window + 600:
                    log(f"freshness: gave up on {len(pending)} entries never cited")
                    break
                time.sleep(0.5)
        finally:
            sync.terminate()
            sync.wait(timeout=120)
    return {"feeds": args.feeds, "entries": len(fresh), "interval": args.every, "window_s": args.window,
            "first_sync_s": round(first_round, 1), "never_cited": len(pending),
            "cited_p50_s": round(percentile(latencies, 0.5), 1), "cited_p95_s": round(percentile(latencies, 0.95), 1),
            "cited_max_s": round(max(latencies), 1) if latencies else None,
            "indexed_p50_s": round(percentile(indexed_after, 0.5), 1),
            "indexed_p95_s": round(percentile(indexed_after, 0.95), 1),
            "mean_s": round(statistics.mean(latencies), 1) if latencies else None}


def throughput(args: argparse.Namespace, stories: list, fetch_articles: bool) -> dict:  # type: ignore[no-untyped-def]
    from retrieval import Corpus
    from retrieval.ingest import IngestOptions
    from retrieval.sources import SyncOptions, open_sources, sync_sources
    from retrieval.sources.http import Fetcher, HostGate
    from tests.fakes.feed_server import FeedSite

    home = Path(tempfile.mkdtemp(prefix="citebot-thru-"))
    settings = settings_for(home)
    site = FeedSite()
    chosen = stories[:args.feeds * args.per_feed]
    for i, story in enumerate(chosen):
        story.feed = i % args.feeds
    site.publish(*chosen)
    with ExitStack() as stack:
        hosts = servers(stack, site, args.feeds)
        corpus = stack.enter_context(Corpus(settings))
        corpus.ask("warm up the model")
        sources = stack.enter_context(open_sources(settings))
        for i, server in enumerate(hosts):
            sources.add(f"{server.url}/f/{i}.xml", every="1m")
        delay = float(settings.values["sync_host_delay"]) if args.host_delay is None else args.host_delay
        fetcher = Fetcher(IngestOptions.from_settings(settings), HostGate(delay=delay))
        started = time.perf_counter()
        report = sync_sources(corpus, sources, fetcher=fetcher, options=SyncOptions(fetch_articles=fetch_articles))
        seconds = time.perf_counter() - started
    indexed = len(report.new_doc_ids)
    return {"fetch_articles": fetch_articles, "feeds": args.feeds, "entries": len(chosen), "indexed": indexed,
            "host_delay_s": delay,
            "errors": len(report.errors), "seconds": round(seconds, 1),
            "entries_per_s": round(len(chosen) / seconds, 2) if seconds else None}


def main(argv: list[str] | None = None) -> int:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench.freshness")
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--entries", type=int, default=50, help="new entries timed from publication to citation")
    parser.add_argument("--window", type=float, default=150.0, help="seconds over which they are published")
    parser.add_argument("--every", default="1m")
    parser.add_argument("--per-feed", type=int, default=5, help="entries per feed in the throughput pass")
    parser.add_argument("--host-delay", type=float, default=None,
                        help="seconds between requests to one host in the throughput pass (default: the setting, 1 s)")
    parser.add_argument("--articles-only", action="store_true", help="throughput: only the pass with article fetches")
    parser.add_argument("--skip-freshness", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.fakes.feed_server import reuters_stories

    facts = machine()
    needed = max(args.feeds + args.entries, args.feeds * args.per_feed)
    log(f"loading {needed} Reuters stories")
    stories = reuters_stories(needed, files=8)
    result: dict = {"machine": facts}
    if not args.skip_throughput:
        for fetch_articles in ((True,) if args.articles_only else (False, True)):
            log(f"throughput: {args.feeds} feeds x {args.per_feed} entries, article fetches {fetch_articles}")
            result[f"throughput_{'articles' if fetch_articles else 'feed_text'}"] = throughput(
                args, [s for s in reuters_stories(needed, files=8)], fetch_articles)
    if not args.skip_freshness:
        result["freshness"] = freshness(args, stories)
    rows = ["| measure | value |", "|---|---|"]
    if "freshness" in result:
        f = result["freshness"]
        rows += [f"| publication -> cited by ask, p50 / p95 / max ({f['entries']} entries, {f['feeds']} feeds, "
                 f"every {f['interval']}) | {f['cited_p50_s']} / {f['cited_p95_s']} / {f['cited_max_s']} s |",
                 f"| publication -> indexed, p50 / p95 | {f['indexed_p50_s']} / {f['indexed_p95_s']} s |",
                 f"| first sync of {f['feeds']} feeds | {f['first_sync_s']} s |",
                 f"| never cited | {f['never_cited']} |"]
    for key in ("throughput_feed_text", "throughput_articles"):
        if key in result:
            t = result[key]
            rows.append(f"| sync throughput, {'with' if t['fetch_articles'] else 'without'} article fetches "
                        f"({t['entries']} entries, {t['feeds']} feeds, host delay {t['host_delay_s']:g} s) | "
                        f"{t['entries_per_s']} entries/s "
                        f"({t['seconds']} s, {t['errors']} errors) |")
    rows.append(f"| machine | {facts['cpu']}, {facts['cores']} cores, {facts['ram_gb']} GB, Python {facts['python']}, "
                f"load {round(facts['load_avg_at_start'], 2)} at start |")
    publish("freshness", result, "\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
