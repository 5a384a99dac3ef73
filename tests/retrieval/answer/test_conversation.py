"""Follow-up questions: rewritten into standalone ones (by rule, or by the LLM), bounded in memory."""
from __future__ import annotations

import pytest

from retrieval.answer.conversation import Conversations, is_follow_up, rewrite

from ...conftest import SEED_ARTICLE
from ...fakes.openai_server import FakeOpenAI, answering
from ..cli.test_cli import citebot

MARCH = "The Russian foreign ministry said in March 2022 that Moscow was stopping peace treaty talks with Tokyo"


@pytest.mark.parametrize("question, expected", [
    ("when was that?", True), ("why?", True), ("and Japan?", True), ("what did he say?", True),
    ("а когда?", True), ("когда это было?", True), ("It was signed when?", True),
    ("What is the capital of Peru?", False), ("Who is Rudenko?", False), ("why did talks stop?", False),
    ("When did the Soviet Union and Japan sign the declaration?", False),
])
def test_follow_ups_are_recognised(question, expected):
    assert is_follow_up(question) is expected


@pytest.mark.parametrize("previous, question, expected", [
    ("why did talks stop?", "when was that?", "when did talks stop?"),
    ("why did talks stop?", "and why?", "why did talks stop?"),
    ("почему прекратились переговоры?", "а когда это было?", "когда прекратились переговоры?"),
    ("What did Rudenko say about Japan?", "why did he say it?", "why did he say it (Rudenko say about Japan)?"),
    ("why did talks stop?", "and in Japan?", "in Japan (talks stop)?"),
])
def test_rule_rewrite_carries_the_previous_subject(previous, question, expected):
    assert rewrite(previous, question) == expected


def test_turns_are_bounded_expiring_and_forgettable():
    now = [0.0]
    conv = Conversations(max_turns=2, ttl_s=60, max_keys=2, clock=lambda: now[0])
    for i in range(3):
        conv.record("a", f"q{i}", f"q{i}", "answer")
    assert [t.question for t in conv.history("a")] == ["q1", "q2"]
    conv.record("b", "q", "q", "a")
    conv.record("c", "q", "q", "a")  # a third key evicts the least recently used one ("a")
    assert conv.history("a") == [] and len(conv) == 2
    now[0] = 61
    assert conv.history("b") == []  # expired
    assert conv.standalone("b", "when was that?") is None
    conv.record("c", "why did talks stop?", "why did talks stop?", "x")
    conv.forget("c")
    assert conv.standalone("c", "when was that?") is None


def test_two_turns_without_an_llm_answer_with_the_march_2022_sentence(seed_corpus):
    conv = Conversations()
    first = conv.ask(seed_corpus, "chat", "why did talks stop?")
    assert first.answered and first.searched_for is None
    second = conv.ask(seed_corpus, "chat", "when was that?")
    assert second.searched_for == "when did talks stop?" and second.question == "when was that?"
    assert second.answered and second.mode == "extractive"
    assert second.sentences[0].text.startswith(MARCH)
    # other keys (another chat, another user in a group) have no history
    other = conv.ask(seed_corpus, ("group", 2), "when was that?")
    assert other.searched_for is None
    conv.forget("chat")
    assert conv.ask(seed_corpus, "chat", "when was that?").searched_for is None


def test_two_turns_with_the_fake_llm(make_corpus):
    standalone = "When did Moscow stop the peace treaty talks with Tokyo?"
    with FakeOpenAI(answering("Moscow stopped the peace treaty talks with Tokyo in March 2022 [1].",
                              rewrite=standalone)) as llm:
        corpus = make_corpus(llm_url=llm.url, llm_timeout=5.0)
        assert corpus.add_paths([SEED_ARTICLE])[0].status == "added"
        conv = Conversations()
        conv.ask(corpus, "chat", "why did talks stop?")
        second = conv.ask(corpus, "chat", "when was that?")
        assert second.searched_for == standalone
        assert second.mode == "generative"
        assert second.answer == "Moscow stopped the peace treaty talks with Tokyo in March 2022. [1]"
        assert second.sentences[0].quote.startswith(MARCH)
        rewrites = [r for r in llm.requests if r.is_rewrite]
        assert len(rewrites) == 1 and "why did talks stop?" in rewrites[0].prompt
        assert llm.answer_requests[-1].prompt.count(standalone) == 1  # the rewrite is what was asked


@pytest.mark.parametrize("bad_rewrite", ["NO ANSWER", "When was that?", "Question one?\nQuestion two?",
                                         "When did the weather change?"])
def test_an_unusable_llm_rewrite_falls_back_to_the_rule(make_corpus, bad_rewrite):
    with FakeOpenAI(answering("NO ANSWER", rewrite=bad_rewrite)) as llm:
        corpus = make_corpus(llm_url=llm.url, llm_timeout=5.0)
        corpus.add_paths([SEED_ARTICLE])
        conv = Conversations()
        conv.ask(corpus, "chat", "why did talks stop?")
        second = conv.ask(corpus, "chat", "when was that?")
        assert second.searched_for == "when did talks stop?"
        assert second.mode == "extractive" and second.fallback == "refusal"
        assert second.sentences[0].text.startswith(MARCH)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("chat") / "index"
    assert citebot(home, "add", str(SEED_ARTICLE)).returncode == 0
    return home


def chat_answers(stdout: str) -> list[str]:
    return [block for block in stdout.split("\n\n") if block.strip()]


def test_citebot_chat_follow_up_and_new(home):
    result = citebot(home, "chat", stdin="why did talks stop?\nwhen was that?\n/new\nwhen was that?\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("searched for: when did talks stop?") == 1
    second = out.split("searched for: when did talks stop?")[1].split("Sources:")[0]
    assert MARCH in second
    assert "New conversation" in out
    after_new = out.split("New conversation")[1]
    assert "searched for:" not in after_new


def test_citebot_chat_with_the_fake_llm(home, monkeypatch):
    standalone = "When did Moscow stop the peace treaty talks with Tokyo?"
    with FakeOpenAI(answering("Moscow stopped the peace treaty talks with Tokyo in March 2022 [1].",
                              rewrite=standalone)) as llm:
        for key, value in llm.env().items():
            monkeypatch.setenv(key, value)
        result = citebot(home, "chat", "--quotes", stdin="why did talks stop?\nwhen was that?\n")
    assert result.returncode == 0, result.stderr
    second = result.stdout.split(f"searched for: {standalone}")[1].split("Sources:")[0]
    assert "Moscow stopped the peace treaty talks with Tokyo in March 2022. [1]" in second
    assert f'> "{MARCH}' in second  # the supporting quote, on request
