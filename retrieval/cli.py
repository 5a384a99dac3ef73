"""The `citebot` command line: one console script, one subcommand per job.

User errors (bad input, unknown ids, a busy index, a bad option, a full or closed stdout) print one line
to stderr and exit non-zero; a traceback means a bug. Names and titles from documents are printed with
control characters escaped, so a file name cannot move the cursor or split a line. Commands that do not
need the model (list, show, remove, stats, settings) never load it.
"""
from __future__ import annotations

import argparse
import codecs
import errno
import json
import os
import re
import sys
import textwrap
from typing import Any, Callable, NoReturn, Sequence

from .errors import CitebotError, UserError
from .search import MODES
from .settings import Setting, Settings, SettingsError, load_settings
from .types import AddResult, Answer, Hit

EXIT_USER_ERROR = 2
MAX_ID = 2**63 - 1  # SQLite's largest integer: a bigger "id" names no document
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: Any) -> str:
    """``text`` with control characters shown as escapes (\\x1b, \\n): a file name or title holding
    terminal escapes or a newline must neither reach the terminal raw nor split a line."""
    def escape(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _UNPRINTABLE.sub(escape, str(text))


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (`citebot: error: ...`), not a usage block."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see `{self.prog} --help`)")


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        text = raw.strip()
        if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 30:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number")
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: it must be between {low} and {high}")
        return value

    parse.__name__ = "number"
    return parse


def doc_ref(raw: str) -> int | str:
    """A DOC argument as an id (ASCII digits, within SQLite's range) or the path it was added from.

    Other digits ("¹", "١") and ids past 2**63 name no document; a path with bytes that are not UTF-8
    (lone surrogates from the shell) is looked up in the escaped form the store keeps."""
    text = raw.strip()
    if text.isascii() and text.isdigit():
        if len(text) > 19 or int(text) > MAX_ID:
            raise UserError(f"no document {printable(raw)!r} (see `citebot list` for ids)")
        return int(text)
    if text.isdigit() or text.isdecimal():
        raise UserError(f"no document {printable(raw)!r}: document ids are written with the digits 0-9")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return raw


def extra_settings() -> tuple[Setting, ...]:
    """Settings declared by the bot package, so `citebot settings` and the README list them too."""
    try:
        from bot.settings import BOT_SETTINGS
    except ImportError:
        return ()
    return tuple(BOT_SETTINGS)


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(extra=extra_settings())
    if getattr(args, "home", None):
        settings = settings.replace(home=args.home)
    return settings


def _corpus(args: argparse.Namespace):
    from .corpus import Corpus

    return Corpus.open(_settings(args))


# -- rendering ----------------------------------------------------------------------------------------
def format_source_line(c: Any) -> str:
    parts = [c.title or "(untitled)", c.date or "undated", c.source or "unknown source"]
    if getattr(c, "page", None):
        parts.append(f"p. {c.page}")
    return printable(" — ".join(parts))


def _wrap(text: str, width: int | None, indent: str = "") -> str:
    """Wrap for a terminal; when piped, keep each passage on one line so it can be grepped."""
    if not width:
        return indent + " ".join(text.split())
    return textwrap.indent(textwrap.fill(text, width - len(indent)), indent)


def _width() -> int | None:
    import shutil

    return min(shutil.get_terminal_size().columns, 100) if sys.stdout.isatty() else None


def _bold(answer: Answer, tty: bool) -> str:
    """The answer text with its answer spans in bold on a terminal; piped, the quotes stay verbatim."""
    text = answer.answer
    if not tty:
        return text
    for s, e in sorted(getattr(answer, "highlights", []) or [], reverse=True):
        text = text[:s] + "\x1b[1m" + text[s:e] + "\x1b[0m" + text[e:]
    return text


def format_answer(answer: Answer, width: int | None = None, quotes: bool = False) -> str:
    lines = [f"searched for: {answer.searched_for}", ""] if answer.searched_for else []
    if answer.mode == "generative":
        lines += format_generated(answer, width, quotes)
    else:
        lines.append(_wrap(_bold(answer, bool(width)), width))
    if answer.citations:
        lines.append("")
        lines.append("Sources:" if answer.answered else "Nearest passages (weak matches, they do not answer it):")
        for c in answer.citations:
            lines.append(f"[{c.n}] {format_source_line(c)}")
            if c.url:
                lines.append(f"    {printable(c.url)}")
            lines.append(_wrap(c.passage, width, "    "))
    return "\n".join(lines)


def format_generated(answer: Answer, width: int | None, quotes: bool) -> list[str]:
    """One verified generated sentence per line with its [n]; ``quotes`` adds the supporting quote."""
    lines = []
    for sentence in answer.sentences:
        marks = "".join(f"[{n}]" for n in sentence.citations)
        lines.append(_wrap(f"{sentence.text} {marks}", width))
        if quotes and sentence.quote:
            lines.append(_wrap(f"> \"{sentence.quote}\" (support {sentence.support:.2f})", width, "    "))
    note = "Written by the LLM; every sentence checked against the passage it cites"
    lines.append(f"({note}; {answer.dropped} unsupported sentence{'s' * (answer.dropped != 1)} dropped.)"
                 if answer.dropped else f"({note}.)")
    return lines


def format_hits(hits: list[Hit], width: int | None = None) -> str:
    if not hits:
        return "No matching passages."
    out = []
    for rank, h in enumerate(hits, 1):
        dense = "-" if h.dense is None else f"{h.dense:.3f}"
        lexical = "-" if h.lexical is None else f"{h.lexical:.2f}"
        out.append(f"{rank}. score {h.score:.3f} (dense {dense}, lexical {lexical})  doc {h.doc_id}  "
                   + printable(f"{h.title or '(untitled)'} — {h.date or 'undated'} — {h.source or 'unknown source'}"))
        out.append(_wrap(h.text, width, "    "))
    return "\n".join(out)


def _json(value: Any) -> str:
    """JSON for stdout: UTF-8 text when the terminal can show it, \\u escapes when it cannot
    (PYTHONIOENCODING=ascii); either way valid JSON."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        unicode_ok = codecs.lookup(encoding).name in ("utf-8", "utf-16", "utf-32", "gb18030")
    except LookupError:
        unicode_ok = False
    return json.dumps(value, ensure_ascii=not unicode_ok, indent=2, allow_nan=False)


def hit_json(h: Hit) -> dict[str, Any]:
    return {"passage_id": h.passage_id, "doc_id": h.doc_id, "score": round(h.score, 4),
            "dense": None if h.dense is None else round(h.dense, 4),
            "lexical": None if h.lexical is None else round(h.lexical, 4),
            "title": h.title, "date": h.date, "source": h.source, "url": h.url, "page": h.page, "passage": h.text}


# -- commands -----------------------------------------------------------------------------------------
def _document(corpus: Any, raw: str) -> Any:
    """The document a DOC argument names; the error quotes the argument as typed (escaped)."""
    ref = doc_ref(raw)
    try:
        return corpus.document(ref)
    except UserError as exc:
        if str(exc).startswith("no document"):
            raise UserError(f"no document {printable(raw)!r} (see `citebot list` for ids)") from None
        raise


def cmd_add(args: argparse.Namespace) -> int:
    corpus = _corpus(args)
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
            detail = f"{result.passages} passages" if result.status in ("added", "replaced") else result.message
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
    corpus = _corpus(args)
    if args.batch is not None:
        from .answer import batch

        with (sys.stdin if args.batch == "-" else _open_batch(args.batch)) as lines:
            done = batch.run(corpus, lines, sys.stdout, args.k, args.since, args.until, args.source)
        return 1 if done.errors else 0
    answer = corpus.ask(args.question, k=args.k, since=args.since, until=args.until, source=args.source)
    if args.json:
        detail = True if corpus.settings.llm_url else None  # mode, sentences, support: see docs/llm.md
        print(_json(answer.to_json(detail)))
    else:
        print(format_answer(answer, _width(), quotes=args.quotes))
    return 0


def _open_batch(path: str):
    try:
        return open(path, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None


def cmd_search(args: argparse.Namespace) -> int:
    corpus = _corpus(args)
    hits = corpus.search(args.query, k=args.k, since=args.since, until=args.until, source=args.source,
                         mode=args.mode)
    if args.json:
        print(_json([hit_json(h) for h in hits]))
    else:
        print(format_hits(hits, _width()))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    corpus = _corpus(args)
    docs = corpus.documents()
    if args.json:
        print(_json([d.__dict__ for d in docs]))
        return 0
    if not docs:
        print("The corpus is empty: add documents with `citebot add PATH`.")
    for d in docs:
        print(printable(f"{d.doc_id:>5}  {d.date or 'undated':<10}  {d.source or '-':<12.12}  {d.passages:>4} "
                        f"passages  {d.title or '(untitled)'}"))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    corpus = _corpus(args)
    info = _document(corpus, args.doc)
    if args.json:
        print(_json(info.__dict__ | {"text": corpus.document_text(info.doc_id)}))
        return 0
    for key in ("doc_id", "title", "date", "source", "url", "lang", "path", "passages", "added", "content_hash"):
        print(f"{key + ':':<14}{printable(getattr(info, key))}")
    print()
    print(corpus.document_text(info.doc_id))
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    corpus = _corpus(args)
    infos = {}  # every id checked before anything is removed; one named twice is removed once
    for ref in args.docs:
        info = _document(corpus, ref)
        infos.setdefault(info.doc_id, info)
    for info in infos.values():
        corpus.remove(info.doc_id)
        print(printable(f"removed doc {info.doc_id}  {info.title}"))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    corpus = _corpus(args)
    stats = corpus.stats()
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            print(f"{key + ':':<20}{value}")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    corpus = _corpus(args)
    result = corpus.reindex()
    print(f"embedded {result['embedded']} passages; dense index holds {result['indexed']} vectors")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    corpus = _corpus(args)
    report = corpus.verify(repair=args.repair)
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr)
    for action in report.repairs:
        print(f"repaired: {action}")
    print(f"{'ok' if report.ok else 'NOT OK'}: {report.summary}")
    return 0 if report.ok else 1


def cmd_chat(args: argparse.Namespace) -> int:
    from .conversation import Conversations

    corpus = _corpus(args)
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
            print(format_answer(answer, _width(), quotes=args.quotes))
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
        print()


def cmd_settings(args: argparse.Namespace) -> int:
    settings = _settings(args)
    rows = []
    for s in settings.declared:
        value = settings.values[s.name]
        if s.secret and value:
            value = "***"
        if isinstance(value, tuple):
            value = ",".join(value)
        rows.append((s.env, str(value), settings.sources[s.name]))
    if args.json:
        print(json.dumps([{"env": e, "value": v, "source": src} for e, v, src in rows], indent=2))
        return 0
    if args.markdown:
        from .settings import markdown_table

        print(markdown_table(settings.declared))
        return 0
    width = max(len(r[0]) for r in rows)
    for env, value, source in rows:
        print(f"{env:<{width}}  {value!s:<30}  ({source})")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from . import eval as eval_mod

    return eval_mod.run(args, _settings(args))


def cmd_migrate(args: argparse.Namespace) -> int:
    from .storage import migrate

    return migrate.run(args, _settings(args))


def cmd_bot(args: argparse.Namespace) -> int:
    try:
        from bot.app import run
    except ImportError as exc:
        raise UserError(f"the Telegram bot is not available: {exc}") from None
    return run(_settings(args)) or 0


# -- parser -------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="citebot", description="Answer questions over news articles with quoted, cited passages.")
    parser.add_argument("--home", help="index directory (default: $CITEBOT_HOME or ./.citebot)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, func: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    def filters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--since", help="only documents dated on or after YYYY-MM-DD")
        p.add_argument("--until", help="only documents dated on or before YYYY-MM-DD")
        p.add_argument("--source", help="only documents from this source (e.g. TASS)")

    p = command("add", cmd_add, "Add files, directories (recursively), URLs or - (stdin) to the corpus.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--title", help="title for every added document")
    p.add_argument("--date", help="publication date YYYY-MM-DD for every added document")
    p.add_argument("--source", help="source/publisher for every added document")
    p.add_argument("--url", help="url for every added document")
    p.add_argument("--force", action="store_true", help="add near-duplicates anyway")
    p.add_argument("--follow-links", action="store_true",
                   help="follow symbolic links that point outside an added directory (skipped and reported otherwise)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors and the summary")

    p = command("ask", cmd_ask, "Answer a question with quoted sentences and cited passages.")
    p.add_argument("question", nargs="?", help="the question (one starting with '-' goes after --: citebot ask -- '-x?')")
    p.add_argument("-k", type=_bounded(1, 50), default=None, help="passages to cite, 1-50 (default: CITEBOT_TOP_K)")
    filters(p)
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--quotes", action="store_true", help="show the quote supporting each generated sentence")
    p.add_argument("--batch", metavar="FILE", help="questions from FILE (- for stdin), one per line or JSON Lines "
                   "{question, since, until, source}; prints one --json object per line")

    p = command("search", cmd_search, "Ranked passages for a query, with scores.")
    p.add_argument("query", help="the query (one starting with '-' goes after --)")
    p.add_argument("-k", type=_bounded(1, 1000), default=10, help="number of passages, 1-1000 (default 10)")
    p.add_argument("--mode", choices=MODES, default="hybrid")
    filters(p)
    p.add_argument("--json", action="store_true", help="print the passages as JSON")

    p = command("list", cmd_list, "List the documents in the corpus.")
    p.add_argument("--json", action="store_true")
    p = command("show", cmd_show, "Show one document's metadata and text.")
    p.add_argument("doc", metavar="DOC", help="document id (or the path it was added from)")
    p.add_argument("--json", action="store_true")
    p = command("remove", cmd_remove, "Remove documents from the corpus.")
    p.add_argument("docs", nargs="+", metavar="DOC")
    p = command("stats", cmd_stats, "Counts of documents, passages and cached embeddings.")
    p.add_argument("--json", action="store_true")
    command("reindex", cmd_reindex, "Embed passages missing a vector for the current model; rebuild the dense index.")
    p = command("verify", cmd_verify, "Check that the store and the derived indexes agree.")
    p.add_argument("--repair", action="store_true", help="rebuild derived indexes from the store")
    p = command("chat", cmd_chat, "Read questions line by line from stdin and print cited answers; follow-up "
                "questions use the previous ones (/new forgets them).")
    p.add_argument("-k", type=_bounded(1, 50), default=None, help="passages to cite, 1-50")
    p.add_argument("--quotes", action="store_true", help="show the quote supporting each generated sentence")
    p = command("settings", cmd_settings, "Every setting, its value and where it came from.")
    p.add_argument("--json", action="store_true")
    p.add_argument("--markdown", action="store_true", help="print the docs' settings table (docs/settings.md)")
    p = command("eval", cmd_eval, "Measure retrieval quality on BEIR or SQuAD-format data.")
    try:
        from . import eval as eval_mod

        eval_mod.add_arguments(p)
    except ImportError:  # pragma: no cover
        pass
    p = command("migrate", cmd_migrate, "Copy the corpus to another store (a postgresql:// URL, or a SQLite index "
                "directory or sqlite:///path) without embedding anything again; rerun to resume.")
    from .storage import migrate as migrate_mod

    migrate_mod.add_arguments(p)
    command("bot", cmd_bot, "Run the Telegram bot (needs TELEGRAM_BOT_TOKEN).")
    return parser


def _hint(message: str, argv: Sequence[str]) -> str:
    """Point at `--` when a question or query that starts with "-" was read as an option."""
    if len(argv) > 0 and argv[0] in ("ask", "search") and "--" not in argv:
        dashed = [a for a in argv[1:] if a.startswith("-") and a not in ("-k", "--json", "--mode", "--since",
                                                                           "--until", "--source", "-h", "--help")]
        if dashed and ("unrecognized arguments" in message or "required" in message):
            return (f"{message}; a {'question' if argv[0] == 'ask' else 'query'} that starts with '-' goes after "
                    f"--: citebot {argv[0]} -- {dashed[0]!r}")
    return message


def _safe_streams() -> None:
    """Never fail on a character the terminal's encoding lacks (PYTHONIOENCODING=ascii): escape it."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass


class OutputError(CitebotError):
    """Writing to stdout failed (a full disk behind `> file`, /dev/full, a closed pipe)."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(cause.strerror or str(cause))
        self.cause = cause


class _GuardedStdout:
    """sys.stdout whose write errors are OutputError, so they are told apart from the index's own I/O."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputError(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputError(exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _output_failed(exc: OSError) -> int:
    """stdout is full or gone (`> /dev/full`, a closed pipe): one line, and no second error at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    if exc.errno == errno.EPIPE:
        return 0
    print(f"citebot: error: cannot write the output ({exc.strerror or exc})", file=sys.stderr)
    return EXIT_USER_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _safe_streams()
    argv = list(sys.argv[1:] if argv is None else argv)
    stdout = sys.stdout
    sys.stdout = _GuardedStdout(stdout)  # type: ignore[assignment]
    try:
        try:
            args = build_parser().parse_args(argv)  # Ctrl-C while building the parser: one line too
        except UserError as exc:
            raise UserError(_hint(str(exc), argv)) from None
        code = args.func(args)
        sys.stdout.flush()
        return code
    except OutputError as exc:
        sys.stdout = stdout
        return _output_failed(exc.cause)
    except (CitebotError, SettingsError) as exc:
        print(printable(f"citebot: error: {exc}"), file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("citebot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError as exc:
        sys.stdout = stdout
        return _output_failed(exc)
    finally:
        sys.stdout = stdout


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
