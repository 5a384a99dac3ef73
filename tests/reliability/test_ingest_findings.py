"""Findings of the adversarial CLI run (issue 12) about ingest and the command line, one test each.

Each case failed before its fix: a traceback instead of one line, wrong data accepted silently, or a
hang. Bad input next to a good file must still let the good file in.
"""
from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import pytest

from retrieval import Corpus, load_settings
from retrieval.errors import UserError
from retrieval.ingest import IngestOptions, fetch_documents, load_file

from ..conftest import ROOT, SEED_ARTICLE
from tests.runcli import run

from .conftest import article, citebot, citebot_argv, cli_env, read_store


def one_line(message: str) -> bool:
    return bool(message.strip()) and "\n" not in message.strip() and "Traceback" not in message


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, embedder):
    """One corpus for the module holding the bundled TASS article and a Russian article."""
    home = tmp_path_factory.mktemp("findings") / "index"
    settings = load_settings(env={}).replace(home=str(home), max_file_mb=2)
    corpus = Corpus.open(settings, embedder=embedder)
    russian = home.parent / "russian.txt"
    russian.write_text("---\ntitle: Бюджет региона вырос — заявил министр\n---\nМинистерство финансов сообщило в "
                       "понедельник, что бюджет региона вырос. Эксперты связывают рост с налогами.\n",
                       encoding="utf-8")
    assert [r.status for r in corpus.add_paths([SEED_ARTICLE, russian])] == ["added", "added"]
    yield corpus
    corpus.close()


def good_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"good-{abs(hash(name)) % 10_000}.txt"
    path.write_text(f"---\ntitle: Good file next to {name}\n---\n" + article(random.Random(name), "goodmarker"),
                    encoding="utf-8")
    return path


def added_titles(results) -> list[str]:
    return [r.title for r in results if r.status == "added"]


# -- tracebacks that must be one line -------------------------------------------------------------------
CLI_ONE_LINE = {
    "show an id past SQLite's integers": (("show", "99999999999999999999"), "no document"),
    "remove an id past SQLite's integers": (("remove", "99999999999999999999"), "no document"),
    "search -k past SQLite's integers": (("search", "talks", "-k", "99999999999999999999"), "out of range"),
    "show with a superscript digit": (("show", "¹"), "digits 0-9"),
    "show with a surrogate escape": (("show", "caf\udce9"), "no document"),
    "question starting with a dash": (("ask", "-cocoa"), "citebot ask -- '-cocoa'"),
    "unknown option": (("list", "--colour"), "unrecognized arguments: --colour"),
}


@pytest.mark.parametrize("args, message", CLI_ONE_LINE.values(), ids=CLI_ONE_LINE.keys())
def test_cli_mistakes_are_one_line(corpus, args, message):
    home = corpus.settings.home_path
    before = read_store(home)["docs"]
    result = run(home, *args)  # in this process (tests/runcli.py): the line does not depend on being a child
    assert result.returncode == 2, result.stdout + result.stderr
    assert one_line(result.stderr) and result.stderr.startswith("citebot"), result.stderr
    assert "usage:" not in result.stderr and message in result.stderr, result.stderr
    assert read_store(home)["docs"] == before


def test_a_question_after_double_dash_is_answered(corpus):
    result = run(corpus.settings.home_path, "search", "--mode", "lexical", "--", "-talks")
    assert result.returncode == 0 and "Tokyo" in result.stdout, result.stderr


SETTINGS_ONE_LINE = {
    "huge CITEBOT_MAX_FILE_MB": ({"CITEBOT_MAX_FILE_MB": "99999999999999"}, ("add", str(SEED_ARTICLE)),
                                 "CITEBOT_MAX_FILE_MB='99999999999999' is out of range"),
    "huge CITEBOT_THREADS": ({"CITEBOT_THREADS": "100000"}, ("ask", "why did talks stop?"),
                             "CITEBOT_THREADS='100000' is out of range"),
    "NaN lexical weight": ({"CITEBOT_LEXICAL_WEIGHT": "nan"}, ("search", "talks", "--json"),
                           "CITEBOT_LEXICAL_WEIGHT='nan' is not a valid float"),
    "NaN answer threshold": ({"CITEBOT_MIN_SCORE": "nan"}, ("ask", "what colour is the moon?"),
                             "CITEBOT_MIN_SCORE='nan' is not a valid float"),
    "misspelt fusion": ({"CITEBOT_FUSION": "rfr"}, ("search", "talks"), "CITEBOT_FUSION='rfr' is not one of: convex, rrf"),
    "min words over max words": ({"CITEBOT_PASSAGE_MIN_WORDS": "200", "CITEBOT_PASSAGE_MAX_WORDS": "100"},
                                 ("add", str(SEED_ARTICLE)), "CITEBOT_PASSAGE_MIN_WORDS=200 is more than"),
}


@pytest.mark.parametrize("env, args, message", SETTINGS_ONE_LINE.values(), ids=SETTINGS_ONE_LINE.keys())
def test_bad_settings_are_refused_in_one_line(corpus, env, args, message):
    home = corpus.settings.home_path
    before = read_store(home)["docs"]
    result = run(home, *args, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert one_line(result.stderr) and message in result.stderr, result.stderr
    assert read_store(home)["docs"] == before


def test_empty_citebot_home_is_the_default_not_the_working_directory(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run([*citebot_argv(), "list"], capture_output=True, text=True, cwd=work, timeout=120,
                            env=cli_env(tmp_path, CITEBOT_HOME=""))
    assert result.returncode == 0, result.stderr
    assert not (work / "citebot.sqlite3").exists()  # '' used to mean the working directory itself
    assert (work / ".citebot" / "citebot.sqlite3").exists()


@pytest.mark.parametrize("args", [("list", "--json"), ("list",), ("show", "1", "--json"),
                                  ("ask", "why did talks stop?", "--json")], ids=["list --json", "list", "show", "ask"])
def test_full_stdout_is_one_line(corpus, args):
    with open("/dev/full", "w") as full:
        result = subprocess.run([*citebot_argv(), *args], stdout=full, stderr=subprocess.PIPE, text=True,
                                env=cli_env(corpus.settings.home_path), cwd=ROOT, timeout=300)
    assert result.returncode == 2, result.stderr
    assert one_line(result.stderr) and "cannot write the output" in result.stderr, result.stderr


@pytest.mark.parametrize("args", [("list",), ("list", "--json"), ("show", "2"), ("ask", "why did talks stop?"),
                                  ("search", "бюджет", "--mode", "lexical", "--json")])
def test_ascii_only_terminal_gets_escapes_not_a_traceback(corpus, args):
    import json

    result = citebot(corpus.settings.home_path, *args, PYTHONIOENCODING="ascii")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout.isascii()
    if "--json" in args:
        data = json.loads(result.stdout)  # still valid JSON: \u escapes
        assert "Бюджет" in json.dumps(data, ensure_ascii=False) or "бюджет" in json.dumps(data, ensure_ascii=False)


def test_remove_the_same_id_twice_removes_it_once(make_corpus, tmp_path):
    corpus = make_corpus()
    [result] = corpus.add_paths([good_file(tmp_path, "twice")])
    doc = str(result.doc_id)
    out = citebot(corpus.settings.home_path, "remove", doc, doc)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("removed doc") == 1 and out.stderr == ""
    assert corpus.documents() == []


# -- wrong data accepted silently -----------------------------------------------------------------------
RUSSIAN = ("Министерство финансов сообщило в понедельник, что бюджет региона вырос на десять процентов. "
           "Эксперты связывают рост с налогами.")


@pytest.mark.parametrize("encoding, text, expected", [
    ("koi8_r", RUSSIAN, "бюджет региона вырос"),
    ("cp1251", RUSSIAN, "бюджет региона вырос"),
    ("cp1252", "Nestlé said on Monday that its café business in Zürich grew “strongly” last year.", "Nestlé said"),
], ids=["KOI8-R Russian", "Windows-1251 Russian", "Windows-1252 English"])
def test_legacy_encodings_are_detected_not_mojibake(tmp_path, encoding, text, expected):
    path = tmp_path / "legacy.txt"
    path.write_bytes(text.encode(encoding))
    [doc] = load_file(path, 1024 * 1024)
    assert doc.text == text and expected in doc.text


def test_jsonl_with_one_latin1_line_keeps_every_good_line(corpus, tmp_path):
    path = tmp_path / "mixed-encodings.jsonl"
    lines = [f'{{"title": "Café report {i}", "text": "{article(random.Random(i), f"jsonlenc{i}")}"}}' for i in range(3)]
    data = [line.encode("utf-8") for line in lines]
    data[1] = data[1].decode("utf-8").encode("latin-1")  # one line from an old export
    path.write_bytes(b"\n".join(data) + b"\n")
    results = corpus.add_paths([path])
    assert sorted(added_titles(results)) == ["Café report 0", "Café report 2"], results
    [error] = [r for r in results if r.status == "error"]
    assert error.path == f"{path} line 2" and "not UTF-8" in error.message and one_line(error.message)


def test_front_matter_nested_10000_deep_is_one_error_and_the_good_file_is_added(corpus, tmp_path):
    bad = tmp_path / "deep.md"
    bad.write_text("---\ntitle: " + "[" * 10_000 + "]" * 10_000 + "\n---\nThe budget passed.\n")
    results = corpus.add_paths([bad, good_file(tmp_path, "deep")])
    assert [r.status for r in results] == ["error", "added"], results
    assert "invalid YAML front matter" in results[0].message and one_line(results[0].message)


def test_front_matter_title_loses_newlines_and_terminal_codes(corpus, tmp_path):
    path = tmp_path / "title.md"
    path.write_text('---\ntitle: "Harbour\\nvote \\e[31mred\\e[0m \\e]0;owned\\a done"\n---\n'
                    + article(random.Random(5), "titleclean"))
    [result] = corpus.add_paths([path])
    assert result.status == "added", result
    assert corpus.document(result.doc_id).title == "Harbour vote red done"


def test_symlinks_leaving_the_directory_are_skipped_and_said(corpus, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("---\ntitle: Outside secret\n---\n" + article(random.Random(11), "secret"))
    tree = tmp_path / "tree"
    (tree / "inner").mkdir(parents=True)
    (tree / "inner" / "story.txt").write_text("---\ntitle: Inside story\n---\n" + article(random.Random(12), "inside"))
    (tree / "passwd.txt").symlink_to(outside / "secret.txt")
    (tree / "elsewhere").symlink_to(outside, target_is_directory=True)
    (tree / "alias.txt").symlink_to(tree / "inner" / "story.txt")  # inside the tree: followed quietly
    results = corpus.add_paths([tree])
    assert added_titles(results) == ["Inside story"], results
    errors = {Path(r.path).name: r.message for r in results if r.status == "error"}
    assert set(errors) == {"elsewhere", "passwd.txt"}, errors
    assert all("not followed" in m and "--follow-links" in m and one_line(m) for m in errors.values())
    assert "Outside secret" not in [d.title for d in corpus.documents()]


def test_csv_field_with_one_huge_token_is_cut_into_bounded_passages(make_corpus, tmp_path):
    path = tmp_path / "token.csv"
    path.write_text("title,text\nToken dump,\"The dump follows. " + "x" * 60_000 + " End of dump.\"\n")
    corpus = make_corpus()
    [result] = corpus.add_paths([path])
    assert result.status == "added", result
    sent = corpus.embedder.passage_texts
    assert sent and max(len(t) for t in sent) <= 12 * 120 + len("Token dump\n")
    stored = [text for rows in read_store(corpus.settings.home_path)["passages"].values() for _, text, _ in rows]
    assert max(len(t) for t in stored) <= 12 * 120
    assert sum(t.count("x") for t in stored) >= 60_000  # every character is still in some passage


def _docx_bomb(path: Path, inflated: int) -> None:
    """A small DOCX whose document.xml inflates to ``inflated`` bytes of whitespace."""
    chunk = b" " * (1024 * 1024)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"/>')
        with z.open("word/document.xml", "w", force_zip64=True) as fh:
            for _ in range(inflated // len(chunk)):
                fh.write(chunk)


def test_docx_inflating_past_the_limit_is_refused_before_inflating(corpus, tmp_path):
    bomb = tmp_path / "bomb.docx"
    _docx_bomb(bomb, 300 * 1024 * 1024)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    results = corpus.add_paths([bomb, good_file(tmp_path, "bomb")])
    assert [r.status for r in results] == ["error", "added"], results
    assert "DOCX content expands to 300 MB" in results[0].message and "compression bomb" in results[0].message


# -- URLs -----------------------------------------------------------------------------------------------
class _RawServer:
    """A socket server on 127.0.0.1 whose handler writes raw bytes (to misbehave as no HTTP library will)."""

    def __init__(self, handler) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.handler = handler
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/page.txt"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        try:  # wakes the thread blocked in accept() (close() alone does not, on Linux): no thread left
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=10)


LOCAL = dict(allow_private_urls=True)


def test_body_cut_short_is_refused_as_incomplete():
    def handler(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n")
        conn.sendall(b"The budget passed. " * 131 + b"The")  # 2,499 of 100,000 announced bytes

    server = _RawServer(handler)
    try:
        with pytest.raises(UserError, match=r"incomplete response: the connection closed after 2492 of 100000 bytes"):
            fetch_documents(server.url, IngestOptions(**LOCAL))
    finally:
        server.close()


@pytest.mark.parametrize("where", ["headers", "body"])
def test_trickling_server_hits_the_overall_deadline(where):
    def handler(conn):
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 400\r\n\r\n"
        if where == "body":
            conn.sendall(head)
            head = b"x" * 400
        for byte in head:  # one byte every 0.2 s: each read is quick, the whole never arrives in time
            conn.sendall(bytes([byte]))
            time.sleep(0.2)

    server = _RawServer(handler)
    started = time.monotonic()
    try:
        with pytest.raises(UserError, match=r"timed out: no complete response within 1.5 s"):
            fetch_documents(server.url, IngestOptions(fetch_deadline=1.5, fetch_timeout=1.0, **LOCAL))
    finally:
        server.close()
    assert time.monotonic() - started < 30  # a liveness bound: without a deadline this ran 80 s


# -- one `citebot add` of many bad arguments and one good file (one model load for all these checks) ----
BAD_URLS = {  # each was a traceback that also lost the good file named after it
    "http://[::1": "not a valid URL (Invalid IPv6 URL)",
    "http://" + "a" * 300 + ".example/x": "not a valid host name (too long)",
    "http://" + ".".join(["b" * 70] * 2) + "/y": "not a valid host name (too long)",
    "http://host:99999/": "not a valid URL (Port out of range 0-65535)",
}
METADATA_URL = "http://169.254.169.254/latest/meta-data/"


@pytest.fixture(scope="module")
def one_add(tmp_path_factory):
    """`citebot add FIFO METADATA_URL BAD_URLS... EVIL_NAMED_GOOD_FILE EMPTY_FILE_WITH_NEWLINE_IN_NAME`."""
    tmp = tmp_path_factory.mktemp("one-add")
    fifo = tmp / "pipe.txt"
    os.mkfifo(fifo)  # before the fix `add` blocked here forever, and the good file was never added
    evil = tmp / "news\x1b]0;pwned\x07\x1b[2J.txt"
    evil.write_text(article(random.Random(15), "escapename"))  # no title: the first sentence is used
    broken = tmp / "two\nlines.txt"
    broken.write_bytes(b"")
    home = tmp / "index"
    result = citebot(home, "add", str(fifo), METADATA_URL, *BAD_URLS, str(evil), str(broken), timeout=180)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    return result, errors, home


def test_fifo_on_the_command_line_is_skipped_and_the_good_file_added(one_add):
    result, errors, _ = one_add
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert any(e.endswith("pipe.txt: not a regular file (a named pipe (FIFO)); skipped") for e in errors), errors
    assert "added" in result.stdout and "1 added" in result.stderr


def test_internal_url_is_refused_by_the_cli_and_the_good_file_added(one_add):
    _, errors, _ = one_add
    [error] = [e for e in errors if METADATA_URL in e]
    assert "refused: 169.254.169.254 is the cloud metadata address" in error
    assert "CITEBOT_ALLOW_PRIVATE_URLS" in error


def test_malformed_urls_are_one_error_each_and_the_good_file_is_added(one_add):
    result, errors, _ = one_add
    assert [e for e in errors if any(e.startswith(f"error: {url}:") for url in BAD_URLS)] == [
        f"error: {url}: {message}" for url, message in BAD_URLS.items()]
    assert "1 added" in result.stderr


def test_file_names_with_terminal_escapes_never_reach_the_terminal(one_add):
    result, errors, home = one_add
    for stream in (result.stdout, result.stderr):
        assert "\x1b" not in stream and "\x07" not in stream, stream
    [error] = [e for e in errors if "lines.txt" in e]
    assert "two\\x0alines.txt: file is empty" in error  # the newline in the name is shown, not obeyed
    show = citebot(home, "show", "1")
    assert show.returncode == 0 and "\x1b" not in show.stdout and "\x07" not in show.stdout
    [path_line] = [line for line in show.stdout.splitlines() if line.startswith("path:")]
    assert path_line.endswith("news\\x1b]0;pwned\\x07\\x1b[2J.txt")


# -- one `citebot add --follow-links` of a tree with a link leaving it and an unreadable subdirectory ----
def _no_dac_override() -> list[str]:
    """root reads any directory; drop the capabilities that let it, so the test means the same as root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root needs setpriv (util-linux) to test an unreadable directory"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


@pytest.fixture(scope="module")
def tree_add(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tree-add")
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("---\ntitle: Outside but wanted\n---\n" + article(random.Random(13), "wanted"))
    tree = tmp / "tree"
    (tree / "locked").mkdir(parents=True)
    (tree / "locked" / "hidden.txt").write_text(article(random.Random(14), "locked"))
    (tree / "link.txt").symlink_to(outside / "secret.txt")
    (tree / "locked").chmod(0o000)
    try:
        result = citebot(tmp / "index", "add", "--follow-links", str(tree), prefix=_no_dac_override())
    finally:
        (tree / "locked").chmod(0o755)
    return result


def test_follow_links_follows_them(tree_add):
    assert "Outside but wanted" in tree_add.stdout, tree_add.stdout + tree_add.stderr


def test_unreadable_subdirectory_is_reported(tree_add):
    assert tree_add.returncode == 1, tree_add.stdout + tree_add.stderr
    [error] = [line for line in tree_add.stderr.splitlines() if line.startswith("error:")]
    assert error.endswith("locked: cannot read this directory (permission denied); skipped"), error
