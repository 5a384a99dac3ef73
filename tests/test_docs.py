"""The README documents every setting and every command (datasette-style drift tests)."""
from __future__ import annotations

import re

from retrieval.cli import build_parser, extra_settings
from retrieval.settings import SETTINGS, markdown_table

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_settings_table_matches_the_declarations():
    match = re.search(r"<!-- settings:start -->\n(.*?)\n<!-- settings:end -->", README, re.S)
    assert match, "README has no settings table markers"
    expected = markdown_table(SETTINGS + extra_settings())
    assert match.group(1).strip() == expected.strip(), "regenerate with `citebot settings --markdown`"


def test_every_command_is_documented():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name in commands:
        assert f"`citebot {name}" in README, f"README does not document `citebot {name}`"


def test_readme_shows_the_two_commands():
    assert "make run" in README and "make test" in README
