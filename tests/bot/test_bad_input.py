"""Bad input through the bot (issue 4's table, Telegram side): each case gets a clear reply or is
safely ignored; nothing crashes (no apology), every reply is HTML Telegram accepts, the library only
changes where the case says so."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest

from tests.bot.conftest import ADMIN, GROUP, USER
from tests.fakes.bot_api import TEXT_LIMIT, parse_telegram_html
from tests.bot.recording import message
from tests.conftest import SEED_ARTICLE

Q = "When did the Soviet Union and Japan sign a joint declaration?"
APOLOGY = "Sorry, something went wrong"


def doc(name: str | None, content: bytes, file_id: str = "F1", size: int | None = None) -> dict:
    d = {"file_id": file_id, "file_unique_id": "u" + file_id, "file_size": len(content) if size is None else size}
    if name is not None:
        d["file_name"] = name
    return d


@dataclass
class Case:
    id: str
    updates: Callable[[], list[dict]]
    expect: str | None  # substring of the single reply; None = no reply at all
    files: dict[str, bytes] = field(default_factory=dict)
    docs_delta: int = 0  # documents the library gains
    env: dict[str, str] = field(default_factory=dict)


CASES = [
    Case("empty /ask", lambda: [message(USER, "/ask")], "Please write a question"),
    Case("whitespace /ask", lambda: [message(USER, "/ask    \t ")], "Please write a question"),
    Case("mention without question", lambda: [message(USER, "@citebot_test_bot", chat=GROUP)],
         "Please write a question"),
    Case("100,000-character question", lambda: [message(USER, "x" * 100_000)], "the limit is 2,000"),
    Case("only zero-width characters", lambda: [message(USER, "\u200b\u200b\u2060")], "Please write a question"),
    Case("control characters around a question", lambda: [message(USER, f"\x00\x07{Q}\x1b")],
         "joint declaration"),
    Case("HTML in the question", lambda: [message(USER, f"<b>{Q}</b> <script>x</script> & co")],
         "joint declaration"),
    Case("only emoji", lambda: [message(USER, "🤔🤔🤔")], "I found nothing"),
    Case("group chatter not addressed to the bot", lambda: [message(USER, Q, chat=GROUP)], None),
    Case("another bot's command in a group", lambda: [message(USER, "/start@other_bot", chat=GROUP)], None),
    Case("edited question is not re-answered", lambda: [
        {"update_id": 10**6, "edited_message": dict(message(USER, Q)["message"], edit_date=1)}], None),
    Case("/remove without id", lambda: [message(ADMIN, "/remove")], "Usage: /remove ID"),
    Case("/remove unknown id", lambda: [message(ADMIN, "/remove 424242")], "no document 424242 in the library"),
    Case("/remove text id", lambda: [message(ADMIN, "/remove ../../etc")], "no document ../../etc in the library"),
    Case("/sources with junk page", lambda: [message(USER, "/sources abc")], "Documents 1–1"),
    Case("/sources past the end", lambda: [message(USER, "/sources 999")], "There is no page 999"),
    Case("/add title without body", lambda: [message(ADMIN, "/add Only a title")], "To add a document"),
    Case("/add with a 5,000-character title", lambda: [
        message(ADMIN, "/add " + "T" * 5000 + "\nThe council met in Tromso on Monday and agreed on ice monitoring.")],
        "TTT…”", docs_delta=1),
    Case("upload named ../../etc/passwd.txt", lambda: [
        message(ADMIN, None, document=doc("../../etc/passwd.txt", b"F1"), caption="/add")],
        "Added", files={"F1": b"The council met in Tromso on Monday and agreed on ice monitoring."}, docs_delta=1),
    Case("upload over the Bot API limit", lambda: [
        message(ADMIN, None, document=doc("big.txt", b"", size=20 * 1024 * 1024 + 1), caption="/add")],
        "is too large"),
    Case("upload over the configured limit", lambda: [
        message(ADMIN, None, document=doc("big.txt", b"", size=2 * 1024 * 1024), caption="/add")],
        "the limit is 1 MB", env={"CITEBOT_TELEGRAM_MAX_UPLOAD_MB": "1"}),
    Case("unsupported extension", lambda: [message(ADMIN, None, document=doc("tool.exe", b""), caption="/add")],
         "unsupported file type .exe", files={"F1": b"MZ\x90\x00binary"}),
    Case("file without a name", lambda: [message(ADMIN, None, document=doc(None, b""), caption="/add")],
         "unsupported file type", files={"F1": b"some text"}),
    Case("empty file", lambda: [message(ADMIN, None, document=doc("empty.txt", b""), caption="/add")],
         "Not added", files={"F1": b""}),
    Case("binary file named .txt", lambda: [message(ADMIN, None, document=doc("photo.txt", b""), caption="/add")],
         "Not added", files={"F1": bytes(range(256)) * 40}),
    Case("zero-byte PDF", lambda: [message(ADMIN, None, document=doc("scan.pdf", b""), caption="/add")],
         "Not added", files={"F1": b""}),
    Case("corrupt PDF", lambda: [message(ADMIN, None, document=doc("scan.pdf", b""), caption="/add")],
         "Not added", files={"F1": b"%PDF-1.4\n%garbage that is not a pdf\n"}),
    Case("duplicate of the seed article via /add", lambda: [
        message(ADMIN, "/add Copy\n" + SEED_ARTICLE.read_text(encoding="utf-8").split("\n", 1)[1])],
        "Not added"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, harness, corpus):
    h = harness(**case.env)
    h.request.files.update(case.files)
    before = len(corpus.documents())
    request = h.feed(*case.updates())
    texts = request.texts()
    assert not any(APOLOGY in t for t in texts), texts
    for t in texts:
        assert len(t) <= TEXT_LIMIT
        parse_telegram_html(t)
    if case.expect is None:
        assert texts == []
    else:
        assert len(texts) == 1, texts
        assert case.expect in parse_telegram_html(texts[0]), texts[0]
    assert len(corpus.documents()) == before + case.docs_delta
    assert all("/tmp/" not in t and "citebot-upload" not in t for t in texts)  # temp paths stay private


def test_uploaded_document_remembers_its_telegram_name_not_the_deleted_temp_path(harness, corpus):
    h = harness()
    h.request.files["F1"] = b"The council met in Tromso on Monday and agreed on ice monitoring."
    h.feed(message(ADMIN, None, document=doc("../../etc/passwd.txt", b"F1"), caption="/add Council"))
    added = corpus.documents()[-1]
    assert added.title == "Council"
    assert added.path == "telegram:uF1:passwd.txt"
