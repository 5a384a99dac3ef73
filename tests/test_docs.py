"""The docs document every setting and every command (datasette-style drift tests), and the README stays short."""
from __future__ import annotations

from retrieval.cli import docgen
from retrieval.cli import build_parser

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_settings_table_matches_the_declarations():
    table = docgen.block(docgen.SETTINGS_DOC.read_text(encoding="utf-8"), "settings")
    assert table is not None, "docs/settings.md has no settings table markers"
    assert table.strip() == docgen.settings_markdown(), "regenerate with `python -m retrieval.cli.docgen`"


def test_cli_reference_matches_the_parser():
    reference = docgen.block(docgen.CLI_DOC.read_text(encoding="utf-8"), "cli")
    assert reference is not None, "docs/cli.md has no cli reference markers"
    assert reference.strip() == docgen.cli_markdown(), "regenerate with `python -m retrieval.cli.docgen`"


def test_every_command_is_documented():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    cli_doc = docgen.CLI_DOC.read_text(encoding="utf-8")
    overview = cli_doc.split("## Reference")[0]
    for name in commands:
        assert f"`citebot {name}" in overview, f"docs/cli.md's table does not describe `citebot {name}`"


def test_readme_is_short_and_shows_the_two_commands():
    assert "make run" in README and "make test" in README
    assert len(README.encode("utf-8")) < 8 * 1024


def test_readme_links_resolve():
    import re

    for target in re.findall(r"\]\(((?:docs/)[^)#]+)", README):
        assert (ROOT / target).exists(), f"README links to missing {target}"
