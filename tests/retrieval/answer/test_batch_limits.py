"""`ask --batch` under hostile input (issue 23): every bad line is one {"line", "error"} object and the
batch goes on; nothing grows without bound; line numbers count ``\\n`` only; NUL bytes and injected date
filters behave the same on SQLite and PostgreSQL."""
from __future__ import annotations

import io
import json

import pytest

from retrieval.answer import batch
from retrieval.errors import UserError
from tests.conftest import SEED_ARTICLE


def run(corpus, data: bytes) -> list[dict]:
    out = io.StringIO()
    batch.run(corpus, io.BytesIO(data), out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture(params=["sqlite", "postgresql"])
def corpus(request, make_corpus, tmp_path):
    overrides = {}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_url")
    corpus = make_corpus(home=tmp_path / request.param, **overrides)
    assert [r.status for r in corpus.add_paths([SEED_ARTICLE])] == ["added"]
    return corpus


@pytest.fixture
def sqlite_corpus(make_corpus, tmp_path):
    corpus = make_corpus(home=tmp_path / "index")
    corpus.add_paths([SEED_ARTICLE])
    return corpus


def test_deep_json_and_huge_numbers_are_error_objects(sqlite_corpus):
    lines = [
        b'{"question": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"question": "x", "a": ' + b'{"b": ' * 50_000,
        b'{"question": "peace treaty", "since": ' + b"9" * 100_000 + b"}",
        b'{"question": "peace treaty", "x": -' + b"1" * 5000 + b".5e3}",
        b'{"question": "peace treaty [[[{{{ 99999999999999999999999999999999999999"}',
    ]
    records = run(sqlite_corpus, b"\n".join(lines) + b"\n")
    assert [r.get("line") for r in records[:4]] == [1, 2, 3, 4]
    assert "nested more than 20 levels" in records[0]["error"]
    assert "nested more than 20 levels" in records[1]["error"]
    assert "a number with more than 30 digits" in records[2]["error"]
    assert "a number with more than 30 digits" in records[3]["error"]
    assert "error" not in records[4] and records[4]["question"].startswith("peace treaty")  # inside a string: text


def test_an_endless_line_is_capped_with_an_error_object(sqlite_corpus, monkeypatch):
    """`--batch /dev/zero` grew to 2.5 GB; now the line is refused and the input given up on."""
    with open("/dev/zero", "rb") as zero:
        out = io.StringIO()
        summary = batch.run(sqlite_corpus, zero, out)
    [record] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert record["line"] == 1 and "no end; the rest of the input is not read" in record["error"]
    assert summary.errors == 1


def test_an_over_long_line_is_one_error_and_the_next_line_is_answered(sqlite_corpus):
    data = b"peace " * 200_000 + b"\nWhat did Japan say about the peace treaty?\n"
    records = run(sqlite_corpus, data)
    assert records[0] == {"line": 1, "error": "the line is longer than the limit of 1,048,576 bytes"}
    assert records[1]["question"] == "What did Japan say about the peace treaty?"


def test_a_lone_carriage_return_does_not_shift_line_numbers(sqlite_corpus):
    data = b'first question\rstill line one\r\n{"question": 3}\n{bad json\n'
    records = run(sqlite_corpus, data)
    assert [r.get("line") for r in records] == [None, 2, 3]
    assert records[0]["question"] == "first question still line one"  # \r inside is not a line break


def test_the_cli_reads_dev_zero_and_stops(tmp_path):
    from tests.reliability.conftest import citebot

    result = citebot(tmp_path / "home", "ask", "--batch", "/dev/zero", timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["line"] == 1 and "the rest of the input is not read" in record["error"]


NUL_LINES = [
    "What did Japan\x00 say about the peace treaty?",
    json.dumps({"question": "peace treaty", "source": "TA\x00SS"}),
    json.dumps({"question": "peace treaty", "source": "\x00"}),
    json.dumps({"question": "peace treaty", "since": "2024-01-01\x00"}),
    json.dumps({"question": "\x00"}),
]


def _shape(record: dict) -> tuple:
    if "error" in record:
        return ("error", record["line"], record["error"])
    return ("answer", record["answered"], tuple(c["title"] for c in record["citations"]))


def test_nul_in_questions_and_filters_is_handled_the_same_on_both_engines(corpus):
    """psycopg raised DataError on a NUL and stopped the batch; SQLite answered."""
    records = run(corpus, "\n".join(NUL_LINES).encode() + b"\n")
    shapes = [_shape(r) for r in records]
    assert [s[0] for s in shapes] == ["answer", "answer", "answer", "error", "error"], shapes
    assert shapes[0][1] and shapes[1][2], shapes  # answered, and the source filter matched TASS
    assert shapes[3][2].startswith("--since: '2024-01-01\\x00' is not a date")
    assert shapes[4][2] == "the question is empty"


@pytest.mark.parametrize("since", ["2024-01-01' OR 1=1 --", "2024-01-01;", "2024-01-01 00:00 garbage", "2024-13-01"])
def test_an_injected_date_filter_is_refused_on_both_engines(corpus, since):
    with pytest.raises(UserError, match=r"--since: .* is not a date \(use YYYY-MM-DD\)"):
        corpus.ask("peace treaty", since=since)


def test_iso_timestamps_are_still_dates(sqlite_corpus):
    assert sqlite_corpus.ask("peace treaty", since="2024-01-01T00:00:00Z").citations
    assert sqlite_corpus.ask("peace treaty", until=" 2030-12-31 ").citations
