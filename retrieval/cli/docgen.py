"""Generated reference docs: the settings table (docs/settings.md) and the CLI reference (docs/cli.md).

Both are produced from the code (the setting declarations, the argparse parser) so they cannot drift;
``python -m retrieval.cli.docgen`` rewrites them in place and tests/test_docs.py fails when they are stale.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
SETTINGS_DOC = DOCS / "settings.md"
CLI_DOC = DOCS / "cli.md"


def settings_markdown() -> str:
    from ..settings import SETTINGS, markdown_table
    from . import extra_settings

    return markdown_table(SETTINGS + extra_settings()).strip()


def cli_markdown() -> str:
    """Each subcommand's ``--help`` as printed, at a fixed width so the text does not depend on the terminal."""
    from . import build_parser

    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        parser = build_parser()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parts = ["```", parser.format_help().strip(), "```"]
        for name, p in sub.choices.items():
            parts += ["", f"### `citebot {name}`", "", "```", p.format_help().strip(), "```"]
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved
    return "\n".join(parts)


def block(text: str, name: str) -> str | None:
    match = re.search(rf"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    return match.group(1) if match else None


def replace_block(text: str, name: str, content: str) -> str:
    return re.sub(rf"(<!-- {name}:start -->\n).*?(\n<!-- {name}:end -->)",
                  lambda m: m.group(1) + content + m.group(2), text, flags=re.S)


def main() -> int:
    for path, name, content in ((SETTINGS_DOC, "settings", settings_markdown()), (CLI_DOC, "cli", cli_markdown())):
        text = path.read_text(encoding="utf-8")
        if block(text, name) is None:
            print(f"{path} has no <!-- {name}:start/end --> markers", file=sys.stderr)
            return 1
        path.write_text(replace_block(text, name, content), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
