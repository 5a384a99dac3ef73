"""Followed channels and standing questions in the running bot, through the strict fake Bot API.

Real Russian channel posts (../shared/data/tg_news_ru) are replayed as ``channel_post`` and
``edited_channel_post`` updates with their entities; the corpus uses the hash embedder (fast, offline).
Every scenario also checks ``fake_api.rejected``: the strict server refused nothing the bot sent.
"""
from __future__ import annotations

import pytest

from retrieval import Corpus, UserError, load_settings, open_sources
from tests.bot.conftest import ADMIN, USER
from tests.fakes.bot_api import parse_telegram_html
from tests.fakes.feed_server import FeedServer, reuters_stories
from tests.fakes.hash_embedder import HashEmbedder
from tests.fakes.telegram_posts import as_bot_api, raw_posts

RIA = -1001101170442  # the real channel id of these posts
CATS_QUESTION = "Какие питомцы самые популярные у россиян?"
FAST = {"CITEBOT_TELEGRAM_SYNC_SECONDS": "1", "CITEBOT_TELEGRAM_PUSH_SECONDS": "1", "CITEBOT_WATCH_PUSH_MINUTES": "0"}


def visible(message: dict) -> str:
    return parse_telegram_html(message["text"])


def ria_posts() -> dict[int, object]:
    return {p.message_id: p for p in raw_posts(limit=40, channel_file="1001101170442_messages.json", min_chars=300)}


@pytest.fixture
def corpus(tmp_path):
    """A corpus in the bot's home with the hash embedder (the bot's own fixture loads the real model)."""
    settings = load_settings(env={}).replace(home=str(tmp_path / "index"), allow_private_urls=True,
                                              sync_host_delay=0.0)  # the test's feed site is on 127.0.0.1
    with Corpus(settings, embedder=HashEmbedder()) as opened:
        yield opened


@pytest.fixture
def bot(corpus, start_bot, fake_api):
    """``bot(**env)``: the running bot, RIA Novosti as a channel it administers; its stores closed after."""
    fake_api.add_channel(RIA, "РИА Новости", "rian_ru")
    running = []

    def start(**env):
        running.append(start_bot(corpus, **{**FAST, **env}))
        return running[-1]

    yield start
    for b in running:
        b.stop()
        b.app.bot_data.close()


def follow(fake_api, ref: str = "@rian_ru") -> str:
    before = len(fake_api.bot_messages(ADMIN))
    fake_api.send_text(ADMIN, f"/follow {ref}")
    return visible(fake_api.wait_messages(ADMIN, before + 1)[before])


def publish(fake_api, post) -> dict:
    text, entities = as_bot_api(post.markdown)
    return fake_api.post_to_channel(RIA, text, entities, date=post.date)


def indexed(corpus: Corpus, message_id: int, chat_id: int = RIA):
    from retrieval.ingest.telegram import post_path

    doc_id = corpus.store.documents.find(path=post_path(message_id, chat_id=chat_id))
    return corpus.store.documents.info(doc_id) if doc_id else None


def test_a_followed_channels_new_post_answers_a_question_asked_a_moment_later(bot, corpus, fake_api):
    bot()
    assert follow(fake_api).startswith("Following РИА Новости (source 1, every 30m).")
    posts = ria_posts()
    cats = posts[271601]
    message = publish(fake_api, cats)
    fake_api.wait_for(lambda: indexed(corpus, message["message_id"]))
    info = indexed(corpus, message["message_id"])
    assert info.source == "РИА Новости" and info.url == f"https://t.me/rian_ru/{message['message_id']}"
    assert info.date == "2024-12-04"
    text = corpus.document_text(info.doc_id)
    assert text.startswith("Кошки стали самыми популярными питомцами у россиян, подсчитали")
    assert "**" not in text
    fake_api.send_text(USER, CATS_QUESTION, language_code="ru")
    [reply] = fake_api.wait_messages(USER, 1)
    assert "Кошки стали самыми популярными питомцами у россиян" in visible(reply)
    assert f'href="https://t.me/rian_ru/{message["message_id"]}"' in reply["text"]
    assert fake_api.rejected == []


def test_an_edited_post_replaces_its_earlier_version(bot, corpus, fake_api):
    bot()
    follow(fake_api)
    message = publish(fake_api, ria_posts()[271582])  # the chocolate imports post
    fake_api.wait_for(lambda: indexed(corpus, message["message_id"]))
    before = indexed(corpus, message["message_id"])
    edited = ("Россия в разы нарастила покупки турецкого и китайского шоколада, уточнили в РИА Новости. Ввоз шоколада "
              "из Китая вырос в 3,5 раза и достиг рекордных 4,9 миллиона долларов, закупки турецкого выросли вдвое.")
    fake_api.edit_channel_post(RIA, message["message_id"], edited, [{"type": "bold", "offset": 0, "length": 6}])
    fake_api.wait_for(lambda: (lambda i: i and i.doc_id != before.doc_id)(indexed(corpus, message["message_id"])))
    after = indexed(corpus, message["message_id"])
    assert corpus.document_text(after.doc_id) == edited
    assert corpus.store.documents.info(before.doc_id) is None  # replaced, not kept beside
    assert len(corpus.documents()) == 1
    assert after.url == before.url == f"https://t.me/rian_ru/{message['message_id']}"
    answer = corpus.ask("Во сколько раз вырос ввоз шоколада из Китая?")
    assert answer.answered and "3,5 раза" in answer.answer and "3,3 раза" not in answer.answer


def test_a_watch_gets_exactly_one_push_for_a_newly_answering_post(bot, corpus, fake_api, quiet_logs):
    """Found while the bot sends no pushes, sent after a restart, exactly once: the outbox is in the store."""
    first = bot(CITEBOT_TELEGRAM_PUSH_SECONDS="0")
    follow(fake_api)
    assert says(fake_api, USER, f"/watch {CATS_QUESTION}", "ru").startswith(
        f"Слежу за вопросом «{CATS_QUESTION}» (id 1).")
    posts = ria_posts()
    publish(fake_api, posts[271643])  # unrelated: the LDPR candidate
    cats = publish(fake_api, posts[271601])
    fake_api.wait_for(lambda: indexed(corpus, cats["message_id"]))
    # the same passage again: an edit that changes nothing it says; then an unrelated post
    fake_api.edit_channel_post(RIA, cats["message_id"], *as_bot_api(posts[271601].markdown))
    publish(fake_api, posts[271627])
    link = f"https://t.me/rian_ru/{cats['message_id']}"
    fake_api.wait_for(lambda: len(corpus.documents()) == 3 and f"edit of post {link} (index): duplicate" in quiet_logs.text)
    watches = first.app.bot_data.watches
    fake_api.wait_for(lambda: watches.pending())  # queued by the cats post's handler, which may still run
    assert [p.push.doc_id for p in watches.pending()] == [indexed(corpus, cats["message_id"]).doc_id]
    assert len(fake_api.bot_messages(USER)) == 1  # no push sent yet
    first.stop()
    second = bot()  # after the restart the pending push goes out, once
    [_, push] = fake_api.wait_messages(USER, 2)
    assert visible(push).startswith(f"🔔 Новое по вашему вопросу: {CATS_QUESTION}")
    assert "Кошки стали самыми популярными питомцами" in visible(push)
    assert f'href="{link}"' in push["text"]
    assert [b["callback_data"] for row in push["reply_markup"]["inline_keyboard"] for b in row] == ["uw:1"]
    fake_api.wait_for(lambda: second.app.bot_data.watches.pending() == [])  # marked delivered: never sent again
    assert len(fake_api.bot_messages(USER)) == 2
    assert fake_api.rejected == []


def says(fake_api, user: int, text: str, language_code: str = "en") -> str:
    """``user`` sends ``text``; the bot's reply (the next message in that chat)."""
    before = len(fake_api.bot_messages(user))
    fake_api.send_text(user, text, language_code=language_code)
    return visible(fake_api.wait_messages(user, before + 1)[before])


def test_watches_list_unwatch_and_the_per_user_limit(bot, fake_api):
    bot(CITEBOT_WATCH_MAX_PER_USER="2")
    assert says(fake_api, USER, "/watch Что с ключевой ставкой?", "ru").startswith("Слежу за вопросом")
    assert says(fake_api, USER, "/watch Где снегопад?", "ru").startswith("Слежу за вопросом")
    assert says(fake_api, USER, "/watch Кто победил на выборах?", "ru").startswith(
        "У вас уже 2 постоянных вопросов — это максимум")
    assert says(fake_api, USER, "/watches") == ("Standing questions in this chat:\n1 Что с ключевой ставкой?\n"
                                                "2 Где снегопад?")
    listing = fake_api.bot_messages(USER)[-1]
    assert says(fake_api, USER, "/unwatch 7") == "There is no standing question 7 in this chat; /watches lists them."
    assert says(fake_api, USER, "/unwatch 1") == "Stopped watching “Что с ключевой ставкой?”."
    fake_api.press(USER, listing, "uw:2")
    fake_api.wait_for(lambda: [b["callback_data"] for row in fake_api.messages[(USER, listing["message_id"])]
                               .get("reply_markup", {}).get("inline_keyboard", []) for b in row] == ["uw:1"])
    assert says(fake_api, USER, "/watches").startswith("No standing questions here.")
    assert fake_api.rejected == []


def test_admins_manage_sources_others_see_documents(bot, fake_api, tmp_path):
    bot()
    feed = "http://127.0.0.1:9/feed.xml"  # nothing listens there, and private addresses are refused anyway
    assert says(fake_api, USER, "/follow @rian_ru").startswith("Sorry, only the bot's admins")
    assert says(fake_api, ADMIN, "/follow @no_such_channel").startswith("I cannot find the channel @no_such_channel")
    assert says(fake_api, ADMIN, "/follow /etc").startswith("Folders are followed on the server")
    assert says(fake_api, ADMIN, f"/follow {feed} 2h").startswith(
        "Following 127.0.0.1/feed.xml (source 1, every 2h).")
    assert says(fake_api, ADMIN, f"/follow {feed}") == f"{feed} is followed already (source 1)."
    assert says(fake_api, ADMIN, "/follow @rian_ru 10x") == "“10x” is not an interval: use 90s, 30m, 1h or 1d."
    listing = says(fake_api, ADMIN, "/sources")
    assert listing.startswith("Followed sources (the documents: /documents)\n1 feed 127.0.0.1/feed.xml · every 2h · ")
    assert says(fake_api, ADMIN, "/unfollow 1").startswith("Stopped following 127.0.0.1/feed.xml (source 1)")
    assert says(fake_api, ADMIN, "/unfollow 1") == "There is no source 1; the ids are in /sources."
    assert says(fake_api, USER, "/sources") == "The library is empty."  # documents, as before
    with open_sources(load_settings(env={"CITEBOT_HOME": str(tmp_path / "index")})) as sources:
        assert sources.list() == []
    assert fake_api.rejected == [("getChat", "Bad Request: chat not found")]  # @no_such_channel


def test_the_bot_syncs_a_followed_feed_on_its_schedule_and_pushes_a_watch(bot, corpus, fake_api):
    """The JobQueue schedule inside `citebot bot`: /follow a feed, its entries are indexed; a new entry that
    answers a standing question is pushed once."""
    first, second, third = reuters_stories(3)
    question = " ".join(third.body.split()[:12]).rstrip(",.;") + "?"
    with FeedServer() as server:
        server.site.publish(first, second)
        bot()
        assert says(fake_api, ADMIN, f"/follow {server.url}/feed.xml 1s").startswith("Following 127.0.0.1")
        fake_api.wait_for(lambda: len(corpus.documents()) == 2)
        assert says(fake_api, USER, f"/watch {question}").startswith("Watching: ")
        server.site.publish(third)
        push = fake_api.wait_messages(USER, 2)[1]
    assert visible(push).startswith(f"🔔 New on your watch: {question}")
    assert f'href="{server.url}/articles/{third.slug}.html"' in push["text"]
    assert len(corpus.documents()) == 3
    assert len(fake_api.bot_messages(USER)) == 2
    assert fake_api.rejected == []


# -- hostile channels ------------------------------------------------------------------------------------

def test_photo_only_posts_and_unfollowed_channels_are_logged_not_indexed(bot, corpus, fake_api, quiet_logs):
    bot()
    follow(fake_api)
    other = fake_api.add_channel(-1009999999999, "Чужой канал", "other_channel")
    photo = fake_api.post_to_channel(RIA, photo=True)
    fire = fake_api.post_to_channel(RIA, "🔥🔥🔥")
    foreign = fake_api.post_to_channel(other["id"], *as_bot_api(ria_posts()[271627].markdown))
    cats = publish(fake_api, ria_posts()[271601])
    expected = [f"post https://t.me/rian_ru/{photo['message_id']} not indexed: short post: no text",
                f"post https://t.me/rian_ru/{fire['message_id']} not indexed: short post: 0 words",
                f"post {foreign['message_id']} in channel {other['id']} (Чужой канал) ignored: the channel is not "
                "followed"]
    fake_api.wait_for(lambda: indexed(corpus, cats["message_id"]) and all(line in quiet_logs.text for line in expected))
    assert [d.url for d in corpus.documents()] == [f"https://t.me/rian_ru/{cats['message_id']}"]
    assert fake_api.rejected == []


def test_the_bot_removed_from_the_admins_then_back(bot, corpus, fake_api, quiet_logs):
    bot()
    follow(fake_api)
    cats = publish(fake_api, ria_posts()[271601])
    fake_api.wait_for(lambda: indexed(corpus, cats["message_id"]))
    fake_api.set_bot_status(RIA, "member")
    fake_api.wait_for(lambda: "the bot is not an administrator of this channel" in quiet_logs.text)
    fake_api.send_text(ADMIN, "/sources")
    listing = visible(fake_api.wait_messages(ADMIN, 2)[1])
    assert "⚠ the bot is not an administrator of this channel: its new posts do not reach citebot" in listing
    assert indexed(corpus, cats["message_id"])  # nothing lost
    fake_api.set_bot_status(RIA, "administrator")
    fake_api.wait_for(lambda: "is an administrator again" in quiet_logs.text)
    fake_api.send_text(ADMIN, "/sources")
    assert "⚠" not in visible(fake_api.wait_messages(ADMIN, 3)[2])
    assert fake_api.rejected == []


def test_a_deleted_channel_is_reported_and_its_posts_stay(bot, corpus, fake_api):
    running = bot()
    assert "every 1s" in follow(fake_api, "@rian_ru 1s")
    cats = publish(fake_api, ria_posts()[271601])
    fake_api.wait_for(lambda: indexed(corpus, cats["message_id"]))
    fake_api.delete_channel(RIA)
    sources = running.app.bot_data.sources
    fake_api.wait_for(lambda: "cannot be found" in sources.get(1).state.last_error)
    assert "⚠ the channel cannot be found (deleted, or the bot was removed from it)" in says(fake_api, ADMIN, "/sources")
    assert indexed(corpus, cats["message_id"])  # its posts stay citable
    assert {method for method, _ in fake_api.rejected} == {"getChat"}


def test_a_push_to_a_chat_that_blocked_the_bot_is_dropped_not_retried(bot, corpus, fake_api, quiet_logs):
    running = bot()
    follow(fake_api)
    fake_api.send_text(USER, f"/watch {CATS_QUESTION}")
    fake_api.wait_messages(USER, 1)
    fake_api.blocked_chats.add(USER)
    publish(fake_api, ria_posts()[271601])
    fake_api.wait_for(lambda: "not delivered (Forbidden: bot was blocked by the user); dropped" in quiet_logs.text)
    fake_api.wait_for(lambda: running.app.bot_data.watches.pending() == [])  # marked: not retried every round
    sends = [c for c in fake_api.calls_to("sendMessage") if int(c.params["chat_id"]) == USER]
    assert len(sends) == 2  # the confirmation, then the one refused push


def test_a_post_the_library_cannot_take_is_kept_in_the_source_state_not_announced_in_the_channel(
        bot, corpus, fake_api, monkeypatch, quiet_logs):
    monkeypatch.setattr("bot.channels.RETRY_DELAY", 0.01)
    running = bot()
    follow(fake_api)
    sources = running.app.bot_data.sources
    fake_api.wait_for(lambda: sources.get(1).state.last_success is not None)  # the first channel check is done

    def busy(*args, **kwargs):
        raise UserError("the index is busy: another process is writing; try again in a moment")

    monkeypatch.setattr(corpus, "add_documents", busy)
    message = publish(fake_api, ria_posts()[271601])
    link = f"https://t.me/rian_ru/{message['message_id']}"
    fake_api.wait_for(lambda: link in sources.get(1).state.last_error)
    assert sources.get(1).state.last_error == f"{link} could not be indexed: the index is busy: another process " \
                                              "is writing; try again in a moment"
    fake_api.wait_for(lambda: "error while handling an update" in quiet_logs.text)
    assert [c for c in fake_api.calls_to("sendMessage") if int(c.params["chat_id"]) == RIA] == []
    monkeypatch.undo()
    cats = publish(fake_api, ria_posts()[271627])  # the library is back: the next post goes in
    fake_api.wait_for(lambda: indexed(corpus, cats["message_id"]))
    fake_api.wait_for(lambda: sources.get(1).state.last_error == "")  # recorded just after the post is indexed


def test_on_postgresql_a_followed_post_answers_and_pushes_once(tmp_path, pg_url, start_bot, fake_api):
    """The same chain with every store in PostgreSQL (corpus, bot tables, sources, watches)."""
    settings = load_settings(env={}).replace(home=str(tmp_path / "index"), database_url=pg_url)
    with Corpus(settings, embedder=HashEmbedder()) as pg_corpus:
        fake_api.add_channel(RIA, "РИА Новости", "rian_ru")
        running = start_bot(pg_corpus, CITEBOT_DATABASE_URL=pg_url, **FAST)
        try:
            assert follow(fake_api).startswith("Following РИА Новости (source 1")
            says(fake_api, USER, f"/watch {CATS_QUESTION}", "ru")
            cats = publish(fake_api, ria_posts()[271601])
            push = fake_api.wait_messages(USER, 2)[1]
            assert f'href="https://t.me/rian_ru/{cats["message_id"]}"' in push["text"]
            answer = says(fake_api, USER, CATS_QUESTION, "ru")
            assert "Кошки стали самыми популярными питомцами у россиян" in answer
            fake_api.wait_for(lambda: running.app.bot_data.watches.pending() == [])
            assert len([m for m in fake_api.bot_messages(USER) if "🔔" in m["text"]]) == 1
        finally:
            running.stop()
            running.app.bot_data.close()
    assert fake_api.rejected == []
