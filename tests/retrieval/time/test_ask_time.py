"""Answers that know what time it is, as a user meets them: the latest report, a named month, a
timeline, story versions and outlets counted once (acceptance 2 and 3 of issue 19).

Corpora are tiny and embedded with the deterministic hash embedder (tests/fakes/hash_embedder.py), so
each test shows what the time rules do, in seconds.
"""
from __future__ import annotations

import json

import pytest

from retrieval import Corpus, Document, UserError, load_settings
from tests.fakes.hash_embedder import HashEmbedder

OLD = ("Texaco said on Monday that its board rejected the takeover bid from Pennzoil. "
       "The company said the offer of 80 dlrs a share undervalued its oil reserves.")
NEW = ("Texaco said its board accepted a revised takeover bid from Pennzoil after talks on Friday. "
       "The improved offer of 95 dlrs a share was approved by the directors.")
OTHER = ("The central bank of Chile kept its benchmark interest rate unchanged, citing stubborn inflation. "
         "Analysts had expected the hold after three cuts.")


@pytest.fixture
def corpus(tmp_path):
    opened = []

    def make(docs: list[Document], **overrides) -> Corpus:
        settings = load_settings(env={}).replace(home=str(tmp_path / f"idx{len(opened)}"), **overrides)
        c = Corpus.open(settings, embedder=HashEmbedder())
        results = list(c.add_documents(docs, force=True))
        assert all(r.status == "added" for r in results), [r.message for r in results]
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


def texaco(**overrides) -> list[Document]:
    return [Document(OLD, "Texaco rejects Pennzoil bid", "1987-03-02", "Reuters", path="a", lang="en"),
            Document(NEW, "Texaco accepts revised Pennzoil bid", "1987-04-17", "AP", path="b", lang="en"),
            Document(OTHER, "Chile holds rates", "1987-04-20", "Reuters", path="c", lang="en")]


def test_latest_quotes_the_newer_report_and_says_its_date(corpus):
    c = corpus(texaco())
    answer = c.ask("What is the latest on the Texaco takeover bid from Pennzoil?", as_of="1987-04-20")
    assert answer.answered
    assert answer.time.intent == "recent"
    assert "accepted a revised takeover bid" in answer.answer
    assert "rejected" not in answer.answer
    assert answer.time.headline == "As of 17 Apr 1987 (AP)"
    assert answer.time.latest == "1987-04-17" and not answer.time.stale


def test_the_same_question_without_time_features_quotes_the_better_worded_older_report(corpus):
    """The baseline the recency prior is measured against: words alone pick the older report here."""
    c = corpus(texaco(), time_features=False)
    answer = c.ask("What is the latest on the Texaco board and the Pennzoil takeover bid it rejected?")
    assert "rejected the takeover bid" in answer.answer
    assert answer.to_json()["time"]["intent"] is None


def test_a_month_question_quotes_the_older_report(corpus):
    c = corpus(texaco())
    answer = c.ask("What happened to the Texaco takeover bid from Pennzoil in March 1987?")
    assert answer.time.intent == "period" and answer.time.filtered
    assert (answer.time.since, answer.time.until) == ("1987-03-01", "1987-03-31")
    assert "rejected the takeover bid" in answer.answer
    assert all(ci.date.startswith("1987-03") for ci in answer.citations)


def test_a_relative_month_is_counted_from_as_of(corpus):
    c = corpus(texaco())
    answer = c.ask("What did Texaco say about the Pennzoil bid last month?", as_of="1987-04-30")
    assert (answer.time.since, answer.time.until) == ("1987-03-01", "1987-03-31")
    assert "rejected" in answer.answer


def test_russian_period_and_headline_in_russian(corpus):
    docs = [Document("Переговоры о мирном договоре остановлены, заявил МИД России.", "МИД", "2022-03-21",
                     "ТАСС", path="r1", lang="ru"),
            Document("МИД России заявил, что переговоры о мирном договоре возобновятся не скоро.", "МИД",
                     "2023-06-10", "РИА", path="r2", lang="ru")]
    c = corpus(docs)
    answer = c.ask("Что заявил МИД о переговорах о мирном договоре в марте 2022?")
    assert answer.time.intent == "period" and "остановлены" in answer.answer
    assert answer.time.headline == "По состоянию на 21 марта 2022 (ТАСС)"
    latest = c.ask("Что последнее заявил МИД о переговорах о мирном договоре?")
    assert "возобновятся" in latest.answer and latest.time.headline.startswith("По состоянию на 10 июня 2023")


def test_a_period_with_nothing_in_it_falls_back_and_says_so(corpus):
    c = corpus(texaco())
    answer = c.ask("What happened to the Texaco takeover bid from Pennzoil in January 1987?")
    assert answer.answered and not answer.time.filtered
    assert answer.time.note == "Nothing dated January 1987 answers this; answered from all dates."


def test_a_future_year_is_understood_and_not_applied(corpus):
    c = corpus(texaco())
    answer = c.ask("What will happen to the Texaco takeover bid in 2090?")
    assert answer.time.intent == "period" and answer.time.since == "2090-01-01" and not answer.time.filtered
    assert "after today (20 Apr 1987)" in answer.time.note
    assert answer.answered


@pytest.mark.parametrize("question", ["What happened on 31 February?", "Что было 30 февраля 2023 года?",
                                      "Что случилось в 13-м месяце?", "What happened in the 13th month?"])
def test_impossible_dates_are_one_clear_error(corpus, question):
    c = corpus(texaco())
    with pytest.raises(UserError) as err:
        c.ask(question)
    assert err.value.code == "impossible_date" and "\n" not in str(err.value)


def test_bad_as_of_is_refused(corpus):
    c = corpus(texaco())
    with pytest.raises(UserError):
        c.ask("What is the latest on Texaco?", as_of="1987-02-30")


def test_undated_reports_never_win_a_recency_question_and_are_not_dropped(corpus):
    undated = Document("Texaco said its board accepted a revised takeover bid from Pennzoil, sources said.",
                       "Undated note", None, "Blog", path="u", lang="en")
    c = corpus([*texaco(), undated])
    answer = c.ask("What is the latest on the Texaco takeover bid from Pennzoil?")
    assert answer.citations[0].date is not None
    assert any(ci.date is None for ci in answer.citations)  # still shown, below the dated ones


def test_stale_latest_report_says_it_is_the_latest_i_have(corpus):
    c = corpus(texaco())
    answer = c.ask("What is the latest on the Texaco takeover bid from Pennzoil?", as_of="1987-09-01")
    assert answer.time.stale
    assert answer.time.note == "This is the latest report I have: 17 Apr 1987, 137 days before 1 Sep 1987."


def test_future_dated_entry_does_not_move_today(corpus):
    future = Document("Chile central bank notice for next century.", "Notice", "2999-01-01", "Feed", path="f")
    c = corpus([*texaco(), future])
    answer = c.ask("What is the latest on the Texaco takeover bid from Pennzoil?")
    assert answer.time.today == "1987-04-20"


def test_one_document_corpus(corpus):
    c = corpus(texaco()[:1])
    answer = c.ask("What is the latest on the Texaco takeover bid?")
    assert answer.answered and answer.time.headline == "As of 2 Mar 1987 (Reuters)"
    assert answer.time.note == ""


# -- story versions -------------------------------------------------------------------------------------
V1 = ("Pennzoil said it filed a lawsuit against Texaco seeking damages of 7.5 billion dlrs over the Getty "
      "Oil merger, and a hearing is set for next month in Houston before the state court judge.")
V2 = V1.replace("7.5 billion", "10.5 billion")


def test_a_newer_version_is_linked_not_refused_and_recency_never_quotes_the_old(tmp_path):
    settings = load_settings(env={}).replace(home=str(tmp_path / "v"))
    with Corpus.open(settings, embedder=HashEmbedder()) as c:
        first = c.add_document(Document(V1, "Pennzoil sues Texaco", "1987-03-01", "Reuters", path="v1"))
        second = c.add_document(Document(V2, "Pennzoil sues Texaco (corrected)", "1987-03-02", "Reuters", path="v2"))
        syndicated = c.add_document(Document(V2, "Pennzoil sues", "1987-03-03", "Other wire", path="v3"))
        assert (first.status, second.status) == ("added", "added")
        assert syndicated.status == "duplicate"  # the same text again is still refused
        chain = c.versions.versions(second.doc_id)
        assert [v.info.doc_id for v in chain] == [first.doc_id, second.doc_id]
        assert [v.superseded for v in chain] == [True, False]
        answer = c.ask("What is the latest on the Pennzoil lawsuit against Texaco?")
        assert "10.5 billion" in answer.answer and all(ci.doc_id != first.doc_id for ci in answer.citations)
        older_other_source = c.add_document(Document(V1 + " More.", "Pennzoil", "1987-03-05", "AP", path="v4"))
        assert older_other_source.status == "near-duplicate"  # another source: a copy, refused as before


# -- corroboration --------------------------------------------------------------------------------------
WIRE = ("The ministry said exports of grain rose 12 pct in February to 3.4 mln tonnes, the highest level "
        "since the harvest, officials in Buenos Aires reported.")
OWN = "Argentine grain exports rose 12 pct in February to 3.4 mln tonnes, the ministry said on Friday."


def test_syndicated_story_from_three_outlets_plus_one_independent_counts_as_two(corpus):
    docs = [Document(f"{WIRE} Copyright {outlet}.", "Argentine grain exports rise", "1987-03-10", outlet,
                     path=f"w{i}", lang="en")
            for i, outlet in enumerate(["Reuters", "Daily Star", "Herald"])]
    docs.append(Document(OWN, "Grain exports up", "1987-03-11", "Clarin", path="own", lang="en"))
    docs.append(Document(OTHER, "Chile holds rates", "1987-03-12", "Reuters", path="c", lang="en"))
    c = corpus(docs)
    answer = c.ask("How much did Argentine grain exports rise in February?", k=3)
    corr = answer.time.corroboration
    assert corr is not None and corr.outlets == 2
    assert "Clarin" in corr.sources and len(corr.citations) == 2
    data = answer.to_json()["time"]["corroboration"]
    assert data["outlets"] == 2
    for n in corr.citations:  # each outlet is cited and the citation exists
        assert any(ci.n == n for ci in answer.citations)
    shown = sorted({n for s in answer.sentences for n in s.citations} | set(corr.citations))
    assert shown == list(range(1, len(shown) + 1))  # quoted then outlets: numbers without a gap
    assert [ci.n for ci in answer.citations] == list(range(1, len(answer.citations) + 1))


def test_reports_that_give_different_numbers_are_both_shown(corpus):
    docs = [Document(WIRE, "Argentine grain exports rise", "1987-03-10", "Reuters", path="w", lang="en"),
            Document(WIRE.replace("3.4 mln", "3.9 mln").replace("12 pct", "15 pct"), "Grain exports",
                     "1987-03-11", "Clarin", path="x", lang="en")]
    c = corpus(docs)
    answer = c.ask("How much did Argentine grain exports rise in February 1987?")
    corr = answer.time.corroboration
    assert corr is not None and corr.differ
    quoted = "3.4 mln" if "3.4 mln" in answer.answer else "3.9 mln"
    other = "3.9 mln" if quoted == "3.4 mln" else "3.4 mln"
    assert other in corr.differ[0].text


# -- timelines ------------------------------------------------------------------------------------------
def test_timeline_orders_dated_steps_with_citations(corpus):
    c = corpus(texaco())
    answer = c.ask("Timeline of the Texaco takeover bid from Pennzoil")
    steps = answer.time.timeline
    assert [s.date for s in steps] == ["1987-03-02", "1987-04-17"]
    assert answer.answer.splitlines()[0].startswith("2 Mar 1987: ")
    assert "rejected" in steps[0].text and "accepted" in steps[1].text
    assert json.loads(json.dumps(answer.to_json()))["time"]["timeline"][1]["citation"] == 2


def test_no_time_intent_ranks_and_answers_exactly_as_with_time_features_off(corpus):
    on = corpus(texaco())
    off = corpus(texaco(), time_features=False)
    for q in ["Why did Texaco reject the Pennzoil bid?", "What did the central bank of Chile do?",
              "How much was the offer per share?", "Почему остановились переговоры?"]:
        a, b = on.ask(q), off.ask(q)
        assert a.answer == b.answer and [ci.passage_id for ci in a.citations[:3]] == [ci.passage_id for ci in b.citations[:3]]
        assert [h.passage_id for h in on.search(q, k=5)] == [h.passage_id for h in off.search(q, k=5)]


def test_the_newest_version_answers_an_ordinary_question_too(tmp_path):
    settings = load_settings(env={}).replace(home=str(tmp_path / "v"))
    with Corpus.open(settings, embedder=HashEmbedder()) as c:
        first = c.add_document(Document(V1, "Pennzoil sues Texaco", "1987-03-01", "Reuters", path="v1"))
        c.add_document(Document(V2, "Pennzoil sues Texaco (corrected)", "1987-03-02", "Reuters", path="v2"))
        answer = c.ask("How much in damages does the Pennzoil lawsuit against Texaco seek?")
        assert "10.5 billion" in answer.answer and all(ci.doc_id != first.doc_id for ci in answer.citations)
        off = Corpus.open(settings.replace(time_features=False), embedder=HashEmbedder())
        try:  # without the time features both versions are candidates, as before
            assert {ci.doc_id for ci in off.ask("How much in damages does the Pennzoil lawsuit seek?").citations} >= {first.doc_id}
        finally:
            off.close()
