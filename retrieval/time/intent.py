"""What a question says about time, in English and Russian: recency, a named period, a timeline.

- recency ("latest", "now", "today", "последние", "сейчас", "на этой неделе", ...): the answer should
  come from the newest reports; it becomes a prior on passage dates (``prior.py``), never a filter;
- a period ("in March 1987", "in 2023", "last year", "в марте 2022", "в 2023 году", "в прошлом году"):
  a date filter ``since``..``until``. Relative periods ("last year", "this month", "in March" without a
  year) are counted from ``today``: the caller's reference date (``ask --as-of``) or, without one, the
  newest document date, so an archive answers as of its own end and tests are stable;
- a timeline ("how did X develop?", "timeline of X", "хронология", "как развивались ...").

Impossible dates ("31 February", "the 13th month", "в 13-м месяце") are a UserError with code
``impossible_date``; a period after ``today`` ("in 2090") is understood but flagged ``future``, and the
answer says nothing can be dated then and searches all dates. "When"/"когда" is the answer type's
business (``answer/qtype.py``), not a time intent. Matching is done on the question only, so a question
without any of these words is answered exactly as before.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Callable

from ..ingest.dates import _EN_MONTH_RE, _RU_MONTH_RE, month_number
from ..text.scripts import script
from .periods import Period, check_day, day_period, month_period, year_period

RECENT, PERIOD = "recent", "period"

_RECENT_EN = re.compile(
    r"\b(?:latest|most recent|newest|recent(?:ly)?|right now|now|currently|at present|at the moment|today|tonight"
    r"|this week|yesterday|up to date|what'?s new|any news)\b", re.IGNORECASE)
_NOT_RECENT_EN = re.compile(r"\bcurrent account\b", re.IGNORECASE)
# "последний" alone is often "the last (of a series)": "за последние три минуты", "последний премьер"; only
# its news senses count
_RECENT_RU = re.compile(
    r"(?<![\w])(?:(?:что|какие|какая|какое)\s+последн\w*|последн\w+\s+(?:новост|сообщени|данн|событи|заявлени|известия"
    r"|информаци|изменени|решени)\w*|в последнее время|недавн\w*|свеж\w+\s+(?:новост|данн|сообщени)\w*|сейчас"
    r"|сегодня\w*|теперь|на этой неделе|вчера\w*|на данный момент|в настоящее время|что нового)(?![\w])", re.IGNORECASE)

_TIMELINE = re.compile(
    r"\btimeline of\b|\b(?:a|the) timeline\b(?! (?:is|was|of the (?:scale|chart)))|\bchronology\b|\bsequence of events\b|\bhow (?:did|has|have|do|does)\b.*\b(?:develop|developed|evolve|evolved"
    r"|unfold|unfolded|progress|progressed)\b"
    r"|(?<![\w])(?:хронолог\w*|как развивал\w*|как развивает\w*|как развивались|как менял\w*|как изменял\w*"
    r"|развитие событий|ход событий|как шл[иоа]\w*)(?![\w])", re.IGNORECASE)

_YEAR = r"(1[0-9]\d\d|2\d\d\d)"
_EN_PREP = r"(?:in|during|of|from|for|throughout|since|by)"
# "March 5, 1987", "5 March 1987", "March 5", "5th of March"
_EN_DAY = re.compile(rf"\b(?:(?P<m1>{_EN_MONTH_RE})\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y1>\d{{4}}))?"
                     rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m2>{_EN_MONTH_RE})(?:,?\s+(?P<y2>\d{{4}}))?)\b",
                     re.IGNORECASE)
_EN_MONTH_YEAR = re.compile(rf"\b(?P<m>{_EN_MONTH_RE}),?\s+(?:of\s+)?{_YEAR}\b", re.IGNORECASE)
_EN_MONTH_ALONE = re.compile(rf"\b{_EN_PREP}\s+(?:early |late |mid-?)?(?P<m>{_EN_MONTH_RE})(?!\s*\d)\b", re.IGNORECASE)
_EN_YEAR = re.compile(rf"\b(?:{_EN_PREP}\s+(?:the\s+year\s+)?|year\s+){_YEAR}\b", re.IGNORECASE)
_EN_RELATIVE = re.compile(r"\b(?P<which>last|this|past|previous)\s+(?P<unit>year|month)\b", re.IGNORECASE)
_EN_BAD_MONTH = re.compile(r"\b(?P<n>\d{1,3})(?:st|nd|rd|th)\s+month\b", re.IGNORECASE)

_RU_DAY = re.compile(rf"(?<![\d])(?P<d>\d{{1,2}})(?:-?(?:го|е))?\s+(?P<m>{_RU_MONTH_RE})(?:\s+(?P<y>\d{{4}}))?", re.IGNORECASE)
_RU_MONTH_YEAR = re.compile(rf"(?<![\w])(?P<m>{_RU_MONTH_RE})\s+{_YEAR}", re.IGNORECASE)
_RU_MONTH_ALONE = re.compile(rf"(?<![\w])(?:в|во|за)\s+(?P<m>{_RU_MONTH_RE})(?!\s*\d)", re.IGNORECASE)
_RU_YEAR = re.compile(rf"(?<![\w\d]){_YEAR}\s*(?:-?м\s+)?(?:год\w*|г\.|г\b)", re.IGNORECASE)
_RU_RELATIVE = re.compile(r"(?<![\w])(?:в|за)\s+(?P<which>прошл\w+|этом|текущ\w+|минувш\w+)\s+(?P<unit>году|год|месяце|месяц)",
                          re.IGNORECASE)
_RU_BAD_MONTH = re.compile(r"(?<![\d])(?P<n>\d{1,3})\s*-?\s*(?:м|й|ом|ый|ого)?\s+месяц\w*", re.IGNORECASE)


@dataclass(frozen=True)
class TimeIntent:
    """What was understood: ``kind`` "recent", "period" or None; the period's bounds and words;
    ``timeline`` for "how did X develop"; ``future`` when the period lies after ``today`` (nothing can
    be dated then, so no filter is applied); ``lang`` the question's language ("en"/"ru")."""

    kind: str | None = None
    since: str | None = None
    until: str | None = None
    label: str = ""
    timeline: bool = False
    future: bool = False
    lang: str = "en"
    today: str | None = None
    searched: str = ""  # the question without its time words (the filter or the prior carries them)

    @property
    def active(self) -> bool:
        return self.kind is not None or self.timeline


NO_INTENT = TimeIntent()
Today = Callable[[], "str | None"]


def question_lang(question: str) -> str:
    return "ru" if script(question) == "cyr" else "en"


def parse_intent(question: str, today: Today | str | None = None) -> TimeIntent:
    """The time intent of ``question``. ``today`` (an ISO date, or a function giving one, called only when
    a relative period needs it) anchors "last year", "this month", "in March" and marks future periods."""
    lang = question_lang(question)
    get_today = today if callable(today) else (lambda: today)
    _check_months(question, lang)
    timeline = bool(_TIMELINE.search(question))
    found = _period(question, lang, get_today)
    if found is not None:
        period, (start, end) = found
        ref = get_today()
        future = bool(ref) and period.since > ref
        rest = _DANGLING.sub("", question[:start]) + " " + question[end:]
        return TimeIntent(PERIOD, period.since, period.until, period.label, timeline, future, lang, ref,
                          _tidy(rest, question))
    recent = (bool(_RECENT_EN.search(question)) and not _NOT_RECENT_EN.search(question)) or bool(_RECENT_RU.search(question))
    if recent and not timeline:
        rest = _NEWS.sub(" ", _RECENT_RU.sub(" ", _RECENT_EN.sub(" ", question)))
        return TimeIntent(RECENT, lang=lang, today=get_today(), searched=_tidy(rest, question))
    if timeline:
        return TimeIntent(None, timeline=True, lang=lang)
    return TimeIntent(lang=lang)


_DANGLING = re.compile(r"(?:\b(?:in|during|on|of|for|from|since|by|throughout)|(?<![\w])(?:в|во|за))\s*$", re.IGNORECASE)
_NEWS = re.compile(r"\b(?:news|updates?)\b|(?<![\w])(?:новост\w*)(?![\w])", re.IGNORECASE)


def _tidy(rest: str, question: str) -> str:
    """The question without its time words, one space between words; the question itself when nothing
    but time words was asked ("What is new?")."""
    text = re.sub(r"\s+([?!.,])", r"\1", " ".join(rest.split())).strip(" ,")
    return text if len(text.split()) >= 2 else question


def _check_months(question: str, lang: str) -> None:
    for pattern in (_EN_BAD_MONTH, _RU_BAD_MONTH):
        for m in pattern.finditer(question):
            month_period(2000, int(m["n"]), lang)  # raises for 0 or 13+


def _period(question: str, lang: str, today: Today) -> tuple[Period, tuple[int, int]] | None:
    """The most specific period named: a day, a month of a year, a month, a year, a relative one."""
    for m in _EN_DAY.finditer(question):
        month = month_number(m["m1"] or m["m2"])
        day = int(m["d1"] or m["d2"])
        year = m["y1"] or m["y2"]
        if month and 1 <= day <= 99:
            if year:
                return day_period(int(year), month, day, lang), m.span()
            check_day(month, day, lang)
            anchored = _anchor_month(month, today)
            if anchored:
                return day_period(anchored, month, day, lang), m.span()
    for m in _RU_DAY.finditer(question):
        month = month_number(m["m"])
        if month:
            day = int(m["d"])
            if m["y"]:
                return day_period(int(m["y"]), month, day, lang), _with_year_word(question, m.end(), m.start())
            check_day(month, day, lang)
            anchored = _anchor_month(month, today)
            if anchored:
                return day_period(anchored, month, day, lang), m.span()
    for pattern in (_EN_MONTH_YEAR, _RU_MONTH_YEAR):
        m = pattern.search(question)
        if m and month_number(m["m"]):
            return month_period(int(m.group(m.lastindex)), month_number(m["m"]), lang), _with_year_word(question, m.end(), m.start())
    for pattern in (_EN_YEAR, _RU_YEAR):
        m = pattern.search(question)
        if m:
            return year_period(int(m.group(m.lastindex)), lang), m.span()
    for pattern in (_EN_MONTH_ALONE, _RU_MONTH_ALONE):
        m = pattern.search(question)
        if m and month_number(m["m"]) and not (pattern is _EN_MONTH_ALONE and m["m"].lower() == "may"):
            year = _anchor_month(month_number(m["m"]), today)
            if year:
                return month_period(year, month_number(m["m"]), lang), m.span()
    for pattern in (_EN_RELATIVE, _RU_RELATIVE):
        m = pattern.search(question)
        ref = today() if m else None
        if m and ref:
            d = dt.date.fromisoformat(ref)
            last = m["which"].lower().startswith(("last", "past", "previous", "прошл", "минувш"))
            if m["unit"].lower().startswith(("year", "год")):
                return year_period(d.year - 1 if last else d.year, lang), m.span()
            year, month = (d.year, d.month - 1) if last else (d.year, d.month)
            if month == 0:
                year, month = year - 1, 12
            return month_period(year, month, lang), m.span()
    return None


_YEAR_WORD = re.compile(r"\s*(?:года|году|год|г\.)", re.IGNORECASE)


def _with_year_word(question: str, end: int, start: int) -> tuple[int, int]:
    """The span of a Russian date with its "года" ("в марте 2022 года")."""
    m = _YEAR_WORD.match(question, end)
    return (start, m.end() if m else end)


def _anchor_month(month: int | None, today: Today) -> int | None:
    """The year of the latest such month on or before today ("in March", asked in February 2024: 2023)."""
    ref = today()
    if not month or not ref:
        return None
    d = dt.date.fromisoformat(ref)
    return d.year if month <= d.month else d.year - 1
