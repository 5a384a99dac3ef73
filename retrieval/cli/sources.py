"""`citebot sources add|list|remove` and `citebot sync`: following feeds, sitemaps and folders.

Kept apart from ``commands`` so the followed-sources commands live with one owner. `sync --once` syncs
every due source and exits; without it, `sync` loops until SIGINT or SIGTERM, finishing the source it
is on and leaving the sources not yet started (a kill -9 is safe too: see retrieval/sources/sync.py).
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from typing import Any, Callable

from .output import printable

EXIT_CODES_SOURCES = ("exit status: 0 done; 2 a user error (an unknown id, a source followed already, a bad "
                      "interval), told in one line on stderr")
EXIT_CODES_SYNC = ("exit status: 0 every synced source succeeded (or nothing was due); 1 some source failed (each "
                   "named on stderr, its error kept in `citebot sources list`); 2 a user error; 130 interrupted")
SOURCES_EPILOG = ("sources add URL|DIR|@channel [--every 30m] [--name NAME] [--prune]: follow a feed (RSS, Atom, "
                  "JSON Feed), a sitemap, a folder or a Telegram channel; it is due at once\n\n"
                  "sources list [--json]: every source with its state and last error\n\n"
                  "sources remove ID: stop following (its documents stay)\n\n" + EXIT_CODES_SOURCES)


def add_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Declare `sources` and `sync` with the CLI's ``command(name, func, help, exit_codes)`` helper."""
    p = command("sources", cmd_sources, "Follow feeds, sitemaps, folders and Telegram channels: add, list, remove.",
                exit_codes=SOURCES_EPILOG)
    sub = p.add_subparsers(dest="sources_command", metavar="ACTION", required=True)
    a = sub.add_parser("add", help="follow a feed or sitemap URL, a folder or a @channel")
    a.add_argument("location", metavar="URL|DIR|@channel")
    a.add_argument("--every", default=None, help="sync interval: 90s, 30m, 1h, 1d (default 30m)")
    a.add_argument("--name", default=None, help="a name for the source (default: from its address)")
    a.add_argument("--prune", action="store_true", help="folders: remove documents whose files disappeared")
    a.add_argument("--json", action="store_true", help="print the new source as JSON")
    listing = sub.add_parser("list", help="every source, its state and its last error")
    listing.add_argument("--json", action="store_true", help="print the sources as JSON")
    r = sub.add_parser("remove", help="stop following a source (its documents stay)")
    r.add_argument("id", metavar="ID")

    p = command("sync", cmd_sync, "Sync the followed sources that are due: new and changed entries are fetched and "
                "indexed. Loops until SIGINT/SIGTERM unless --once.", exit_codes=EXIT_CODES_SYNC)
    p.add_argument("--once", action="store_true", help="sync every due source once and exit")
    p.add_argument("--source", action="append", metavar="ID",
                   help="only this source (with --once: synced now even if not due); repeatable")
    p.add_argument("--json", action="store_true", help="print each round's report as one JSON line")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors")


def _open(args: argparse.Namespace) -> tuple[Any, Any]:
    from ..sources import open_sources
    from .commands import cli_settings

    settings = cli_settings(args)
    return settings, open_sources(settings)


def _ago(ts: float | None) -> str:
    if ts is None:
        return "never"
    delta = time.time() - ts
    if abs(delta) < 90:
        return f"{delta:.0f}s ago" if delta >= 0 else f"in {-delta:.0f}s"
    minutes = delta / 60
    if abs(minutes) < 90:
        return f"{minutes:.0f}m ago" if minutes >= 0 else f"in {-minutes:.0f}m"
    hours = minutes / 60
    return f"{hours:.1f}h ago" if hours >= 0 else f"in {-hours:.1f}h"


def _every(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def source_line(source: Any) -> str:
    """One line per source: id, kind, every, last success, next due, entries, name, last error."""
    state = source.state
    status = f"error x{state.failures}: {state.last_error}" if state.last_error else "ok"
    if state.last_attempt is None:
        status = "not synced yet"
    return printable(f"{source.id:>4}  {source.kind:<8} every {_every(source.every):<5} last ok {_ago(state.last_success):<10} "
                     f"next {_ago(state.next_due) if state.next_due > time.time() else 'due':<8} "
                     f"{state.entries:>5} entries  {source.name}  [{status}]")[:400]


def cmd_sources(args: argparse.Namespace) -> int:
    _, sources = _open(args)
    try:
        action = args.sources_command
        if action == "add":
            source = sources.add(args.location, every=args.every, name=args.name, prune=args.prune)
            if args.json:
                print(json.dumps(source.to_json(), ensure_ascii=False))
            else:
                print(printable(f"following source {source.id}: {source.kind} {source.location} every "
                                f"{_every(source.every)} (run `citebot sync` to fetch it)"))
        elif action == "list":
            rows = sources.list()
            if args.json:
                print(json.dumps([s.to_json() for s in rows], ensure_ascii=False, indent=2))
            elif not rows:
                print("no sources: add one with `citebot sources add URL|DIR|@channel`")
            else:
                for source in rows:
                    print(source_line(source))
        elif action == "remove":
            source = sources.remove(args.id)
            print(printable(f"stopped following source {source.id}: {source.name} (its documents stay)"))
        return 0
    finally:
        sources.close()


def _report_lines(report: Any, quiet: bool) -> int:
    failed = 0
    for r in report.results:
        if r.status == "error":
            failed += 1
            print(printable(f"source {r.source_id} ({r.name}): error: {r.error}"), file=sys.stderr)
            continue
        if r.status == "skipped":
            if not quiet:
                print(printable(f"source {r.source_id} ({r.name}): skipped: {r.error}"))
            continue
        for problem in r.errors:
            print(printable(f"source {r.source_id} ({r.name}): {problem}"), file=sys.stderr)
        if not quiet:
            print(printable(f"source {r.source_id} ({r.name}): {r.status}, {len(r.new_doc_ids)} new, "
                            f"{len(r.replaced_doc_ids)} replaced, {len(r.removed_doc_ids)} removed, "
                            f"{r.unchanged} unchanged, {r.fallbacks} from the feed's text ({r.seconds:.1f} s)"))
    sys.stdout.flush()
    return failed


def _report_json(report: Any) -> None:
    from dataclasses import asdict

    print(json.dumps({"results": [asdict(r) for r in report.results], "new_doc_ids": report.new_doc_ids,
                      "replaced_doc_ids": report.replaced_doc_ids}, ensure_ascii=False), flush=True)


def cmd_sync(args: argparse.Namespace) -> int:
    from ..corpus import Corpus
    from ..sources import run_forever, sync_sources
    from ..sources.sync import fetcher_for, options_for

    settings, sources = _open(args)
    corpus = Corpus.open(settings)
    fetcher, options = fetcher_for(settings), options_for(settings)
    only = [sources.require(i).id for i in args.source] if args.source else None

    def show(report: Any) -> int:
        if args.json:
            _report_json(report)
        failed = _report_lines(report, args.quiet or args.json)
        _check_watches(corpus, settings, report, args.quiet or args.json)
        return failed

    try:
        if args.once:
            report = sync_sources(corpus, sources, only=only, fetcher=fetcher, options=options)
            failed = show(report)
            if not report.results and not args.quiet:
                print("nothing was due", file=sys.stderr)
            return 1 if failed else 0
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            stop.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            if not args.quiet:
                print("syncing due sources until interrupted (Ctrl-C)", file=sys.stderr)
            run_forever(corpus, sources, stop, only=only, fetcher=fetcher, options=options, on_report=show)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        return 0
    finally:
        sources.close()
        corpus.close()


def _check_watches(corpus: Any, settings: Any, report: Any, quiet: bool) -> int:
    """After a sync that added or replaced documents, standing questions are asked again over those
    documents only; answers are queued for the bot to push (``retrieval.watch``)."""
    changed = list(report.new_doc_ids) + list(report.replaced_doc_ids)
    if not changed:
        return 0
    from ..watch import check_watches, open_watches

    with open_watches(settings) as watches:
        queued = check_watches(corpus, watches, changed)
    if queued and not quiet:
        print(f"{queued} new answer{'s' if queued != 1 else ''} queued for standing questions", flush=True)
    return queued

__all__ = ["add_commands", "cmd_sources", "cmd_sync", "source_line"]
