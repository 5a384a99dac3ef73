"""The bot as a phone shows it, against the strict fake Bot API: drafts while it works, 👀 on the
question, inline mode, votes given as reactions; and the fake itself refusing what Telegram refuses."""
from __future__ import annotations

import pytest

from retrieval import AskProgress
from tests.bot.conftest import GROUP, TOKEN, USER
from tests.fakes.bot_api import ApiError, FakeBotAPI, ParseError, parse_telegram_html

QUESTION = "When did the Soviet Union and Japan sign a joint declaration?"


def buttons(message: dict) -> dict[str, str]:
    return {b["text"]: b.get("callback_data") or b.get("url")
            for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row}


class Paced:
    """The real corpus, holding each answer back until the draft announcing the search was shown, so the
    test sees every progress step (a real search is sometimes faster than a draft's round trip)."""

    def __init__(self, corpus, api: FakeBotAPI) -> None:
        self.corpus, self.api = corpus, api

    def ask(self, question: str, progress=None):
        answer = self.corpus.ask(question, progress=progress)
        self.api.wait_for(lambda: any(d["text"].startswith("Checking") for d in self.api.drafts), timeout=10)
        return answer

    def __getattr__(self, name):
        return getattr(self.corpus, name)


def test_private_chat_sees_drafts_searching_then_checking_then_the_answer_and_a_passing_reaction(
        corpus, start_bot, fake_api):
    start_bot(Paced(corpus, fake_api))
    question = fake_api.send_text(USER, QUESTION)
    [reply] = fake_api.wait_messages(USER, 1)
    drafts = [d for d in fake_api.drafts if d["chat_id"] == USER]
    assert [d["text"] for d in drafts][:2] == ["Searching…", "Checking 1 source…"]
    assert {d["draft_id"] for d in drafts} == {question["message_id"]}
    assert all(d["at"] < reply["sent_at"] for d in drafts)  # the final message replaces the preview
    assert "joint declaration" in parse_telegram_html(reply["text"])
    assert not fake_api.calls_to("sendChatAction")
    # 👀 on the question while working, taken back once the answer is there
    fake_api.wait_for(lambda: len(fake_api.reaction_log) == 2)
    first, last = fake_api.reaction_log
    assert first["emoji"] == ["👀"] and first["message_id"] == question["message_id"] and first["at"] < reply["sent_at"]
    assert last["emoji"] == [] and fake_api.reactions[(USER, question["message_id"])] == []
    assert fake_api.rejected == []


def test_groups_keep_typing_and_get_no_drafts(corpus, start_bot, fake_api):
    start_bot(corpus)
    fake_api.send_text(USER, f"@citebot_test_bot {QUESTION}", chat_id=GROUP, chat_type="supergroup")
    [reply] = fake_api.wait_messages(GROUP, 1)
    assert "joint declaration" in parse_telegram_html(reply["text"])
    assert fake_api.calls_to("sendChatAction") and fake_api.drafts == []
    assert fake_api.rejected == []


def test_reaction_votes_count_like_the_buttons_change_and_withdraw(corpus, start_bot, fake_api):
    bot = start_bot(corpus)
    fake_api.send_text(USER, QUESTION)
    [answer] = fake_api.wait_messages(USER, 1)
    storage = bot.app.bot_data.storage
    assert "message_reaction" in fake_api.allowed_updates  # Telegram sends reactions only when asked
    key = fake_api.wait_for(lambda: storage.key_at(USER, answer["message_id"]))

    def tally() -> tuple[int, int]:
        counts = storage.tally(key)
        return counts.up, counts.down

    fake_api.react(USER, answer, "👍")
    fake_api.wait_for(lambda: tally() == (1, 0))
    fake_api.react(USER, answer, "👎", old=("👍",))  # changes the vote, as the other button would
    fake_api.wait_for(lambda: tally() == (0, 1))
    [vote] = storage.votes()
    assert vote.question == QUESTION and vote.user_id == USER and vote.vote == -1 and vote.passage_ids
    fake_api.react(USER, answer, "🔥", old=("👎",))  # another reaction takes the vote back
    fake_api.wait_for(lambda: tally() == (0, 0))
    fake_api.react(USER, fake_api.send_text(USER, "not an answer"), "👍")  # on some other message: nothing
    fake_api.press(USER, answer, buttons(answer)["👍"])  # the buttons count the same votes
    fake_api.wait_for(lambda: tally() == (1, 0))
    assert len(storage.votes()) == 1
    assert fake_api.rejected == []


def test_a_bot_that_does_not_ask_for_reactions_never_gets_them(fake_api):
    fake_api.allowed_updates = ["message", "callback_query"]
    message = fake_api.send_text(USER, "hello")
    assert fake_api.react(USER, message, "👍") is None and fake_api.undelivered


@pytest.fixture
def inline_api():
    with FakeBotAPI(TOKEN, inline_mode=True) as api:
        yield api


def test_inline_query_offers_the_cited_answer_with_grouped_sources_and_a_link_to_the_bot(
        corpus, start_bot, inline_api):
    start_bot(corpus, api=inline_api)
    query_id = inline_api.inline_query(USER, QUESTION)
    answer = inline_api.wait_for(lambda: inline_api.inline_answers.get(query_id))
    [result] = answer["results"]
    assert result["type"] == "article" and "joint declaration" in result["title"]
    content = result["input_message_content"]
    text = parse_telegram_html(content["message_text"])
    assert "In 1956, the Soviet Union and Japan signed a joint declaration on ceasing the state of war. [1]" in text
    assert "\n\n[1] The resumption of talks on the peace treaty with Tokyo is… · 2024-02-07 · TASS" in text
    assert "blockquote" not in content["message_text"]  # no passages posted into other people's chats
    assert buttons(result) == {"Ask the bot for more": "https://t.me/citebot_test_bot"}
    assert answer.get("is_personal") in (True, "true", "True")
    # typing on: only the query the user stopped at is searched, the ones before it get nothing
    typed = [inline_api.inline_query(USER, QUESTION[:n]) for n in (20, 30, 40)]
    final = inline_api.wait_for(lambda: inline_api.inline_answers.get(typed[-1]))
    assert QUESTION[:40] in inline_api.inline_queries[typed[-1]]["query"] and final["results"]
    assert not any(q in inline_api.inline_answers for q in typed[:-1])
    # a few letters typed so far: a hint, no search
    short = inline_api.inline_query(USER, "whe")
    hint = inline_api.wait_for(lambda: inline_api.inline_answers.get(short))
    assert hint["results"] == [] and hint["button"]["text"].startswith("Type a question")
    assert inline_api.rejected == []


def test_inline_mode_follows_the_access_rules(corpus, start_bot, inline_api):
    start_bot(corpus, api=inline_api, CITEBOT_TELEGRAM_ALLOWED_USERS=str(USER + 5))
    query_id = inline_api.inline_query(USER, QUESTION)
    answer = inline_api.wait_for(lambda: inline_api.inline_answers.get(query_id))
    assert answer["results"] == [] and answer["button"]["text"] == "This bot is private"
    assert inline_api.rejected == []


def test_without_setinline_no_inline_query_reaches_the_bot(fake_api):
    assert fake_api.inline_query(USER, QUESTION) is None


# --- the fake refuses what Telegram refuses ---------------------------------------------------------------

@pytest.mark.parametrize("html", [
    "<blockquote>a<blockquote expandable>b</blockquote></blockquote>",  # no quote in a quote
    "<code>a <b>b</b></code>",  # nothing inside code
    '<a href="https://a.example">x <a href="https://b.example">y</a></a>',
    "<blockquote class=\"x\">x</blockquote>",
    "<b>x</b>" * 201,  # more entities than a message may hold
])
def test_strict_parser_refuses_what_telegram_refuses(html):
    with pytest.raises(ParseError):
        parse_telegram_html(html)


def test_strict_parser_accepts_expandable_quotes_and_code_in_pre():
    assert parse_telegram_html("<blockquote expandable>a <b>b</b> <u>c…</u></blockquote>") == "a b c…"
    assert parse_telegram_html('<pre><code class="language-python">x</code></pre>') == "x"
    assert parse_telegram_html("<b>x</b>" * 200) == "x" * 200


def test_fake_refuses_bad_drafts_reactions_and_inline_answers():
    api = FakeBotAPI(TOKEN, inline_mode=True)
    message = api.send_text(USER, "hello")
    group = api.send_text(USER, "hello", chat_id=GROUP, chat_type="supergroup")
    refused = [
        ("sendMessageDraft", {"chat_id": GROUP, "draft_id": 5, "text": "x"}),  # drafts: private chats only
        ("sendMessageDraft", {"chat_id": USER, "draft_id": 0, "text": "x"}),
        ("sendMessageDraft", {"chat_id": USER, "draft_id": 5, "text": "x" * 4097}),
        ("sendMessageDraft", {"chat_id": USER, "draft_id": 5, "text": "😀" * 2049}),  # 4098 UTF-16 units
        ("setMessageReaction", {"chat_id": USER, "message_id": message["message_id"],
                                "reaction": [{"type": "emoji", "emoji": "🦆"}]}),
        ("setMessageReaction", {"chat_id": USER, "message_id": message["message_id"],
                                "reaction": [{"type": "emoji", "emoji": "👀"}, {"type": "emoji", "emoji": "👍"}]}),
        ("setMessageReaction", {"chat_id": USER, "message_id": 999999, "reaction": []}),
    ]
    for method, params in refused:
        with pytest.raises(ApiError):
            api._dispatch(method, params)
    assert api._dispatch("setMessageReaction", {"chat_id": GROUP, "message_id": group["message_id"],
                                                "reaction": [{"type": "emoji", "emoji": "👀"}]})
    query_id = api.inline_query(USER, "q")
    article = {"type": "article", "id": "a", "title": "t", "input_message_content": {"message_text": "x"}}
    for results in ([article, dict(article)],  # duplicate id
                    [{**article, "title": ""}],
                    [{**article, "input_message_content": {"message_text": "<b>x", "parse_mode": "HTML"}}],
                    [{**article, "input_message_content": {"message_text": "x" * 4097}}],
                    [{**article, "id": str(i)} for i in range(51)]):
        with pytest.raises(ApiError):
            api._dispatch("answerInlineQuery", {"inline_query_id": query_id, "results": results})
    assert api._dispatch("answerInlineQuery", {"inline_query_id": query_id, "results": [article]})
    with pytest.raises(ApiError):  # answered twice
        api._dispatch("answerInlineQuery", {"inline_query_id": query_id, "results": [article]})


def test_progress_shows_the_search_then_the_verified_sentences_of_an_llm_answer_in_the_users_language():
    """Progress driven as Corpus.ask drives it (from a worker thread), against a recording bot."""
    import asyncio
    import threading

    from telegram import Update

    from bot.progress import Progress
    from tests.bot.recording import message

    class Bot:
        def __init__(self) -> None:
            self.drafts: list[str] = []
            self.reactions: list[list] = []

        async def send_message_draft(self, chat_id, draft_id, text, parse_mode):
            self.drafts.append(text)

        async def set_message_reaction(self, chat_id, message_id, reaction):
            self.reactions.append([r.emoji for r in reaction])

    async def run(lang: str) -> Bot:
        bot = Bot()
        update = Update.de_json(message(USER, "why?", lang=lang), None)
        async with Progress(bot, update, lang) as progress:
            async def step(event: AskProgress, shown: str) -> None:
                threading.Thread(target=progress.report, args=(event,)).start()
                while not bot.drafts or bot.drafts[-1] != shown:
                    await asyncio.sleep(0.01)

            await step(AskProgress("found", sources=3), "Checking 3 sources…" if lang == "en" else "Проверяю источники: 3…")
            await step(AskProgress("verified", sentences=["Talks stopped <in> 2022 [1]."]),
                       "Talks stopped &lt;in&gt; 2022 [1].")
        return bot

    english = asyncio.run(run("en"))
    assert english.drafts == ["Searching…", "Checking 3 sources…", "Talks stopped &lt;in&gt; 2022 [1]."]
    assert english.reactions == [["👀"], []]
    assert asyncio.run(run("ru")).drafts[0] == "Ищу…"
