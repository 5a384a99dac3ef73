"""The `citebot` subcommands, one function each: arguments in, an exit code out.

Commands that do not need the model (list, show, remove, stats, settings) never load it: the corpus
loads its encoder on the first add or question.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import UserError
from ..settings import Setting, Settings, load_settings
from ..text.cleaning import escape_surrogates
from ..types import AddResult
from .advice import result_message, with_advice
from .output import (format_answer, format_hits, format_versions, hit_json, printable, terminal_width, to_json,
                     version_json)

MAX_ID = 2**63 - 1  # SQLite's largest integer: a bigger "id" names no document


def doc_ref(raw: str) -> int | str:
    """A DOC argument as an id (ASCII digits, within SQLite's range) or the path it was added from.

    Other digits ("¹", "١") and ids past 2**63 name no document; a path with bytes that are not UTF-8
    (lone surrogates from the shell) is looked up in the escaped form the store keeps."""
    text = raw.strip()
    if text.isascii() and text.isdigit():
        if len(text) > 19 or int(text) > MAX_ID:
            raise UserError(f"no document {printable(raw)!r}", code="no_document", ref=raw)
        return int(text)
    if text.isdigit() or text.isdecimal():
        raise UserError(f"no document {printable(raw)!r}: document ids are written with the digits 0-9",
                        code="no_document", ref=raw)
    return escape_surrogates(raw)


def extra_settings() -> tuple[Setting, ...]:
    """Settings declared by the installed apps (the bot, the API), so `citebot settings` and the docs list them."""
    from .registry import app_settings

    return app_settings()


def cli_settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(extra=extra_settings())
    if getattr(args, "home", None):
        settings = settings.replace(home=args.home)
    return settings


def open_corpus(args: argparse.Namespace):
    from ..corpus import Corpus

    return Corpus.open(cli_settings(args))


# -- commands -----------------------------------------------------------------------------------------
def _document(corpus: Any, raw: str) -> Any:
    """The document a DOC argument names; the error quotes the argument as typed (escaped)."""
    ref = doc_ref(raw)
    try:
        return corpus.document(ref)
    except UserError as exc:
        if exc.code == "no_document":  # quote the argument as typed, not the parsed id
            raise UserError(f"no document {printable(raw)!r}", code="no_document", ref=raw) from None
        raise


def cmd_add(args: argparse.Namespace) -> int:
    corpus = open_corpus(args)
    overrides = {"title": args.title, "date": args.date, "source": args.source, "url": args.url}
    counts: dict[str, int] = {}
    bar = None
    if sys.stderr.isatty() and not args.quiet:
        from tqdm import tqdm

        bar = tqdm(unit=" docs", file=sys.stderr, leave=False)

    def report(result: AddResult) -> None:
        counts[result.status] = counts.get(result.status, 0) + 1
        if bar is not None:
            bar.update(1)
        if result.status == "error":
            print(printable(f"error: {result.path}: {result.message}"), file=sys.stderr)
        elif not args.quiet:
            detail = (f"{result.passages} passages" if result.status in ("added", "replaced")
                      else result_message(result.message, result.reason))
            if result.status in ("added", "replaced") and result.message:  # e.g. text addressed to an AI model
                detail += f"; {result.message}"
            line = printable(f"{result.status:<15} doc {result.doc_id}  {result.title or result.path}  ({detail})")
            (bar.write(line) if bar is not None else print(line))

    corpus.add_paths(args.paths, overrides, progress=report, force=args.force, follow_links=args.follow_links)
    if bar is not None:
        bar.close()
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to add"
    print(f"{summary}; corpus has {corpus.store.counts().documents} documents", file=sys.stderr)
    return 1 if counts.get("error") else 0


def cmd_ask(args: argparse.Namespace) -> int:
    if (args.question is None) == (args.batch is None):
        raise UserError("give either a question or --batch FILE (- for stdin)")
    corpus = open_corpus(args)
    if args.batch is not None:
        from ..answer import batch

        with (sys.stdin.buffer if args.batch == "-" else _open_batch(args.batch)) as lines:
            done = batch.run(corpus, lines, sys.stdout, args.k, args.since, args.until, args.source, args.as_of)
        return 1 if done.errors else 0
    answer = corpus.ask(args.question, k=args.k, since=args.since, until=args.until, source=args.source,
                        as_of=args.as_of)
    if args.json:
        detail = True if corpus.settings.llm_url else None  # mode, sentences, support: see docs/llm.md
        print(to_json(answer.to_json(detail)))
    else:
        print(format_answer(answer, terminal_width(), quotes=args.quotes))
    return 0


def _open_batch(path: str):
    try:
        return open(path, "rb")  # split on \n only and capped per line by answer.batch.read_lines
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None


def cmd_search(args: argparse.Namespace) -> int:
    corpus = open_corpus(args)
    hits = corpus.search(args.query, k=args.k, since=args.since, until=args.until, source=args.source,
                         mode=args.mode)
    if args.json:
        print(to_json([hit_json(h) for h in hits]))
    else:
        print(format_hits(hits, terminal_width()))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    corpus = open_corpus(args)
    docs = corpus.documents()
    if args.json:
        print(to_json([d.__dict__ for d in docs]))
        return 0
    if not docs:
        print("The corpus is empty: add documents with `citebot add PATH`.")
    for d in docs:
        print(printable(f"{d.doc_id:>5}  {d.date or 'undated':<10}  {d.source or '-':<12.12}  {d.passages:>4} "
                        f"passages  {d.title or '(untitled)'}"))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    corpus = open_corpus(args)
    info = _document(corpus, args.doc)
    versions = corpus.versions.versions(info.doc_id)
    if args.json:
        print(to_json(info.__dict__ | {"text": corpus.document_text(info.doc_id),
                                       "versions": [version_json(v) for v in versions if len(versions) > 1]}))
        return 0
    for key in ("doc_id", "title", "date", "source", "url", "lang", "path", "passages", "added", "content_hash"):
        print(f"{key + ':':<14}{printable(getattr(info, key))}")
    if len(versions) > 1:
        print("versions:")
        print(format_versions(versions, info.doc_id))
    print()
    print(corpus.document_text(info.doc_id))
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    corpus = open_corpus(args)
    infos = {}  # every id checked before anything is removed; one named twice is removed once
    for ref in args.docs:
        info = _document(corpus, ref)
        infos.setdefault(info.doc_id, info)
    for info in infos.values():
        corpus.remove(info.doc_id)
        print(printable(f"removed doc {info.doc_id}  {info.title}"))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    corpus = open_corpus(args)
    stats = corpus.stats()
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            print(f"{key + ':':<20}{value}")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    corpus = open_corpus(args)
    result = corpus.reindex()
    print(f"embedded {result['embedded']} passages and {result['sentences']} answer sentences; "
          f"dense index holds {result['indexed']} vectors")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    corpus = open_corpus(args)
    report = corpus.verify(repair=args.repair)
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr)
    for action in report.repairs:
        print(f"repaired: {action}")
    print(f"{'ok' if report.ok else 'NOT OK'}: {report.summary}")
    return 0 if report.ok else 1


def cmd_chat(args: argparse.Namespace) -> int:
    from ..answer.conversation import Conversations

    corpus = open_corpus(args)
    conversation, key = Conversations(), "cli"  # follow-ups are rewritten using the previous turns
    interactive = sys.stdin.isatty()
    if interactive:
        print("Ask a question (/new starts a new conversation, Ctrl-D quits).")
    while True:
        if interactive:
            print("? ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            return 0
        if not line.strip():
            continue
        if line.strip() == "/new":
            conversation.forget(key)
            print("New conversation: earlier questions are forgotten.\n")
            continue
        try:
            answer = conversation.ask(corpus, key, line.strip(), k=args.k)
            print(format_answer(answer, terminal_width(), quotes=args.quotes))
        except UserError as exc:
            print(printable(f"error: {with_advice(exc)}"), file=sys.stderr)
        print()


def cmd_settings(args: argparse.Namespace) -> int:
    """The user tier (and advanced settings changed from their default); ``--all`` / ``--advanced`` the rest."""
    settings = cli_settings(args)
    if args.markdown:
        from ..settings import markdown_table

        print(markdown_table(settings.declared))
        return 0
    rows = []
    for s in settings.declared:
        value = getattr(settings, s.name)
        if s.secret and value:
            value = "***"
        if isinstance(value, tuple):
            value = ",".join(value)
        rows.append((s, str(value), settings.sources[s.name]))
    if args.json:  # programs get every setting, with its tier
        print(json.dumps([{"env": s.env, "value": v, "source": src, "tier": s.tier} for s, v, src in rows], indent=2))
        return 0
    if args.advanced:
        shown = [r for r in rows if r[0].advanced]
    elif args.all:
        shown = [r for r in rows if not r[0].advanced] + [r for r in rows if r[0].advanced]
    else:
        shown = [r for r in rows if not r[0].advanced or r[2] != "default"]
    width = max(len(r[0].env) for r in rows)
    for s, value, source in shown:
        print(f"{s.env:<{width}}  {value!s:<30}  ({source}{', advanced' if s.advanced else ''})")
    hidden = len(rows) - len(shown)
    if hidden and not args.advanced:
        print(f"\n{hidden} advanced settings at their defaults are not shown: `citebot settings --all`")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .. import eval as eval_mod

    return eval_mod.run(args, cli_settings(args))


def cmd_migrate(args: argparse.Namespace) -> int:
    from ..storage import migrate

    return migrate.run(args, cli_settings(args))

