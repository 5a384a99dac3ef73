"""Bad input, table by table: each case names the input and the clear error (one line, no traceback)
or the safe behaviour it must get, and checks that nothing already in the corpus is lost.

Tables: questions (library), files added (library, each next to a good file that must still be added),
the CLI (real subprocess, exit code and one stderr line), damaged or unusable index directories, and
document markup reaching the Telegram renderer (bot/render.py's public functions).
"""
from __future__ import annotations

import hashlib
import io
import os
import random
import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from retrieval import Corpus, load_settings
from retrieval.errors import UserError
from retrieval.types import Citation

from tests.runcli import run

from ..conftest import SEED_ARTICLE
from .conftest import article, citebot, dense_ids, read_store

TALKS = "Moscow was stopping peace treaty talks with Tokyo"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, embedder):
    """One corpus for the module (size limit 1 MB), holding the bundled TASS article."""
    home = tmp_path_factory.mktemp("bad-input") / "index"
    settings = load_settings(env={}).replace(home=str(home), max_file_mb=1)
    corpus = Corpus.open(settings, embedder=embedder)
    assert [r.status for r in corpus.add_paths([SEED_ARTICLE])] == ["added"]
    yield corpus
    corpus.close()


def one_line(message: str) -> bool:
    return bool(message.strip()) and "\n" not in message.strip() and "Traceback" not in message


# -- 1. questions --------------------------------------------------------------------------------------
@dataclass
class Q:
    question: object
    error: str | None = None  # substring of the UserError, or None: must answer without error
    mode: str = "ask"  # ask | lexical (search) | dense (search)
    found: bool = True  # a search must find the TASS article first (False: must find nothing)


QUESTIONS = {
    "empty": Q("", "the question is empty"),
    "whitespace": Q("  \n\t  ", "the question is empty"),
    "control characters only": Q("\x00\x07\x1b\x7f", "the question is empty"),
    "100,000 characters": Q("why?" * 25_000, "100,000 characters long; the limit is 2,000"),
    "not text": Q(None, "must be text"),
    "control characters inside": Q("why did\x00 talks\x1b[2J stop?", None),
    "html markup": Q("<script>alert(1)</script><b>why did talks stop?</b>", None, "markup"),
    "fts5 syntax": Q('talks" OR NEAR(peace, * ^ treaty:) AND -', None, "lexical"),
    "only a quote": Q('"', None, "lexical", found=False),
    "lone surrogate": Q("why did talks \ud800 stop?", None),
    "emoji and bidi override": Q("\U0001F600 \u202ewhy did talks stop?", None, "dense"),
}


@pytest.mark.parametrize("case", QUESTIONS.values(), ids=QUESTIONS.keys())
def test_question(corpus, case):
    before = corpus.store.counts()
    if case.error:
        with pytest.raises(UserError) as caught:
            (corpus.ask if case.mode == "ask" else corpus.search)(case.question)
        assert case.error in str(caught.value)
        assert one_line(str(caught.value))
    elif case.mode == "markup":  # safe: treated as words, nothing interpreted; the TASS article still leads
        answer = corpus.ask(case.question)
        assert answer.citations[0].doc_id == 1 and "<script>" not in answer.answer
    elif case.mode == "ask":
        answer = corpus.ask(case.question)
        assert answer.answered and TALKS in answer.answer  # the junk around the question is ignored
        assert "<script>" not in answer.answer
    else:
        hits = corpus.search(case.question, mode=case.mode)
        assert (hits[0].doc_id == 1) if case.found else hits == []
    assert corpus.store.counts().documents == before.documents


SEARCH_ARGS = {
    "k = 0": ({"k": 0}, "k must be at least 1"),
    "negative offset": ({"offset": -1}, "offset at least 0"),
    "unknown mode": ({"mode": "fuzzy"}, "unknown search mode 'fuzzy'"),
    "since is not a date": ({"since": "last week"}, "--since: 'last week' is not a date"),
    "until is an impossible date": ({"until": "2024-02-30"}, "--until: '2024-02-30' is not a date"),
}


@pytest.mark.parametrize("kwargs, error", SEARCH_ARGS.values(), ids=SEARCH_ARGS.keys())
def test_search_arguments(corpus, kwargs, error):
    with pytest.raises(UserError, match=error) as caught:
        corpus.search("talks", **kwargs)
    assert one_line(str(caught.value))


UNKNOWN_DOCS = {"unknown id": "999", "unknown path": "/no/such/file.txt", "empty reference": "",
                "sql in the reference": "1 OR 1=1"}


@pytest.mark.parametrize("ref", UNKNOWN_DOCS.values(), ids=UNKNOWN_DOCS.keys())
def test_unknown_document(corpus, ref):
    for call in (corpus.document, corpus.remove):
        with pytest.raises(UserError, match="no document") as caught:
            call(ref)
        assert one_line(str(caught.value))
    assert corpus.document(1).title  # the real document is untouched


# -- 2. files ------------------------------------------------------------------------------------------
def _pdf(encrypt: bool = False) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    if encrypt:
        writer.encrypt("secret")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _pdf_bomb() -> bytes:
    """A 100 KB PDF whose one content stream inflates to 100 MB (pypdf stops at 75 MB)."""
    import zlib

    stream = zlib.compress(b"BT /F1 12 Tf 72 712 Td (Hello) Tj ET\n" + b" " * 100_000_000, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _html_only_scripts() -> bytes:
    return b"<html><head><script>alert('x')</script></head><body><script>document.write(1)</script></body></html>"


@dataclass
class F:
    name: str
    content: bytes | Callable[[], bytes] | None  # None: do not create the file
    error: str  # substring of the error message


FILES = {
    "non-UTF-8 text": F("legacy.txt", b"Report \x98\x81 on the \xff\xfe budget vote.\n", "not UTF-8 text"),
    "binary named .txt": F("image.txt", bytes(range(256)) * 4, "binary file (contains NUL bytes)"),
    "empty file": F("empty.txt", b"", "file is empty"),
    "whitespace only": F("blank.md", b" \n\n\t \n", "file is empty"),
    "front matter only": F("meta.md", b"---\ntitle: Nothing here\n---\n", "empty (no text after the metadata)"),
    "zero-byte PDF": F("zero.pdf", b"", "file is empty"),
    "corrupt PDF": F("corrupt.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage\n%%EOF", "corrupt or unreadable PDF"),
    "truncated PDF": F("truncated.pdf", lambda: _pdf()[:300], "corrupt or unreadable PDF"),
    "text named .pdf": F("fake.pdf", b"just some text, not a PDF at all", "not a PDF file"),
    "encrypted PDF": F("locked.pdf", lambda: _pdf(encrypt=True), "encrypted PDF (password protected)"),
    "PDF compression bomb": F("bomb.pdf", _pdf_bomb, "expands past the decompression limit"),
    "corrupt DOCX": F("broken.docx", b"PK\x03\x04 not really a zip", "not a readable DOCX file"),
    "HTML with only scripts": F("script.html", _html_only_scripts, "no article text found"),
    "over the size limit": F("huge.txt", lambda: b"The budget grew again. " * 50_000, "over the size limit"),
    "unsupported extension": F("program.exe", b"MZ\x90\x00", "unsupported file type .exe"),
    "no extension": F("README", b"Plain words without a suffix.", "unsupported file type (no suffix)"),
    "invalid date in front matter": F("baddate.md", b"---\ntitle: T\ndate: 2024-02-30\n---\nThe budget passed.\n",
                                      "invalid date"),
    "words as a front-matter date": F("worddate.md", b"---\ndate: last Tuesday\n---\nThe budget passed.\n",
                                      "invalid date 'last Tuesday' in front matter"),
    "invalid YAML front matter": F("yaml.md", b"---\ntitle: [unclosed\n---\nThe budget passed.\n",
                                   "invalid YAML front matter"),
    "front matter that is a list": F("list.md", b"---\n- a\n- b\n---\nThe budget passed.\n",
                                     "front matter must be key: value pairs"),
    "invalid leading date line": F("dateline.txt", b"date 2024-13-45\nThe budget passed on Monday.\n",
                                   "invalid date '2024-13-45'"),
    "missing file": F("missing.txt", None, "no such file or directory"),
    "CSV without a text column": F("table.csv", b"title,body\nA,b\n", "needs a header row with a 'text' column"),
    "JSON Lines, all lines bad": F("bad.jsonl", b"{not json\n[1, 2]\n", "not valid JSON"),
    "JSON nested 100,000 deep": F("deep.jsonl", b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
                                  "not valid JSON (nested too deeply)"),
}


@pytest.mark.parametrize("case", FILES.values(), ids=FILES.keys())
def test_bad_file_is_reported_and_the_good_one_still_added(corpus, tmp_path, case):
    bad = tmp_path / case.name
    if case.content is not None:
        bad.write_bytes(case.content() if callable(case.content) else case.content)
    good = tmp_path / "good.txt"
    good.write_text(f"---\ntitle: Good file next to {case.name}\n---\n"
                    + article(random.Random(case.name), case.name.replace(".", "")), encoding="utf-8")
    before = len(corpus.documents())
    results = corpus.add_paths([bad, good])
    errors = [r for r in results if r.status == "error"]
    assert [r.status for r in results if r.status != "error"] == ["added"], results
    assert errors, results
    for error in errors:
        assert error.path.startswith(str(bad)), error
        assert one_line(error.message)
    assert case.error in errors[0].message, errors[0].message
    assert len(corpus.documents()) == before + 1  # nothing lost, nothing half-added


def test_symlink_loop_directory_is_walked_once(corpus, tmp_path):
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    (root / "sub" / "self").symlink_to(root / "sub", target_is_directory=True)
    (root / "sub" / "story.txt").write_text("---\ntitle: Inside a loop\n---\n" + article(random.Random(7), "loopy"))
    (root / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    (root / "notes.exe").write_bytes(b"MZ")  # unsupported files inside a directory are skipped quietly
    results = corpus.add_paths([root])
    assert [r.status for r in results] == ["added"], results
    assert results[0].title == "Inside a loop"


def test_broken_symlink_named_explicitly(corpus, tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "nowhere.txt")
    (result,) = corpus.add_paths([link])
    assert result.status == "error" and result.message.endswith("broken symbolic link")


def test_jsonl_bad_line_keeps_the_good_lines(corpus, tmp_path):
    path = tmp_path / "mixed.jsonl"
    good = article(random.Random(3), "jsonlgood")
    path.write_text(f'{{"title": "Bulk good", "text": "{good}"}}\n{{broken\n{{"text": ""}}\n')
    results = corpus.add_paths([path])
    assert sorted(r.status for r in results) == ["added", "error", "error"]
    errors = [f"{r.path}: {r.message}" for r in results if r.status == "error"]
    assert all(one_line(e) and e.startswith(str(path)) for e in errors), errors
    assert "line 2" in errors[0] and "not valid JSON" in errors[0]
    assert "line 3" in errors[1] and "missing or empty 'text'" in errors[1]


def test_legacy_cp1251_russian_text_is_decoded_not_rejected(corpus, tmp_path):
    path = tmp_path / "russian.txt"
    text = ("Заголовок новости\n\nМинистерство финансов сообщило в понедельник, что бюджет региона вырос. "
            "Эксперты отметили, что рост связан с налогами. Депутаты обсудят документ на следующей неделе.\n")
    path.write_bytes(text.encode("cp1251"))
    (result,) = corpus.add_paths([path])
    assert result.status == "added" and result.title == "Заголовок новости"
    assert "бюджет региона вырос" in corpus.document_text(result.doc_id)


def test_yaml_tags_in_front_matter_are_never_executed(corpus, tmp_path):
    """Front matter is parsed with safe_load: a python tag is refused, not run."""
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.md"
    path.write_text(f"---\ntitle: !!python/object/apply:os.system ['touch {marker}']\n---\nThe budget passed.\n")
    (result,) = corpus.add_paths([path])
    assert result.status == "error" and "invalid YAML front matter" in result.message
    assert not marker.exists()


def test_terminal_escapes_in_a_document_never_reach_the_terminal(corpus, tmp_path):
    path = tmp_path / "ansi.txt"
    path.write_text("---\ntitle: \"Escape \\e]0;owned\\a title\"\n---\nThe council said \x1b[2J\x1b]0;pwned\x07 the "
                    "harbour budget passed on Monday after a long debate. Officials said the harbour vote was "
                    "close.\n")
    (result,) = corpus.add_paths([path])
    assert result.status == "added", result
    text = corpus.document_text(result.doc_id)
    info = corpus.document(result.doc_id)
    assert "\x1b" not in text and "\x07" not in text and "\x1b" not in info.title
    assert "the harbour budget passed" in text
    out = citebot(corpus.settings.home_path, "search", "harbour budget", "--mode", "lexical")
    assert out.returncode == 0 and "harbour budget" in out.stdout
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout


def _alias_bomb() -> str:
    """"Billion laughs": nine levels of nine aliases; turning the title into text would build 9**9 items."""
    lines = ["---", 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines + ["title: *i", "---", "The budget passed on Monday after a long debate.", ""])


def test_csv_article_longer_than_csvs_default_field_limit_is_read_whole(tmp_path):
    from retrieval.ingest import load_file

    body = " ".join(f"Sentence {i} about the harbour budget." for i in range(5000))  # ~190 KB
    path = tmp_path / "long.csv"
    path.write_text(f'title,text\nLong one,"{body}"\n')
    (doc,) = load_file(path, 1024 * 1024)
    assert len(doc.text) > 131_072 and doc.text.endswith("Sentence 4999 about the harbour budget.")


def test_html_scripts_and_styles_are_not_indexed(corpus, tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Harbour vote</title><style>body{color:red}</style>"
        "<script>var secretScriptToken = 1; alert('x')</script></head><body><article>"
        "<p>The harbour commission approved the dredging plan on Monday after a long public debate.</p>"
        "<p>Officials said the dredging would start in spring and finish before the autumn storms.</p>"
        "<script>document.write('injectedScriptText')</script></article></body></html>")
    (result,) = corpus.add_paths([path])
    assert result.status == "added", result
    text = corpus.document_text(result.doc_id)
    assert "dredging plan" in text
    for leaked in ("secretScriptToken", "injectedScriptText", "alert(", "color:red"):
        assert leaked not in text


# -- 3. the CLI ----------------------------------------------------------------------------------------
CLI = {
    "100,000-character question": (("ask", "why?" * 25_000), None, {}, 2, "the limit is 2,000"),
    "control-character question": (("ask", "\x01\x02\x1b"), None, {}, 2, "the question is empty"),
    "missing file": (("add", "/no/such/file.txt"), None, {}, 1, "no such file or directory"),
    "unsupported file": (("add", "{tmp}/program.exe"), None, {}, 1, "unsupported file type .exe"),
    "symlink loop only": (("add", "{tmp}/loop"), None, {}, 1, "no supported files in this directory"),
    "empty stdin": (("add", "-"), "", {}, 1, "-: empty"),
    "YAML alias bomb in front matter": (("add", "{tmp}/laughs.md"), None, {}, 1, "invalid YAML front matter"),
    "invalid --date": (("add", str(SEED_ARTICLE), "--date", "2024-13-45"), None, {}, 2, "--date: '2024-13-45' is not a date"),
    "unknown id to remove": (("remove", "999"), None, {}, 2, "no document '999'"),
    "unknown id to show": (("show", "abc"), None, {}, 2, "no document 'abc'"),
    "invalid setting": (("list",), None, {"CITEBOT_TOP_K": "many"}, 2, "CITEBOT_TOP_K='many' is not a valid int"),
    "invalid --since": (("search", "talks", "--since", "yesterday"), None, {}, 2, "--since: 'yesterday' is not a date"),
}


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("cli-files")
    (tmp / "program.exe").write_bytes(b"MZ\x90\x00")
    (tmp / "laughs.md").write_text(_alias_bomb())
    (tmp / "loop").mkdir()
    (tmp / "loop" / "again").symlink_to(tmp / "loop", target_is_directory=True)
    return tmp


@pytest.mark.parametrize("args, stdin, env, rc, message", CLI.values(), ids=CLI.keys())
def test_cli_errors_are_one_clear_line(corpus, cli_files, args, stdin, env, rc, message):
    home = corpus.settings.home_path
    before = read_store(home)["docs"]
    # in this process (tests/runcli.py): the message and the exit code do not depend on being a child
    result = run(home, *(a.replace("{tmp}", str(cli_files)) for a in args), stdin=stdin or "", env=env)
    assert result.returncode == rc, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith(("error:", "citebot: error:"))]
    assert len(error_lines) == (1 if rc else 0), result.stderr
    assert read_store(home)["docs"] == before


def test_cli_fts5_syntax_in_a_query_is_just_words(corpus):
    result = citebot(corpus.settings.home_path, "search", 'peace" OR NEAR(treaty, * ^', "--mode", "lexical")
    assert result.returncode == 0, result.stderr
    assert "peace treaty" in result.stdout


# -- 4. damaged or unusable index directories -----------------------------------------------------------
@pytest.fixture(scope="module")
def snapshot(corpus, tmp_path_factory) -> Path:
    """A consistent copy of the module's index (SQLite backup API + the dense files)."""
    corpus.search("peace talks", k=1)  # dense index synced and saved
    dest = tmp_path_factory.mktemp("snapshot")
    src = sqlite3.connect(corpus.store.location)
    dst = sqlite3.connect(dest / "citebot.sqlite3")
    src.backup(dst)
    dst.execute("PRAGMA journal_mode = WAL")  # as citebot leaves it; closing checkpoints into one file
    src.close()
    dst.close()
    for name in ("dense.faiss", "dense.json"):
        shutil.copy(corpus.settings.home_path / name, dest / name)
    return dest


def copy_of(snapshot: Path, tmp_path: Path) -> Path:
    home = tmp_path / "index"
    shutil.copytree(snapshot, home)
    return home


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


DENSE_DAMAGE = {
    "truncated faiss file": lambda h: (h / "dense.faiss").write_bytes((h / "dense.faiss").read_bytes()[:1000]),
    "faiss file is garbage": lambda h: (h / "dense.faiss").write_bytes(os.urandom(5000)),
    "faiss file missing": lambda h: (h / "dense.faiss").unlink(),
    "stamp is not JSON": lambda h: (h / "dense.json").write_text("{oops"),
    "stamp names another model": lambda h: (h / "dense.json").write_text(
        (h / "dense.json").read_text().replace("all-MiniLM-L6-v2", "other-model")),
    "stamp count disagrees": lambda h: (h / "dense.json").write_text(
        (h / "dense.json").read_text().replace('"count": ', '"count": 1')),
}


@pytest.mark.parametrize("damage", DENSE_DAMAGE.values(), ids=DENSE_DAMAGE.keys())
def test_damaged_dense_index_is_rebuilt_from_the_store(snapshot, tmp_path, embedder, damage):
    intact = copy_of(snapshot, tmp_path / "intact")
    home = copy_of(snapshot, tmp_path)
    damage(home)
    results = []
    for where in (intact, home):
        settings = load_settings(env={}).replace(home=str(where))
        with Corpus.open(settings, embedder=embedder) as corpus:
            hits = corpus.search("why did talks stop?", k=5, mode="dense")
            results.append([(h.passage_id, round(h.score, 5)) for h in hits])
            assert corpus.ask("why did talks stop?").answered
    assert results[0] and results[1] == results[0]  # the same answers as from the undamaged index
    passages = {pid for rows in read_store(home)["passages"].values() for pid, _, _ in rows}
    assert dense_ids(home) == passages  # rewritten whole on disk
    result = run(home, "verify")
    assert result.returncode == 0 and result.stdout.startswith("ok:"), result.stdout + result.stderr
    assert read_store(home)["docs"] == read_store(snapshot)["docs"]


def _garbage(home: Path) -> None:
    (home / "citebot.sqlite3").write_bytes(os.urandom(64 * 1024))


def _truncated(home: Path) -> None:
    db = home / "citebot.sqlite3"
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])


def _bad_header(home: Path) -> None:
    db = home / "citebot.sqlite3"
    data = bytearray(db.read_bytes())
    data[:16] = b"not sqlite here!"
    db.write_bytes(bytes(data))


CORRUPT_STORE = {"random bytes": _garbage, "truncated to half": _truncated, "header overwritten": _bad_header}


@pytest.mark.parametrize("damage", CORRUPT_STORE.values(), ids=CORRUPT_STORE.keys())
@pytest.mark.parametrize("command", [("list",), ("add", str(SEED_ARTICLE)), ("verify", "--repair"),
                                     ("remove", "1"), ("ask", "why did talks stop?")],
                         ids=["list", "add", "verify-repair", "remove", "ask"])
def test_corrupt_store_gives_a_clear_error_and_is_left_untouched(snapshot, tmp_path, damage, command):
    home = copy_of(snapshot, tmp_path)
    damage(home)
    before = {p.name: md5(p) for p in home.iterdir()}
    result = citebot(home, *command)
    assert result.returncode == 2, result.stdout + result.stderr
    assert one_line(result.stderr) and "cannot be read" in result.stderr and "left untouched" in result.stderr
    assert {p.name: md5(p) for p in home.iterdir()} == before  # byte for byte, and no new files


def test_damaged_pages_inside_the_store_fail_verify_without_touching_it(snapshot, tmp_path):
    home = copy_of(snapshot, tmp_path)
    db = home / "citebot.sqlite3"
    size = db.stat().st_size
    with db.open("r+b") as fh:  # scribble over interior pages, leaving the header and schema intact
        fh.seek(size // 2 // 4096 * 4096)
        fh.write(b"\xff" * 8192)
    before = md5(db)
    result = citebot(home, "verify")
    assert result.returncode == 1
    assert "integrity check failed" in result.stderr and "NOT OK" in result.stdout
    assert "Traceback" not in result.stderr
    assert md5(db) == before


def test_store_from_a_newer_citebot_is_refused(snapshot, tmp_path):
    home = copy_of(snapshot, tmp_path)
    db = sqlite3.connect(home / "citebot.sqlite3")
    db.execute("PRAGMA user_version = 99")
    db.close()
    before = md5(home / "citebot.sqlite3")
    result = citebot(home, "list")
    assert result.returncode == 2 and one_line(result.stderr) and "newer citebot (schema 99)" in result.stderr
    assert md5(home / "citebot.sqlite3") == before


def test_index_path_that_is_a_file(tmp_path):
    home = tmp_path / "index"
    home.write_text("not a directory")
    result = citebot(home, "list")
    assert result.returncode == 2 and one_line(result.stderr)
    assert "cannot create the index directory" in result.stderr
    assert home.read_text() == "not a directory"


def test_zero_byte_store_file_is_a_new_empty_index(tmp_path):
    home = tmp_path / "index"
    home.mkdir()
    (home / "citebot.sqlite3").write_bytes(b"")
    result = citebot(home, "list")
    assert result.returncode == 0 and "The corpus is empty" in result.stdout


def _read_only_prefix() -> list[str]:
    """root ignores file modes; drop the capabilities that let it, so the test means the same as root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root needs setpriv (util-linux) to test a read-only directory"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner,-linux_immutable", "--"]


@pytest.mark.parametrize("command", [("add", str(SEED_ARTICLE.parent)), ("remove", "1"), ("list",),
                                     ("ask", "why did talks stop?")], ids=["add", "remove", "list", "ask"])
def test_read_only_index_directory(snapshot, tmp_path, command):
    home = copy_of(snapshot, tmp_path)
    before = {p.name: md5(p) for p in home.iterdir()}
    for path in [*home.iterdir(), home]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        result = citebot(home, *command, prefix=_read_only_prefix())
    finally:
        for path in [home, *home.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert result.returncode == 2, result.stdout + result.stderr
    assert one_line(result.stderr) and "cannot write the index in" in result.stderr
    assert {p.name: md5(p) for p in home.iterdir()} == before


# -- 5. markup from documents in the Telegram renderer ---------------------------------------------------
MARKUP_TEXT = ("The <script>alert('x')</script> harbour & dock <b>committee</b> approved the plan on Monday "
               "<a href=\"javascript:alert(1)\">click</a>. Officials said the harbour plan costs 5 < 6 million.")


def test_document_markup_is_escaped_in_telegram_answers(corpus, tmp_path):
    from bot import render

    path = tmp_path / "markup.txt"
    path.write_text("---\ntitle: <i>Harbour</i> & <u>dock</u>\nurl: javascript:alert(1)\n---\n" + MARKUP_TEXT + "\n")
    (result,) = corpus.add_paths([path])
    assert result.status == "added"
    assert "<script>alert('x')</script>" in corpus.document_text(result.doc_id)  # stored verbatim, as text
    answer = corpus.ask("What did the dock committee approve?")
    assert result.doc_id in [c.doc_id for c in answer.citations]
    html = "".join(render.render_answer(answer, "en"))
    for raw in ("<script>", "<a href=\"javascript", "<i>Harbour", "<u>dock", "5 < 6"):
        assert raw not in html
    assert "&lt;script&gt;" in html and "&lt;i&gt;Harbour&lt;/i&gt; &amp; &lt;u&gt;dock" in html
    assert all(re.fullmatch(r'<a href="https?://[^"]*">', tag) for tag in re.findall(r"<a\b[^>]*>", html))


def test_citation_fields_are_escaped_by_the_renderer():
    from bot import render

    c = Citation(n=1, doc_id=7, passage_id=9, title="</b><script>x()</script>", date="<i>2024</i>",
                 source="<b>TASS</b>", url="javascript:alert(1)", passage="A <img src=x onerror=alert(1)> B",
                 score=0.9, quotes=[(0, 40)])
    html = render.render_citation(c)
    assert "<script>" not in html and "<img" not in html and "<i>2024" not in html and "javascript:" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


FULL_DISK = r"""
import resource, signal, sys
from retrieval.ingest import lang
lang.detect("The budget passed on Monday after a long debate.")  # unpacks its model to a temp file first
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, like a full disk
limit = int(sys.argv[1])
from unittest import mock
from retrieval.cli import main
from tests.fakes.hash_embedder import HashEmbedder  # the tests' embedder: the vectors match the fixtures'
model = HashEmbedder()
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
with mock.patch("retrieval.corpus.core.make_embedder", lambda settings: model):
    sys.exit(main(sys.argv[2:]))
"""


def test_disk_full_during_add_loses_nothing(snapshot, tmp_path, embedder):
    """No file may grow past 32 KiB (RLIMIT_FSIZE stands in for a full disk without privileges), so the
    write-ahead log fills up: `citebot add` fails with one line, the store's documents are unchanged, and
    once there is room the same add succeeds."""
    import subprocess
    import sys

    from .conftest import cli_env, write_docs
    from ..conftest import ROOT

    home = copy_of(snapshot, tmp_path)
    paths = write_docs(tmp_path / "docs", 3, seed=71)
    settings = load_settings(env={}).replace(home=str(home))
    with Corpus.open(settings, embedder=embedder) as corpus:  # cache their embeddings, so the
        for result in corpus.add_paths(paths):                  # subprocess needs no model and fails
            corpus.remove(result.doc_id)                        # in the documents' own transaction
    before = read_store(home)
    limit = 32 * 1024  # the WAL index (32 KiB) fits; a log of 7 pages does not hold three documents
    result = subprocess.run([sys.executable, "-c", FULL_DISK, str(limit), "add", str(tmp_path / "docs")],
                            env=cli_env(home), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    assert one_line(result.stderr) and result.stderr.startswith("citebot: error:"), result.stderr
    assert "cannot rollback" not in result.stderr and "restore it from a backup" not in result.stderr
    after = read_store(home)
    assert after == before
    verify = citebot(home, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    with Corpus.open(settings, embedder=embedder) as corpus:
        assert [r.status for r in corpus.add_paths(paths)] == ["added"] * 3


HOSTILE = {  # one megabyte each; the regexes they once hit took hours on them (quadratic backtracking)
    "dots.txt": "Dots" + "." * 1_000_000 + " end",
    "bangs.txt": "Wow" + "!" * 1_000_000 + " yes",
    "brackets.md": "Text " + "[" * 1_000_000,
    "open-links.md": "Text " + "[a](" * 250_000,
    "unclosed-bold.md": "Text " + "**a " * 250_000,
    "unclosed-underscores.md": "Text " + "__a " * 250_000,
    "hash-heading.md": "# " * 500_000 + "x",
    "open-comments.md": "Text\n" + "<!--\n" * 200_000,
}

PIPELINE = r"""
import sys
from pathlib import Path
from retrieval.corpus import neardup
from retrieval.ingest import dates, lang
from retrieval.ingest import load_file
from retrieval.errors import UserError
from retrieval.text.lexical import terms
from retrieval.text.passages import make_passages

for name in sys.argv[2:]:
    try:
        for doc in load_file(Path(sys.argv[1]) / name, 4 * 1024 * 1024):
            make_passages(doc.text, doc.lang, 60, 120)
            terms(doc.text)
            neardup.signature(doc.text)
            lang.detect(doc.text)
            dates.find_dateline(doc.text)
        print("document", name, flush=True)
    except UserError as exc:
        print("error", name, str(exc).replace("\n", " "), flush=True)
"""


def test_hostile_megabyte_files_are_loaded_and_split_without_hanging(tmp_path):
    """Loading, Markdown clean-up, sentence splitting, stemming, near-duplicate signature, language and
    dateline detection all finish on each file (the timeout is a liveness bound, not a speed test)."""
    import subprocess
    import sys

    from ..conftest import ROOT

    for name, text in HOSTILE.items():
        (tmp_path / name).write_text(text)
    result = subprocess.run([sys.executable, "-c", PIPELINE, str(tmp_path), *HOSTILE], cwd=ROOT,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    outcomes = [line.split()[:2] for line in result.stdout.splitlines()]
    assert [name for _, name in outcomes] == list(HOSTILE)
    assert all(kind in ("document", "error") for kind, _ in outcomes)


def test_file_name_that_is_not_utf8_does_not_stop_the_directory(corpus, tmp_path):
    """Latin-1 names from old archives arrive as lone surrogates; the file is added under a visible
    escape and the files after it in the same directory are added too."""
    root = tmp_path / "archive"
    root.mkdir()
    with open(os.path.join(os.fsencode(root), b"caf\xe9-report.txt"), "w") as fh:
        fh.write("---\ntitle: Latin one name\n---\n" + article(random.Random(81), "latinname"))
    (root / "zz-after.txt").write_text("---\ntitle: After the odd name\n---\n" + article(random.Random(82), "after"))
    results = corpus.add_paths([root])
    assert [r.status for r in results] == ["added", "added"], results
    assert results[0].path.endswith("caf\\xe9-report.txt")
    assert corpus.document(results[0].doc_id).path == results[0].path


def test_lone_surrogates_in_json_lines_are_replaced_not_fatal(corpus, tmp_path):
    path = tmp_path / "surrogates.jsonl"
    body = article(random.Random(83), "surrogate")
    path.write_text('{"title": "Odd \\udce9 title \\ud800", "text": "' + body + ' \\ud800"}\n')
    (result,) = corpus.add_paths([path])
    assert result.status == "added", result
    assert result.title == "Odd \\udce9 title \\ud800"
    assert corpus.document_text(result.doc_id).endswith("\ufffd")  # one character for one, offsets kept


@pytest.mark.parametrize("values, error", [
    (["123", "@alice"], "'@alice' is not a numeric Telegram id"),
    (["12.5"], "'12.5' is not a numeric Telegram id"),
    (["<b>1</b>"], "'<b>1</b>' is not a numeric Telegram id"),
], ids=["username instead of id", "fraction", "markup"])
def test_bad_telegram_ids_in_settings_are_one_clear_error(values, error):
    from bot.access import parse_ids

    with pytest.raises(UserError) as caught:
        parse_ids(values, "CITEBOT_TELEGRAM_ADMINS")
    assert str(caught.value) == f"CITEBOT_TELEGRAM_ADMINS: {error}"


def test_blank_and_negative_telegram_ids_are_accepted():
    from bot.access import parse_ids

    assert parse_ids([" ", "-1001234567890", " 42 "], "CITEBOT_TELEGRAM_ALLOWED_CHATS") == {-1001234567890, 42}
