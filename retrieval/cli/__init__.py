"""The `citebot` command line: one console script, one subcommand per job (``commands``), printed
through ``output``.

User errors (bad input, unknown ids, a busy index, a bad option, a full or closed stdout) print one line
to stderr and exit non-zero; a traceback means a bug.
"""
from __future__ import annotations

import argparse
import os
import sys
import textwrap
from typing import Callable, NoReturn, Sequence

from ..errors import CitebotError, UserError
from ..search import MODES
from ..settings import SettingsError
from .commands import (cmd_add, cmd_ask, cmd_chat, cmd_eval, cmd_list, cmd_migrate, cmd_reindex,
                       cmd_remove, cmd_search, cmd_settings, cmd_show, cmd_stats, cmd_verify, cli_settings, doc_ref,
                       extra_settings)
from .advice import with_advice
from .registry import installed_apps
from .output import (EXIT_USER_ERROR, GuardedStdout, OutputError, format_answer, format_hits, output_failed,
                     printable, safe_streams)

__all__ = ["build_parser", "doc_ref", "extra_settings", "format_answer", "format_hits", "main", "printable"]


EXIT_CODES = ("exit status: 0 done; 2 a user error (bad input, an unknown id, a busy or damaged index), told in one "
              "line on stderr; 130 interrupted")
EXIT_CODES_ADD = ("exit status: 0 every input added, or already there; 1 some inputs could not be added (each "
                  "named on stderr, the rest were added); 2 a user error; 130 interrupted")
EXIT_CODES_ASK = ("exit status: 0 answered (also when the corpus holds no answer: the reply says so); 1 with "
                  "--batch, some lines had an error (their output line says which); 2 a user error; 130 interrupted")
EXIT_CODES_VERIFY = ("exit status: 0 the store and its indexes agree (after --repair: agree now); 1 problems were "
                     "found (listed on stderr); 2 a user error; 130 interrupted")


def _formats_help() -> str:
    """The formats `add` reads, from the one suffix / content-type table."""
    from ..ingest import FORMATS

    lines = [f"  {f.name:<9} {' '.join(f.suffixes)}" + (f"  ({f.note})" if f.note else "")
             for f in FORMATS]
    return "formats (by file suffix, or by content type for URLs):\n" + "\n".join(lines)


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


# -- parser -------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="citebot", description="Answer questions over news articles with quoted, cited passages.")
    parser.add_argument("--home", help="where citebot keeps its files, the SQLite index among them (default: "
                        "$CITEBOT_HOME or ./.citebot; with CITEBOT_DATABASE_URL the index is in that database)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, func: Callable[[argparse.Namespace], int], help: str,
                exit_codes: str = EXIT_CODES) -> argparse.ArgumentParser:
        epilog = "\n\n".join(part if part.startswith("formats") else textwrap.fill(part, 100, subsequent_indent="  ")
                             for part in exit_codes.split("\n\n"))
        p = sub.add_parser(name, help=help, description=help, epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        return p

    def filters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--since", help="only documents dated on or after YYYY-MM-DD")
        p.add_argument("--until", help="only documents dated on or before YYYY-MM-DD")
        p.add_argument("--source", help="only documents from this source (e.g. TASS)")

    p = command("add", cmd_add, "Add files, directories (recursively), URLs or - (stdin) to the corpus.",
                exit_codes=_formats_help() + "\n\n" + EXIT_CODES_ADD)
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--title", help="title for every added document")
    p.add_argument("--date", help="publication date YYYY-MM-DD for every added document")
    p.add_argument("--source", help="source/publisher for every added document")
    p.add_argument("--url", help="url for every added document")
    p.add_argument("--force", action="store_true", help="add near-duplicates anyway")
    p.add_argument("--follow-links", action="store_true",
                   help="follow symbolic links that point outside an added directory (skipped and reported otherwise)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors and the summary")

    p = command("ask", cmd_ask, "Answer a question with quoted sentences and cited passages.",
                exit_codes=EXIT_CODES_ASK)
    p.add_argument("question", nargs="?", help="the question (one starting with '-' goes after --: citebot ask -- '-x?')")
    p.add_argument("-k", type=_bounded(1, 50), default=None, help="passages to cite, 1-50 (default: CITEBOT_TOP_K)")
    filters(p)
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--quotes", action="store_true", help="show the quote supporting each generated sentence")
    p.add_argument("--as-of", metavar="DATE", help="\"today\" for the question's time words (latest, last year, "
                   "in March), YYYY-MM-DD (default: the newest document date)")
    p.add_argument("--batch", metavar="FILE", help="questions from FILE (- for stdin), one per line or JSON Lines "
                   "{question, since, until, source, as_of}; prints one --json object per line")

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
    command("reindex", cmd_reindex, "Embed passages and answer sentences missing a vector for the current model "
            "(after switching models); rebuild the dense index.")
    p = command("verify", cmd_verify, "Check that the store and the derived indexes agree.",
                exit_codes=EXIT_CODES_VERIFY)
    p.add_argument("--repair", action="store_true", help="rebuild derived indexes from the store")
    p = command("chat", cmd_chat, "Read questions line by line from stdin and print cited answers; follow-up "
                "questions use the previous ones (/new forgets them).")
    p.add_argument("-k", type=_bounded(1, 50), default=None, help="passages to cite, 1-50")
    p.add_argument("--quotes", action="store_true", help="show the quote supporting each generated sentence")
    p = command("settings", cmd_settings, "The settings you may need (home, database, embedder, LLM, Telegram, "
                "limits), each with its value and where it came from; advanced tuning knobs only when changed.")
    tiers = p.add_mutually_exclusive_group()
    tiers.add_argument("--all", action="store_true", help="every setting, the advanced ones last")
    tiers.add_argument("--advanced", action="store_true", help="only the advanced settings (tuning knobs)")
    p.add_argument("--json", action="store_true", help="every setting as JSON, with its tier")
    p.add_argument("--markdown", action="store_true", help="print the docs' settings tables (docs/settings.md)")
    p = command("eval", cmd_eval, "Measure retrieval quality on BEIR or SQuAD-format data.")
    try:
        from .. import eval as eval_mod

        eval_mod.add_arguments(p)
    except ImportError:  # pragma: no cover
        pass
    p = command("migrate", cmd_migrate, "Copy the corpus to another store (a postgresql:// URL, or a SQLite index "
                "directory or sqlite:///path) without embedding anything again; rerun to resume.")
    from ..storage import migrate as migrate_mod

    migrate_mod.add_arguments(p)
    from .sources import add_commands as add_source_commands

    add_source_commands(command)
    from .watch import add_commands as add_watch_commands

    add_watch_commands(command)
    for app in installed_apps().commands:  # the bot, the HTTP API, ...: see registry.py
        p = command(app.name, _with_settings(app.handler), app.help, exit_codes=app.exit_codes or EXIT_CODES)
        if app.configure is not None:
            app.configure(p)
    return parser


def _with_settings(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """An app command gets the loaded settings (with --home applied) as ``args.settings``."""
    def run(args: argparse.Namespace) -> int:
        args.settings = cli_settings(args)
        return handler(args) or 0

    return run


def _hint(message: str, argv: Sequence[str]) -> str:
    """Point at `--` when a question or query that starts with "-" was read as an option."""
    if len(argv) > 0 and argv[0] in ("ask", "search") and "--" not in argv:
        dashed = [a for a in argv[1:] if a.startswith("-") and a not in ("-k", "--json", "--mode", "--since",
                                                                           "--until", "--source", "-h", "--help")]
        if dashed and ("unrecognized arguments" in message or "required" in message):
            return (f"{message}; a {'question' if argv[0] == 'ask' else 'query'} that starts with '-' goes after "
                    f"--: citebot {argv[0]} -- {dashed[0]!r}")
    return message


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    safe_streams()
    argv = list(sys.argv[1:] if argv is None else argv)
    stdout = sys.stdout
    sys.stdout = GuardedStdout(stdout)  # type: ignore[assignment]
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
        return output_failed(exc.cause)
    except (CitebotError, SettingsError) as exc:
        print(printable(f"citebot: error: {with_advice(exc)}"), file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("citebot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError as exc:
        sys.stdout = stdout
        return output_failed(exc)
    finally:
        sys.stdout = stdout
