"""`citebot ask --as-of`, `ask --json`'s "time" object, the dated first line, and `citebot show` listing
a story's versions, run in-process with the hash embedder (the CLI's wiring, not the model, is tested)."""
from __future__ import annotations

import json

import pytest

import retrieval.corpus.core as core
from retrieval.cli import main
from tests.fakes.hash_embedder import HashEmbedder

OLD = """---
title: Texaco rejects Pennzoil bid
date: 1987-03-02
source: Reuters
url: https://example.test/texaco
---
Texaco said on Monday that its board rejected the takeover bid from Pennzoil. The company said the offer
of 80 dlrs a share undervalued its oil reserves and that talks would continue next week in Houston.
"""
NEW = OLD.replace("1987-03-02", "1987-03-09").replace("rejected the takeover bid", "accepted the takeover bid")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setattr(core, "make_embedder", lambda settings: HashEmbedder())
    monkeypatch.setenv("CITEBOT_HOME", str(tmp_path / "index"))
    (tmp_path / "old.md").write_text(OLD)
    (tmp_path / "new.md").write_text(NEW)
    assert main(["add", "-q", str(tmp_path / "old.md"), str(tmp_path / "new.md")]) == 0
    return tmp_path


def test_ask_json_reports_the_time_intent_and_as_of(home, capsys):
    capsys.readouterr()
    assert main(["ask", "What is the latest on the Texaco takeover bid?", "--json", "--as-of", "1987-05-01"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["time"]["intent"] == "recent" and data["time"]["today"] == "1987-05-01"
    assert data["time"]["headline"] == "As of 9 Mar 1987 (Reuters)"
    assert data["time"]["stale"] is True and "latest report I have" in data["time"]["note"]
    assert "accepted" in data["answer"]


def test_ask_prints_the_dated_first_line_and_the_period(home, capsys):
    capsys.readouterr()
    assert main(["ask", "What did Texaco's board say about the Pennzoil bid on March 2, 1987?"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "As of 2 Mar 1987 (Reuters):"
    assert "rejected" in out.split("Sources:")[0]


def test_bad_as_of_is_one_line(home, capsys):
    assert main(["ask", "What is the latest on Texaco?", "--as-of", "yesterday"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("citebot: error:") and "--as-of" in err and "\n" not in err


def test_show_lists_the_versions_of_a_story(home, capsys):
    capsys.readouterr()
    assert main(["show", "2"]) == 0
    out = capsys.readouterr().out
    assert "versions:" in out
    lines = [line for line in out.splitlines() if "superseded" in line or "latest" in line]
    assert "1987-03-02" in lines[0] and "superseded" in lines[0]
    assert "1987-03-09" in lines[1] and "latest" in lines[1] and "*" in lines[1]
    assert main(["show", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [v["superseded"] for v in data["versions"]] == [True, False]


def test_batch_lines_carry_as_of(home, capsys, tmp_path):
    lines = tmp_path / "q.jsonl"
    lines.write_text('{"question": "What is the latest on the Texaco takeover bid?", "as_of": "1987-03-10"}\n'
                     '{"question": "What is the latest on the Texaco takeover bid?", "as_of": "1987-13-01"}\n')
    capsys.readouterr()
    assert main(["ask", "--batch", str(lines)]) == 1  # the second line's date is invalid: reported, not fatal
    first, second = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert first["time"]["today"] == "1987-03-10" and not first["time"]["stale"]
    assert second["line"] == 2 and "as-of" in second["error"]
