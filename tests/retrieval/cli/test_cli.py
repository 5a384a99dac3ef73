"""The `citebot` command line as a user meets it: real files, exit codes, stdout and stderr.

The commands run in the test process (``main(argv)``, tests/runcli.py) with the hash embedder; the
console script itself, as a subprocess with the real model, is covered by test_smoke.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.runcli import Run, run

from ...conftest import ROOT, SEED_ARTICLE

TALKS = "Moscow was stopping peace treaty talks with Tokyo"


def citebot(home: Path, *args: str, stdin: str = "") -> Run:
    return run(home, *args, stdin=stdin)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("cli") / "index"
    result = citebot(home, "add", str(ROOT / "corpus"))
    assert result.returncode == 0, result.stderr
    assert "added" in result.stdout
    return home


def test_ask_json_cites_the_tass_passage(home):
    result = citebot(home, "ask", "why did talks stop?", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["answered"] is True
    first = data["citations"][0]
    assert first["n"] == 1 and TALKS in first["passage"]
    assert first["date"] == "2024-02-07" and first["source"] == "TASS"
    assert first["title"].startswith("The resumption of talks on the peace treaty")


def test_unanswerable_question_json(home):
    data = json.loads(citebot(home, "ask", "What is the capital of Peru?", "--json").stdout)
    assert data["answered"] is False


def test_chat_reads_questions_from_stdin(home):
    result = citebot(home, "chat", stdin="why did talks stop?\n\nWhat is the capital of Peru?\n")
    assert result.returncode == 0, result.stderr
    assert TALKS in result.stdout.split("Sources:")[0]  # quoted in the answer itself
    assert "[1] " in result.stdout
    assert "Nothing in the corpus answers this question." in result.stdout


def test_adding_again_reports_duplicates_and_changes_nothing(home):
    before = citebot(home, "stats", "--json").stdout
    result = citebot(home, "add", str(SEED_ARTICLE))
    assert result.returncode == 0
    assert "duplicate" in result.stdout
    assert json.loads(citebot(home, "stats", "--json").stdout) == json.loads(before)


@pytest.mark.parametrize("args, message", [
    (("ask", ""), "empty"),
    (("ask", "   "), "empty"),
    (("show", "999"), "no document"),
    (("remove", "1", "999"), "no document"),
    (("search", "talks", "--since", "last week"), "not a date"),
])
def test_user_errors_are_one_line_without_traceback(home, args, message):
    result = citebot(home, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # `remove 1 999` checks every id first: document 1 is still there
    assert "TASS" in citebot(home, "list").stdout


def test_missing_file_is_reported_and_the_rest_added(home, tmp_path):
    good = tmp_path / "note.md"
    good.write_text("---\ntitle: Harbour reopens\n---\nThe harbour of Valparaiso reopened on Monday after a storm.\n")
    result = citebot(home, "add", str(tmp_path / "missing.txt"), str(good))
    assert result.returncode == 1
    assert "missing.txt" in result.stderr
    assert "Harbour reopens" in citebot(home, "list").stdout


def test_settings_shows_where_values_come_from(home):
    result = citebot(home, "settings")
    assert "CITEBOT_HOME" in result.stdout and "(env CITEBOT_HOME)" in result.stdout
    assert "CITEBOT_TOP_K" in result.stdout and "(default)" in result.stdout


def test_settings_shows_the_user_tier_and_advanced_ones_only_when_asked_or_changed(home):
    plain = citebot(home, "settings").stdout
    assert "CITEBOT_EMBEDDER" in plain and "CITEBOT_LLM_URL" in plain
    assert "CITEBOT_LEXICAL_WEIGHT" not in plain and "citebot settings --all" in plain
    everything = citebot(home, "settings", "--all").stdout
    assert "CITEBOT_LEXICAL_WEIGHT" in everything and "CITEBOT_EMBEDDER" in everything
    assert everything.index("CITEBOT_EMBEDDER") < everything.index("CITEBOT_LEXICAL_WEIGHT")
    advanced = citebot(home, "settings", "--advanced").stdout
    assert "CITEBOT_LEXICAL_WEIGHT" in advanced and "CITEBOT_EMBEDDER" not in advanced
    changed = run(home, "settings", env={"CITEBOT_LEXICAL_WEIGHT": "0.3"}).stdout
    assert "CITEBOT_LEXICAL_WEIGHT" in changed and "(env CITEBOT_LEXICAL_WEIGHT, advanced)" in changed
    rows = json.loads(citebot(home, "settings", "--json").stdout)
    assert {r["tier"] for r in rows} == {"user", "advanced"}


def test_verify_passes_on_a_healthy_index(home):
    result = citebot(home, "verify")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_ask_batch_answers_each_line_and_reports_bad_lines(home, tmp_path):
    lines = [
        "why did talks stop?",
        json.dumps({"question": "What is the capital of Peru?"}),
        "{not json",
        json.dumps({"question": "why did talks stop?", "since": "2025-01-01"}),
        "",
        json.dumps({"question": "why did talks stop?", "until": "yesterday"}),
        json.dumps({"text": "no question field"}),
    ]
    batch = tmp_path / "questions.jsonl"
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = citebot(home, "ask", "--batch", str(batch))
    assert result.returncode == 1  # some lines failed; every other line was still answered
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 6  # the blank line is skipped, every other line gives one object
    assert out[0]["answered"] is True and TALKS in out[0]["citations"][0]["passage"]
    assert out[1]["answered"] is False
    assert out[2]["line"] == 3 and "not valid JSON" in out[2]["error"]
    assert out[3]["answered"] is False and out[3]["citations"] == []  # the article is dated 2024: filtered out
    assert out[4]["line"] == 6 and "not a date" in out[4]["error"]
    assert out[5]["line"] == 7 and "text" in out[5]["error"]


def test_ask_batch_reads_stdin_and_matches_single_ask(home):
    single = json.loads(citebot(home, "ask", "why did talks stop?", "--json").stdout)
    result = citebot(home, "ask", "--batch", "-", stdin="why did talks stop?\n")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [single]


def test_ask_needs_a_question_or_a_batch(home):
    result = citebot(home, "ask")
    assert result.returncode == 2 and "--batch" in result.stderr


def test_ask_marks_the_answer_span_bold_on_a_terminal_and_in_json(home):
    from retrieval.cli import format_answer
    from retrieval.types import Answer

    result = citebot(home, "ask", "How many packages of sanctions has Japan adopted?")
    assert result.returncode == 0, result.stderr
    assert "More than 20 packages of illegitimate sanctions" in result.stdout  # piped: verbatim, no markers
    data = json.loads(citebot(home, "ask", "How many packages of sanctions has Japan adopted?", "--json").stdout)
    first = data["citations"][0]
    assert [first["passage"][s:e] for s, e in first["bold"]] == ["20"]
    answer = Answer("q", True, "More than 20 packages. [1]", [], highlights=[(10, 12)])
    assert "More than \x1b[1m20\x1b[0m packages. [1]" in format_answer(answer, width=80)
    assert format_answer(answer, width=None) == "More than 20 packages. [1]"


def test_each_command_help_says_its_exit_status_and_add_lists_every_format(capsys):
    from retrieval.cli import main
    from retrieval.ingest import FORMATS

    with pytest.raises(SystemExit):
        main(["add", "--help"])
    add_help = capsys.readouterr().out
    assert all(suffix in add_help for f in FORMATS for suffix in f.suffixes)
    assert "1 some inputs could not be added" in add_help
    for command in ("ask", "search", "list", "verify", "migrate"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "exit status: 0" in capsys.readouterr().out, command


def test_the_cli_adds_its_advice_to_library_errors_by_code(home, tmp_path):
    """The library says what happened; the CLI says what to type (from the error code, not the text)."""
    from retrieval import Corpus, UserError, load_settings

    with Corpus.open(load_settings(env={}).replace(home=str(home))) as corpus:
        with pytest.raises(UserError) as missing:
            corpus.document(424242)
    assert missing.value.code == "no_document" and "citebot" not in str(missing.value)
    shown = citebot(home, "show", "424242")
    assert shown.returncode == 2
    assert shown.stderr.strip() == "citebot: error: no document '424242' (see `citebot list` for ids)"
    copy = tmp_path / "republished.md"
    body = SEED_ARTICLE.read_text(encoding="utf-8").split("/TASS/.", 1)[1]
    copy.write_text("---\ntitle: Republished\nsource: Other Agency\n---\n" + body + "\nUpdated.\n", encoding="utf-8")
    added = citebot(home, "add", str(copy))
    assert "near-duplicate" in added.stdout and "use --force to add it anyway" in added.stdout


def test_storage_errors_carry_a_code_and_the_cli_adds_what_to_type(home):
    """A missing source or document read from the store, and a damaged store: the library's message names
    no command (the bot and the API show it too), the CLI's one line still says what to do."""
    from retrieval import UserError, load_settings
    from retrieval.cli.advice import with_advice
    from retrieval.storage import StorageDamaged, open_storage

    store = open_storage(load_settings(env={}).replace(home=str(home)))
    try:
        with pytest.raises(UserError) as missing:
            store.documents.text(424242)
    finally:
        store.close()
    assert (missing.value.code, missing.value.params) == ("no_document", {"ref": "424242"})
    assert "citebot" not in str(missing.value)
    assert with_advice(missing.value) == "no document with id 424242 (see `citebot list` for ids)"
    damaged = StorageDamaged("the index store failed (database disk image is malformed)")
    assert damaged.code == "store_damaged"
    assert with_advice(damaged).endswith("(run `citebot verify` to check it)")
    removed = citebot(home, "sources", "remove", "999")
    assert removed.returncode == 2
    assert removed.stderr.strip() == "citebot: error: no source '999' (see `citebot sources list` for ids)"
    followed = citebot(home, "sources", "add", str(SEED_ARTICLE))
    assert followed.returncode == 2
    assert followed.stderr.strip().endswith("a followed folder must be a directory, not a file "
                                            "(use `citebot add` for one file)"), followed.stderr


def test_add_after_an_embedder_switch_points_at_reindex(tmp_path):
    from tests.fakes.hash_embedder import HashEmbedder

    home = tmp_path / "index"
    assert run(home, "add", str(SEED_ARTICLE), embedder=HashEmbedder("test-hash-old", dim=32)).returncode == 0
    story = tmp_path / "note.md"
    story.write_text("---\ntitle: Harbour reopens\n---\nThe harbour of Valparaiso reopened on Monday.\n")
    refused = run(home, "add", str(story))  # the default test embedder: another model
    assert refused.returncode == 2
    assert "citebot reindex" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert run(home, "reindex").returncode == 0
    assert run(home, "add", str(story)).returncode == 0
    assert "Harbour reopens" in run(home, "list").stdout
