"""Fast handler tests in PTB's own style: a recording BaseRequest answers every Bot API call with
canned JSON and records it; updates go through ``Application.process_update``. The corpus is the
real one (tiny, the bundled TASS article), so answers are real retrieval results.
"""
from __future__ import annotations

import asyncio
import json
import threading

import pytest

from bot.handlers.library import safe_filename
from tests.bot.conftest import ADMIN, GROUP, STRANGER, TOKEN, USER
from tests.fakes.bot_api import parse_telegram_html
from tests.bot.recording import BOT, _update_ids, message

QUESTION = "When did the Soviet Union and Japan sign a joint declaration?"


def test_private_text_is_answered_with_citations_progress_and_buttons(harness):
    h = harness()
    update = message(USER, QUESTION)
    request = h.feed(update)
    draft = request.sent("sendMessageDraft")[0]  # private chats see a draft, not "typing…"
    assert draft["text"] == "Searching…" and draft["draft_id"] == update["message"]["message_id"]
    assert request.sent("sendChatAction") == []
    reactions = request.sent("setMessageReaction")  # 👀 while working, taken back after the reply
    assert [r["message_id"] for r in reactions] == [update["message"]["message_id"]] * 2
    assert "👀" in str(reactions[0]["reaction"]) and not reactions[1]["reaction"]
    [reply] = request.sent()
    assert reply["parse_mode"] == "HTML"
    assert "In 1956, the Soviet Union and Japan signed a joint declaration" in parse_telegram_html(reply["text"])
    assert "<b>1956</b>" in reply["text"]
    buttons = [b for row in reply["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["More sources", "👍", "👎"]
    assert all(len(b["callback_data"].encode()) < 64 for b in buttons)


def test_russian_users_get_russian_interface(harness):
    request = harness().feed(message(USER, "/start", lang="ru"), message(STRANGER, QUESTION, lang="ru-RU"))
    texts = request.texts()
    assert any(t.startswith("Здравствуйте!") for t in texts)
    answer = next(p for p in request.sent() if "reply_markup" in p)
    assert [b["text"] for b in answer["reply_markup"]["inline_keyboard"][0]] == ["Ещё источники"]
    assert request.sent("sendMessageDraft")[0]["text"] == "Ищу…"


def test_group_message_without_mention_is_ignored_mention_reply_and_ask_are_answered(harness):
    request = harness().feed(
        message(USER, QUESTION, chat=GROUP),
        message(USER, f"@citebot_test_bot {QUESTION}", chat=GROUP),
        message(USER, QUESTION, chat=GROUP, reply_to_bot=True),
        message(USER, f"/ask@citebot_test_bot {QUESTION}", chat=GROUP),
        message(USER, f"@someone_else {QUESTION}", chat=GROUP),
    )
    replies = request.sent()
    assert len(replies) == 3
    assert all("joint declaration" in r["text"] for r in replies)
    assert all(r.get("reply_to_message_id") or r.get("reply_parameters") for r in replies)  # quotes the asker


def test_empty_ask_gets_usage_not_an_error(harness):
    [reply] = harness().feed(message(USER, "/ask")).texts()
    assert "Please write a question" in reply


def test_too_long_question_gets_the_cores_one_line_error(harness):
    [reply] = harness().feed(message(USER, "why " * 1000)).texts()
    assert "the limit is 2,000" in reply and "Traceback" not in reply


def test_rate_limit_answers_slow_down_after_the_limit(harness):
    h = harness(CITEBOT_TELEGRAM_RATE_LIMIT="2")
    request = h.feed(*(message(USER, QUESTION) for _ in range(3)))
    texts = request.texts()
    assert len(texts) == 3
    assert sum("Please slow down: at most 2 questions a minute" in t for t in texts) == 1
    assert sum("joint declaration" in t for t in texts) == 2


def test_user_outside_allow_list_is_refused_politely_and_corpus_not_asked(harness, corpus):
    asked: list[str] = []

    class Spy:
        def __getattr__(self, name):
            if name in {"ask", "search"}:
                asked.append(name)
            return getattr(corpus, name)

    h = harness(Spy(), CITEBOT_TELEGRAM_ALLOWED_USERS=str(USER))
    request = h.feed(message(STRANGER, QUESTION), message(USER, QUESTION))
    texts = request.texts()
    assert any("you are not on its access list" in t for t in texts)
    assert any("joint declaration" in t for t in texts)
    assert asked == ["ask"]  # only the allowed user's question reached the corpus


def test_corpus_calls_run_off_the_event_loop(harness, corpus):
    """While one question is stuck in the corpus, another chat is still served."""
    released = threading.Event()
    outcome: list[bool] = []

    class Slow:
        def ask(self, question):
            outcome.append(released.wait(10))  # times out (False) if the loop is blocked
            return corpus.ask(question)

        def __getattr__(self, name):
            return getattr(corpus, name)

    h = harness(Slow())
    original = h.request.do_request

    async def spy(url, *args, **kwargs):
        result = await original(url, *args, **kwargs)
        if url.endswith("sendMessage") and "Hello!" in h.request.calls[-1][1].get("text", ""):
            released.set()
        return result

    h.request.do_request = spy
    h.feed(message(USER, QUESTION), message(STRANGER, "/start"))
    assert outcome == [True]


def test_help_shows_admin_commands_only_to_admins(harness):
    request = harness().feed(message(USER, "/help"), message(ADMIN, "/help"))
    by_chat = {p["chat_id"]: p["text"] for p in request.sent()}
    assert "/remove" not in by_chat[USER]
    assert "/remove" in by_chat[ADMIN]


def test_command_menu_is_set_in_english_and_russian(harness):
    h = harness()

    async def go():
        await h.app.initialize()
        await h.app.post_init(h.app)
        await h.app.shutdown()
    asyncio.run(go())
    menus = h.request.sent("setMyCommands")
    assert {m.get("language_code") for m in menus} == {None, "ru"}
    assert [c["command"] for c in menus[0]["commands"]] == ["start", "help", "ask", "new", "watch", "watches", "sources",
                                                          "stats"]


def test_admin_adds_text_document_and_next_question_finds_it(harness, corpus):
    h = harness()
    before = corpus.stats()["documents"]
    body = ("The Arctic council met in Tromso on Monday. Delegates agreed to resume scientific cooperation "
            "on sea ice monitoring after a two-year pause, the chairman said.")
    request = h.feed(message(ADMIN, f"/add Arctic council resumes work\n{body}"))
    assert "Added “Arctic council resumes work”" in request.texts()[0]
    assert corpus.stats()["documents"] == before + 1
    request = harness().feed(message(USER, "Where did the Arctic council meet?"))
    assert "Tromso" in request.texts()[-1]


def test_non_admin_add_and_remove_are_refused_and_change_nothing(harness, corpus):
    before = [d.doc_id for d in corpus.documents()]
    request = harness().feed(message(USER, "/add Fake news\nThe moon is made of cheese, officials said today."),
                             message(USER, f"/remove {before[0]}"))
    texts = request.texts()
    assert len(texts) == 2 and all("only the bot's admins can change the library" in t for t in texts)
    assert [d.doc_id for d in corpus.documents()] == before


def test_admin_remove_and_unknown_id(harness, corpus):
    doc_id = corpus.documents()[0].doc_id
    request = harness().feed(message(ADMIN, "/remove 999999"))
    assert "no document 999999" in request.texts()[0] and "/sources" in request.texts()[0]
    assert "citebot" not in request.texts()[0]  # a chat user has /sources, not the CLI
    request = harness().feed(message(ADMIN, f"/remove {doc_id}"))
    assert f"(id {doc_id})" in request.texts()[0] and "Removed" in request.texts()[0]
    assert corpus.documents() == []


def test_sources_lists_documents_and_stats_hides_paths(harness, corpus):
    request = harness().feed(message(USER, "/sources"), message(STRANGER, "/stats"))
    by_chat = {p["chat_id"]: p["text"] for p in request.sent()}
    assert "The resumption of talks on the peace treaty" in by_chat[USER]
    assert "Documents: <b>1</b>" in by_chat[STRANGER]
    assert str(corpus.settings.home_path) not in by_chat[STRANGER]


def test_upload_over_the_limit_is_refused_before_download(harness, corpus):
    doc = {"file_id": "F1", "file_unique_id": "U1", "file_name": "big.txt", "file_size": 21 * 1024 * 1024}
    request = harness().feed(message(ADMIN, None, document=doc, caption="/add"))
    assert "too large (21.0 MB); the limit is 20 MB" in request.texts()[0]
    assert request.sent("getFile") == []
    doc = dict(doc, file_size=3 * 1024 * 1024)
    request = harness(CITEBOT_TELEGRAM_MAX_UPLOAD_MB="2").feed(message(ADMIN, None, document=doc, caption="/add"))
    assert "the limit is 2 MB" in request.texts()[0] and request.sent("getFile") == []


def test_non_admin_upload_is_refused_without_download(harness, corpus):
    doc = {"file_id": "F1", "file_unique_id": "U1", "file_name": "x.txt", "file_size": 100}
    request = harness().feed(message(USER, None, document=doc, caption="/add"), message(USER, None, document=doc))
    assert len(request.texts()) == 2 and all("only the bot's admins" in t for t in request.texts())
    assert request.sent("getFile") == []


def test_group_document_without_add_caption_is_ignored(harness):
    doc = {"file_id": "F1", "file_unique_id": "U1", "file_name": "x.txt", "file_size": 100}
    request = harness().feed(message(ADMIN, None, chat=GROUP, document=doc))
    assert request.sent() == [] and request.sent("getFile") == []


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\win.ini.md", "win.ini.md"),
    ("/abs/path/report.pdf", "report.pdf"),
    ("..", "upload"),
    (".hidden.txt", "hidden.txt"),
    ("a/..", "upload"),
    ("weird <name>|?.txt", "weird _name___.txt"),
    (None, "upload"),
])
def test_uploaded_file_names_cannot_escape_the_temp_dir(name, expected):
    assert safe_filename(name) == expected


def test_forged_or_stale_button_data_gets_a_polite_alert_not_a_crash(harness):
    def press(data):
        return {"update_id": next(_update_ids), "callback_query": {
            "id": str(next(_update_ids)), "from": {"id": USER, "is_bot": False, "first_name": "U"},
            "chat_instance": "c", "data": data,
            "message": {"message_id": 9, "date": 0, "chat": {"id": USER, "type": "private"}, "from": BOT,
                        "text": "old answer"}}}

    forged = ["m:nokey:3", "m:x:abc", "f:x", "p:x:3", "s:-1", "s:99999999", "zzz", "f:x:1:2:3"]
    request = harness().feed(*(press(d) for d in forged))
    alerts = request.sent("answerCallbackQuery")
    assert len(alerts) == len(forged)
    assert request.sent() == []  # no apology: nothing crashed
    assert sum("expired" in a.get("text", "") for a in alerts) >= 7


def test_token_is_not_in_any_request_text(harness):
    request = harness().feed(message(USER, "/start"), message(USER, QUESTION))
    assert all(TOKEN not in json.dumps(p) for _, p in request.calls)


def test_paging_buttons_count_against_the_rate_limit(harness):
    h = harness(CITEBOT_TELEGRAM_RATE_LIMIT="1")
    [answer] = h.feed(message(USER, QUESTION)).sent()
    more = answer["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    press = {"update_id": next(_update_ids), "callback_query": {
        "id": "q1", "from": {"id": USER, "is_bot": False, "first_name": "U"}, "chat_instance": "c", "data": more,
        "message": {"message_id": 5000, "date": 0, "chat": {"id": USER, "type": "private"}, "from": BOT,
                    "text": "answer", "reply_markup": answer["reply_markup"]}}}
    h.request.calls.clear()
    h.feed(press)
    [alert] = h.request.sent("answerCallbackQuery")
    assert alert["show_alert"] and "Please slow down: at most 1 questions a minute" in alert["text"]
    assert h.request.sent() == []  # no search, no new message


def test_near_duplicate_is_explained_and_force_adds_it(harness, corpus):
    from tests.conftest import SEED_ARTICLE

    body = SEED_ARTICLE.read_text(encoding="utf-8").split("\n", 1)[1].replace("Rudenko added", "Rudenko stressed")
    [reply] = harness().feed(message(ADMIN, f"/add Updated version\n{body}")).texts()
    assert "Not added" in reply and "nearly identical to document" in reply
    assert "--force to add it anyway" not in reply and "send it again with <code>/add --force</code>" in reply
    assert len(corpus.documents()) == 1
    [reply] = harness().feed(message(ADMIN, f"/add --force Updated version\n{body}")).texts()
    assert "Added “Updated version”" in reply
    assert len(corpus.documents()) == 2


def test_admin_adds_a_url_and_the_next_question_cites_it(harness, corpus):
    import http.server

    page = ("<html><head><title>Glacier study</title><meta property='og:site_name' content='Polar Times'></head>"
            "<body><nav>Home | World | Sport</nav><article><h1>Glacier study</h1>"
            "<p>Researchers in Svalbard measured that the Nordenskiold glacier retreated 300 metres last summer, "
            "the fastest retreat on record, because of an unusually warm August.</p>"
            "<p>The team plans to repeat the survey next year with drones.</p></article></body></html>").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/glacier.html"
    corpus.settings = corpus.settings.replace(allow_private_urls=True)  # CITEBOT_ALLOW_PRIVATE_URLS: a local page
    try:
        refused = harness().feed(message(USER, f"/add {url}"))
        assert "only the bot's admins" in refused.texts()[0]
        request = harness().feed(message(ADMIN, f"/add {url}"))
        assert "Added" in request.texts()[0]
    finally:
        server.shutdown()
    [doc] = [d for d in corpus.documents() if d.url == url]
    reply = harness().feed(message(USER, "How far did the Nordenskiold glacier retreat?")).sent()[-1]
    assert "300 metres" in parse_telegram_html(reply["text"]) and url in reply["text"]
