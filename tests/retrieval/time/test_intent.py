"""Temporal intent from the question, English and Russian: recency, periods (absolute and relative to
"today"), timelines, and impossible dates as one clear error."""
from __future__ import annotations

import pytest

from retrieval import UserError
from retrieval.time import PERIOD, RECENT, parse_intent
from retrieval.time.dated import stale_note
from retrieval.time.periods import format_date
from retrieval.time.prior import Prior, freshness, rerank
from retrieval.time.timeline import topic
from retrieval.types import Hit

TODAY = "2024-02-08"


@pytest.mark.parametrize("question", [
    "What is the latest on the peace treaty?", "What's new on the talks?", "Where do the talks stand now?",
    "What happened today in Tokyo?", "Any news this week?", "What did the ministry say yesterday?",
    "Какие последние новости о переговорах?", "Что сейчас с переговорами?", "Что произошло сегодня?",
    "Что случилось на этой неделе?", "Что вчера сказал министр?",
])
def test_recency(question):
    intent = parse_intent(question, TODAY)
    assert intent.kind == RECENT and intent.since is None and intent.today == TODAY


@pytest.mark.parametrize("question, since, until, label", [
    ("What happened in March 2022?", "2022-03-01", "2022-03-31", "March 2022"),
    ("What happened in 2023?", "2023-01-01", "2023-12-31", "2023"),
    ("What did they agree last year?", "2023-01-01", "2023-12-31", "2023"),
    ("What did they say last month?", "2024-01-01", "2024-01-31", "January 2024"),
    ("What happened in March?", "2023-03-01", "2023-03-31", "March 2023"),  # the latest March before today
    ("What was said on February 29, 2020?", "2020-02-29", "2020-02-29", "29 Feb 2020"),
    ("Что было в марте 2022?", "2022-03-01", "2022-03-31", "март 2022"),
    ("Что произошло в 2023 году?", "2023-01-01", "2023-12-31", "2023 г."),
    ("Что было в прошлом году?", "2023-01-01", "2023-12-31", "2023 г."),
    ("Что сказали 7 февраля 2024 года?", "2024-02-07", "2024-02-07", "7 февраля 2024"),
    ("Что было в этом месяце?", "2024-02-01", "2024-02-29", "февраль 2024"),
])
def test_periods(question, since, until, label):
    intent = parse_intent(question, TODAY)
    assert (intent.kind, intent.since, intent.until, intent.label) == (PERIOD, since, until, label)
    assert not intent.future


def test_relative_periods_follow_the_reference_date():
    assert parse_intent("What happened last year?", "1987-10-20").since == "1986-01-01"
    assert parse_intent("What happened last month?", "2024-01-15").since == "2023-12-01"  # across the year
    assert parse_intent("Что было в прошлом месяце?", "2024-03-31").until == "2024-02-29"


def test_the_reference_date_is_only_read_when_needed():
    calls = []

    def today():
        calls.append(1)
        return TODAY

    parse_intent("What happened in March 2022?", today)
    assert calls == [1]  # read once, to tell whether the period is in the future
    calls.clear()
    parse_intent("Why did the talks stop?", today)
    assert calls == []


def test_future_period_is_flagged_not_refused():
    intent = parse_intent("What will happen in 2090?", TODAY)
    assert intent.kind == PERIOD and intent.future and intent.since == "2090-01-01"


@pytest.mark.parametrize("question", [
    "What happened on 31 February?", "What happened on February 30, 2023?", "Что было 31 апреля?",
    "Что было в 13-м месяце?", "What happened in the 13th month?", "Что было 30 февраля 2023 года?",
])
def test_impossible_dates(question):
    with pytest.raises(UserError) as err:
        parse_intent(question, TODAY)
    assert err.value.code == "impossible_date"


def test_29_february_without_a_year_is_possible():
    intent = parse_intent("What happened on 29 February?", TODAY)
    assert intent.since == "2024-02-29"


@pytest.mark.parametrize("question", [
    "How did the peace talks develop?", "Timeline of the Texaco bid", "Chronology of the strike",
    "Хронология переговоров", "Как развивались переговоры о мирном договоре?",
])
def test_timeline(question):
    assert parse_intent(question, TODAY).timeline


@pytest.mark.parametrize("question", [
    "Why did the talks stop?", "When did the talks stop?", "Когда остановились переговоры?",
    "What is the current account deficit?", "Who leads the delegation?", "May I ask about oil prices?",
    "How many packages of sanctions were adopted?", "Сколько пакетов санкций приняла Япония?",
])
def test_no_intent(question):
    intent = parse_intent(question, TODAY)
    assert not intent.active


def test_timeline_topic_drops_the_timeline_words():
    assert topic("Timeline of the Texaco bid") == "Texaco bid"
    assert topic("Хронология переговоров") == "переговоров"
    assert topic("How did the Us West story develop?") == "Us West"
    assert topic("Как развивались события вокруг Дурова?") == "Дурова"


def test_freshness_and_undated_passages():
    assert freshness("2024-02-08", TODAY, 7) == 1.0
    assert freshness("2024-02-01", TODAY, 7) == pytest.approx(0.5)
    assert freshness(None, TODAY, 7) == 0.0
    assert freshness("2030-01-01", TODAY, 7) == 1.0  # future-dated: as fresh as today, not fresher


def test_rerank_prefers_the_newer_of_two_close_candidates_and_keeps_undated_ones():
    def hit(pid, score, date):
        return Hit(pid, pid, score, score, None, "t", 0, 1, "", date, "", "")

    hits = [hit(1, 0.9, "2024-01-01"), hit(2, 0.85, "2024-02-07"), hit(3, 0.95, None)]
    ranked = rerank(hits, TODAY, Prior(7, 0.3, 0.1), 3)
    assert [h.passage_id for h in ranked] == [2, 3, 1]


def test_dates_said_in_both_languages():
    assert format_date("2024-02-07") == "7 Feb 2024"
    assert format_date("2024-02-07", "ru") == "7 февраля 2024"
    assert stale_note("2024-01-01", TODAY, 30, "en") == "This is the latest report I have: 1 Jan 2024, 38 days before 8 Feb 2024."
    assert stale_note("2024-02-01", TODAY, 30, "en") == ""
    assert stale_note(None, TODAY, 30, "ru").startswith("У цитируемого сообщения нет даты")
