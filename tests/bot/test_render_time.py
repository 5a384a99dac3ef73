"""The bot shows what ``retrieval.time`` adds to an answer: the dated first line, the outlets that state
the fact, reports that differ, the period/staleness note, timelines with their dates."""
from __future__ import annotations

from bot.render import answer_html
from retrieval.types import Answer, Citation, Corroboration, TimeInfo, TimelineEntry
from tests.fakes.bot_api import parse_telegram_html


def citation(n=1, passage="Talks stopped in March 2022. Nothing else happened.", quotes=((0, 28),), **kw):
    base = dict(n=n, doc_id=7 + n, passage_id=70 + n, title="Moscow halts talks", date="2022-03-21",
                source="TASS", url="https://tass.com/politics/1", passage=passage, score=0.8, quotes=list(quotes))
    base.update(kw)
    return Citation(**base)


def answered(*cits, sentences=None):
    sentences = sentences if sentences is not None else [("Talks stopped in March 2022.", 1)]
    return Answer("When did talks stop?", True, " ".join(s for s, _ in sentences), list(cits), sentences)


def test_dated_first_line_outlets_and_note_in_telegram_html():
    answer = answered(citation(), citation(n=2, source="Kyodo <news>", passage="Talks stopped in March 2022, Kyodo said.",
                                          quotes=[(0, 24)]))
    answer.time = TimeInfo("recent", lang="en", headline="As of 21 Mar 2022 (TASS)",
                           note="This is the latest report I have: 21 Mar 2022, 40 days before 30 Apr 2022.",
                           corroboration=Corroboration(2, [1, 2], ["TASS", "Kyodo <news>"]))
    html = answer_html(answer, "en")
    assert html.index("<i>As of 21 Mar 2022 (TASS):</i>") < html.index("Talks stopped in March 2022.")
    assert "Reported by 2 outlets." in html
    assert "latest report I have" in html
    parse_telegram_html(html)


def test_russian_headline_and_differing_report():
    answer = answered(citation(), citation(n=2, passage="Переговоры остановлены 22 марта.", quotes=[(0, 10)]))
    answer.time = TimeInfo(None, lang="ru", headline="По состоянию на 21 марта 2022 (ТАСС)",
                           corroboration=Corroboration(1, [1], ["ТАСС"], [TimelineEntry("2022-03-22", "Переговоры остановлены 22 марта.", 2)]))
    html = answer_html(answer, "ru")
    assert "По состоянию на 21 марта 2022 (ТАСС):" in html
    assert "Другие источники расходятся:" in html and "• Переговоры остановлены 22 марта." in html
    parse_telegram_html(html)


def test_timeline_lines_keep_their_dates():
    answer = answered(citation(), citation(n=2), sentences=[("Talks began.", 1), ("Talks stopped.", 2)])
    answer.answer = "2 Mar 2022: Talks began. [1]\n21 Mar 2022: Talks stopped. [2]"
    answer.time = TimeInfo(None, timeline=[TimelineEntry("2022-03-02", "Talks began.", 1),
                                           TimelineEntry("2022-03-21", "Talks stopped.", 2)])
    html = answer_html(answer, "en")
    assert "2 Mar 2022: Talks began. [1]\n21 Mar 2022: Talks stopped. [2]" in html
    parse_telegram_html(html)
