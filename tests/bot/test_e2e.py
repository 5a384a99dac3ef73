"""End to end: the real Application and the real Corpus, talking to the strict fake Bot API server.

Every scenario also checks ``fake_api.rejected``: the strict server refused nothing the bot sent.
"""
from __future__ import annotations

import json
import re
import shutil
import urllib.error
import urllib.request

from retrieval import Corpus, Document, load_settings
from tests.bot.conftest import ADMIN, GROUP, STRANGER, USER
from bot.render import shown_citations
from tests.fakes.bot_api import parse_telegram_html

QUESTION = "When did the Soviet Union and Japan sign a joint declaration?"
ARCTIC = ("The Arctic council met in Tromso on Monday. Delegates agreed to resume scientific cooperation on sea "
          "ice monitoring after a two-year pause, the chairman of the council said after the meeting.\n\n"
          "The next session is planned in Reykjavik in the autumn, officials added.")


def visible(message: dict) -> str:
    return parse_telegram_html(message["text"])


def buttons(message: dict) -> dict[str, str]:
    return {b["text"]: b["callback_data"] for row in message.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row}


def test_question_gets_cited_answer(corpus, start_bot, fake_api):
    start_bot(corpus)
    fake_api.send_text(USER, QUESTION)
    [reply] = fake_api.wait_messages(USER, 1)
    text = visible(reply)
    assert "In 1956, the Soviet Union and Japan signed a joint declaration on ceasing the state of war. [1]" in text
    assert "[1] The resumption of talks on the peace treaty" in text and "2024-02-07 · TASS" in text
    # the dated first line (retrieval/time), then the answer with its key span in bold
    assert reply["text"].startswith("<i>As of 7 Feb 2024 (TASS):</i>\nIn <b>1956</b>, the Soviet Union")
    assert "<blockquote expandable>" in reply["text"] and "<u>In 1956, the Soviet Union…</u>" in reply["text"]
    assert [d["text"] for d in fake_api.drafts][:1] == ["Searching…"]  # a draft, not "typing…"
    assert fake_api.rejected == []


def test_no_answer_is_plain_with_nearest_matches(corpus, start_bot, fake_api):
    start_bot(corpus)
    fake_api.send_text(USER, "What is the price of bananas in Ecuador this week?")
    [reply] = fake_api.wait_messages(USER, 1)
    assert visible(reply).startswith("I found nothing in the library that answers this.\nNearest, not an answer:\n· ")
    assert len(visible(reply).splitlines()) <= 5 and "More sources" not in buttons(reply)
    fake_api.press(USER, reply, buttons(reply)["Show these passages"])
    passages = fake_api.wait_messages(USER, 2)[1]
    assert visible(passages).startswith("Nearest passages for “What is the price of bananas")
    assert "<blockquote expandable>" in passages["text"]
    fake_api.wait_for(lambda: "Show these passages" not in buttons(fake_api.bot_messages(USER)[0]))
    assert fake_api.rejected == []


def test_more_sources_pages_forward_and_back(corpus, start_bot, fake_api):
    start_bot(corpus)
    fake_api.send_text(USER, QUESTION)
    [answer] = fake_api.wait_messages(USER, 1)
    fake_api.press(USER, answer, buttons(answer)["More sources"])
    page = fake_api.wait_messages(USER, 2)[1]
    assert "More sources for “When did the Soviet Union" in visible(page) and "[2] " in visible(page)
    # the answer keeps its feedback buttons but loses "More sources" (the new message pages)
    fake_api.wait_for(lambda: "More sources" not in buttons(fake_api.bot_messages(USER)[0]))
    assert set(buttons(fake_api.bot_messages(USER)[0])) == {"👍", "👎"}
    last = int(re.search(r"–(\d+)\):", visible(page)).group(1))
    fake_api.press(USER, page, buttons(page)["More ▶"])
    fake_api.wait_for(lambda: f"[{last + 1}] " in visible(fake_api.bot_messages(USER)[1]))
    page = fake_api.bot_messages(USER)[1]
    assert "[2] " not in visible(page) and "◀ Back" in buttons(page)
    fake_api.press(USER, page, buttons(page)["◀ Back"])
    fake_api.wait_for(lambda: "[2] " in visible(fake_api.bot_messages(USER)[1]))
    assert len(fake_api.bot_messages(USER)) == 2  # paging edited in place
    assert len(fake_api.calls_to("answerCallbackQuery")) == 3
    assert fake_api.rejected == []


def test_feedback_is_stored_with_question_and_cited_passages(corpus, start_bot, fake_api):
    bot = start_bot(corpus)
    fake_api.send_text(USER, QUESTION)
    [answer] = fake_api.wait_messages(USER, 1)
    fake_api.press(USER, answer, buttons(answer)["👎"])
    [ack] = fake_api.wait_for(lambda: fake_api.calls_to("answerCallbackQuery"))  # answered after the edit
    assert "👎 1" in buttons(fake_api.bot_messages(USER)[0])
    [vote] = bot.app.bot_data.storage.votes()
    assert (vote.question, vote.user_id, vote.vote) == (QUESTION, USER, -1)
    shown = {c.passage_id for c in shown_citations(corpus.ask(QUESTION))}
    assert set(vote.passage_ids) == shown  # the passages the user saw with the answer
    assert ack.params["text"] == "Thanks for the feedback!"
    assert (corpus.settings.home_path / "feedback.sqlite3").exists()


def test_admin_upload_is_searchable_in_the_next_question(corpus, start_bot, fake_api):
    start_bot(corpus)
    fake_api.send_document(ADMIN, "arctic-council.txt", ARCTIC.encode(), caption="/add Arctic council resumes work")
    [added] = fake_api.wait_messages(ADMIN, 1)
    assert "Added “Arctic council resumes work”" in visible(added) and "passages" in visible(added)
    fake_api.send_text(USER, "Where did the Arctic council meet on Monday?")
    [reply] = fake_api.wait_messages(USER, 1)
    assert "Tromso" in visible(reply) and "Arctic council resumes work" in visible(reply)
    assert fake_api.rejected == []


def test_reply_add_to_a_sent_file_and_duplicate_and_unsupported(corpus, start_bot, fake_api):
    start_bot(corpus)
    doc = fake_api.send_document(ADMIN, "notes.txt", ARCTIC.encode())  # admin in private: added directly
    fake_api.wait_messages(ADMIN, 1)
    fake_api.send_text(ADMIN, "/add", reply_to=doc["message_id"])  # same file again
    second = fake_api.wait_messages(ADMIN, 2)[1]
    assert "Not added" in visible(second) and "already in the library" in visible(second)
    fake_api.send_document(ADMIN, "../../payload.exe", b"MZ\x90\x00", caption="/add")
    third = fake_api.wait_messages(ADMIN, 3)[2]
    assert "unsupported file type .exe" in visible(third)
    assert "/tmp" not in visible(third) and "citebot-upload" not in visible(third)
    fake_api.send_document(ADMIN, "empty.txt", b"", caption="/add")
    assert "Not added" in visible(fake_api.wait_messages(ADMIN, 4)[3])
    assert len(corpus.documents()) == 2
    assert fake_api.rejected == []


def test_non_admin_upload_refused_and_corpus_unchanged(corpus, start_bot, fake_api):
    start_bot(corpus)
    before = [(d.doc_id, d.content_hash) for d in corpus.documents()]
    fake_api.send_document(USER, "arctic.txt", ARCTIC.encode(), caption="/add")
    fake_api.send_document(USER, "arctic.txt", ARCTIC.encode(), chat_id=GROUP, chat_type="supergroup", caption="/add")
    fake_api.send_text(USER, "/add Title\nSome body text that would be a document.")
    replies = fake_api.wait_messages(USER, 2) + fake_api.wait_messages(GROUP, 1)
    assert all("only the bot's admins can change the library" in visible(r) for r in replies)
    assert fake_api.calls_to("getFile") == []
    assert [(d.doc_id, d.content_hash) for d in corpus.documents()] == before


def test_group_answers_only_when_mentioned(corpus, start_bot, fake_api):
    start_bot(corpus)
    fake_api.send_text(USER, QUESTION, chat_id=GROUP, chat_type="supergroup")
    fake_api.send_text(USER, f"@citebot_test_bot {QUESTION}", chat_id=GROUP, chat_type="supergroup")
    [reply] = fake_api.wait_messages(GROUP, 1)
    assert "joint declaration" in visible(reply)
    assert reply["reply_to_message"]["text"].startswith("@citebot_test_bot")
    fake_api.send_text(USER, "/stats", chat_id=GROUP, chat_type="supergroup")  # barrier: later update done
    fake_api.wait_messages(GROUP, 2)
    assert len(fake_api.bot_messages(GROUP)) == 2


def test_long_answer_is_split_and_accepted_by_the_strict_server(tmp_path, seed_index, embedder, start_bot,
                                                                fake_api):
    home = tmp_path / "index"
    shutil.copytree(seed_index, home)
    # many cited passages of a long document make the reply several times Telegram's limit
    with Corpus.open(load_settings(env={}).replace(home=str(home), top_k=8, passage_max_words=300,
                                                   passage_min_words=200), embedder=embedder) as big:
        text = "\n\n".join(f"Report {i}. " + " ".join(
            f"The ministry in Moscow said on day {i}-{j} that the <treaty> talks & islands dispute remain frozen, "
            f"that no date for new consultations had been set, and that the delegations would keep exchanging "
            f"notes through the embassies while the regional situation stays tense." for j in range(7))
            for i in range(8))
        assert big.add_document(Document(text=text, title="Long <report>", date="2024-02-09", source="TASS")).status == "added"
        start_bot(big)
        fake_api.send_text(USER, "What did the ministry in Moscow say about the treaty talks and the islands dispute?")
        fake_api.wait_for(lambda: any("reply_markup" in m for m in fake_api.bot_messages(USER)), timeout=60)
        messages = fake_api.bot_messages(USER)
        assert all(len(visible(m)) <= 4096 and len(m["text"]) <= 4096 for m in messages)
        assert "reply_markup" in messages[-1] and all("reply_markup" not in m for m in messages[:-1])
        assert "&lt;treaty&gt; talks &amp; islands" in messages[0]["text"]
        shown = [int(n) for m in messages for n in re.findall(r"^\[(\d+)\] ", visible(m), re.MULTILINE)]
        # "More sources" pages through every further passage: a page split for length loses none
        fake_api.press(USER, messages[-1], buttons(messages[-1])["More sources"])
        page = fake_api.wait_messages(USER, len(messages) + 1)[-1]
        for _ in range(40):
            shown += [int(n) for n in re.findall(r"^\[(\d+)\] ", visible(page), re.MULTILINE)]
            header = re.search(r"\((\d+)–(\d+)\):", visible(page))
            assert header and f"[{header.group(2)}] " in visible(page) and f"[{int(header.group(2)) + 1}] " not in visible(page)
            if "More ▶" not in buttons(page):
                break
            before = page["text"]
            fake_api.press(USER, page, buttons(page)["More ▶"])
            fake_api.wait_for(lambda: fake_api.bot_messages(USER)[-1]["text"] != before)
            page = fake_api.bot_messages(USER)[-1]
    assert shown == list(range(1, len(shown) + 1)), shown  # no number skipped
    assert len(shown) >= 8
    assert fake_api.rejected == []


def test_allow_lists_in_private_and_group_chats(corpus, start_bot, fake_api):
    start_bot(corpus, CITEBOT_TELEGRAM_ALLOWED_CHATS=str(GROUP))
    fake_api.send_text(USER, f"/ask {QUESTION}", chat_id=GROUP, chat_type="supergroup")
    fake_api.send_text(USER, QUESTION)  # same user, private chat not allowed
    fake_api.send_text(STRANGER, f"/ask {QUESTION}", chat_id=-999, chat_type="group")  # other group
    fake_api.send_text(ADMIN, QUESTION)  # admins pass
    assert "joint declaration" in visible(fake_api.wait_messages(GROUP, 1)[0])
    assert "not on its access list" in visible(fake_api.wait_messages(USER, 1)[0])
    assert "not on its access list" in visible(fake_api.wait_messages(-999, 1)[0])
    assert "joint declaration" in visible(fake_api.wait_messages(ADMIN, 1)[0])


def test_markup_in_documents_and_questions_is_shown_escaped(corpus, start_bot, fake_api):
    start_bot(corpus)
    body = ("The <script>alert('pwned')</script> council met in <b>Tromso</b> & agreed on ice monitoring "
            "cooperation with <a href=\"javascript:evil()\">partners</a>, the chairman said on Monday.")
    fake_api.send_text(ADMIN, f"/add <i>Evil</i> & title\n{body}")
    assert "Added “<i>Evil</i> & title”" in visible(fake_api.wait_messages(ADMIN, 1)[0])
    fake_api.send_text(USER, "<b>Where</b> did the <script> council meet & agree on ice monitoring?")
    [reply] = fake_api.wait_messages(USER, 1)
    shown = visible(reply)
    assert "<script>alert('pwned')</script>" in shown and "<i>Evil</i> & title" in shown
    assert "<a href=\"javascript" not in reply["text"]  # shown as text, never a live link
    assert "<script>" not in reply["text"] and "<i>Evil" not in reply["text"]
    fake_api.press(USER, reply, buttons(reply)["More sources"])
    fake_api.wait_for(lambda: fake_api.calls_to("answerCallbackQuery"))
    assert fake_api.rejected == []


def test_documents_added_from_the_cli_are_searchable_without_restart(corpus, start_bot, fake_api):
    start_bot(corpus)
    fake_api.send_text(USER, "/stats")
    assert "Documents: 1" in visible(fake_api.wait_messages(USER, 1)[0])
    # another process's Corpus (as `citebot add` opens it) on the same index directory
    with Corpus.open(load_settings(env={}).replace(home=str(corpus.settings.home_path)),
                     embedder=corpus.embedder) as other:
        assert other.add_document(Document(text=ARCTIC, title="Arctic council resumes work")).status == "added"
    fake_api.send_text(USER, "Where did the Arctic council meet on Monday?")
    reply = fake_api.wait_messages(USER, 2)[1]
    assert "Tromso" in visible(reply)


def test_webhook_mode_accepts_updates_with_the_secret_only(corpus, start_bot, fake_api):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/telegram-hook"
    start_bot(corpus, wait_polling=False, CITEBOT_TELEGRAM_WEBHOOK_URL=url,
              CITEBOT_TELEGRAM_WEBHOOK_LISTEN="127.0.0.1", CITEBOT_TELEGRAM_WEBHOOK_PORT=port,
              CITEBOT_TELEGRAM_WEBHOOK_SECRET="hook-secret-42")
    fake_api.wait_for(lambda: fake_api.webhook)
    assert fake_api.webhook == {"url": url, "secret_token": "hook-secret-42"}
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": USER, "type": "private"},
                                          "from": {"id": USER, "is_bot": False, "first_name": "U"},
                                          "text": QUESTION}}

    def post(headers):
        req = urllib.request.Request(url, json.dumps(update).encode(), {"Content-Type": "application/json", **headers})
        try:
            return urllib.request.urlopen(req, timeout=10).status
        except urllib.error.HTTPError as exc:
            return exc.code
        except urllib.error.URLError:  # the webhook server is not listening yet
            return None

    fake_api.wait_for(lambda: post({}) == 403, timeout=10)  # no secret: refused
    assert post({"X-Telegram-Bot-Api-Secret-Token": "hook-secret-42"}) == 200
    [reply] = fake_api.wait_messages(USER, 1)
    assert "joint declaration" in visible(reply)
    assert fake_api.calls_to("getUpdates") == []


def test_sources_list_pages_in_place(corpus, start_bot, fake_api):
    for i in range(11):
        corpus.add_document(Document(text=f"Item {i}: the harbour of town {i} reopened after repairs on Monday.",
                                     title=f"Harbour <{i}> reopens", date=f"2024-03-{i + 1:02d}", source="Local"))
    start_bot(corpus)
    fake_api.send_text(USER, "/sources")
    [page] = fake_api.wait_messages(USER, 1)
    assert visible(page).startswith("Documents 1–10:") and "Harbour <0> reopens" in visible(page)
    fake_api.press(USER, page, buttons(page)["More ▶"])
    fake_api.wait_for(lambda: visible(fake_api.bot_messages(USER)[0]).startswith("Documents 11–12:"))
    page = fake_api.bot_messages(USER)[0]
    assert set(buttons(page)) == {"◀ Back"}
    assert fake_api.rejected == []
