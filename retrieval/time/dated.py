"""How current an answer's evidence is, said in the question's language.

The first line of a dated answer names the newest quoted report: "As of 7 Feb 2024 (TASS)" /
"По состоянию на 7 февраля 2024 (TASS)". For a recency question whose newest quoted report is older
than ``stale_days`` before today, a note says it is the latest report there is; a quoted report
without a date is said to be undated rather than given a date it does not have. The answer text itself
(the verbatim quotes) is never changed: these lines are ``Answer.time`` fields that the CLI, JSON and
the bot show.
"""
from __future__ import annotations

from ..types import Answer
from .periods import days_between, format_date

_TEXT = {
    "en": {
        "as_of": "As of {date} ({source})",
        "as_of_nosource": "As of {date}",
        "undated": "The quoted report is undated: I cannot say how current it is.",
        "stale": "This is the latest report I have: {date}, {days} days before {today}.",
        "fallback": "Nothing dated {label} answers this; answered from all dates.",
        "future": "{label} is after today ({today}): nothing can be dated then; answered from all dates.",
        "outlets": "Reported by {n} outlets {marks}.",
        "differ": "Other reports differ:",
    },
    "ru": {
        "as_of": "По состоянию на {date} ({source})",
        "as_of_nosource": "По состоянию на {date}",
        "undated": "У цитируемого сообщения нет даты: не могу сказать, насколько оно актуально.",
        "stale": "Это последнее сообщение, которое у меня есть: {date}, за {days} дн. до {today}.",
        "fallback": "За период «{label}» ничего не отвечает на вопрос; ответ по всем датам.",
        "future": "Период «{label}» позже сегодняшнего дня ({today}): таких дат нет; ответ по всем датам.",
        "outlets": "Сообщают {n} независимых источника {marks}.",
        "differ": "Другие источники расходятся:",
    },
}


def text(key: str, lang: str, **params: object) -> str:
    return _TEXT["ru" if lang == "ru" else "en"][key].format(**params)


def newest_quoted(answer: Answer) -> tuple[str | None, str]:
    """(date, source) of the newest quoted citation (None when every quoted one is undated)."""
    quoted = [c for c in answer.citations if c.quotes] or answer.citations[:1]
    dated = [c for c in quoted if c.date]
    if not dated:
        return None, ""
    best = max(dated, key=lambda c: c.date or "")
    return best.date, best.source


def headline(answer: Answer, lang: str) -> tuple[str, str | None]:
    """The first line and the date it names ("" and None for an unanswered or undated answer)."""
    if not answer.answered:
        return "", None
    date, source = newest_quoted(answer)
    if date is None:
        return "", None
    shown = format_date(date[:10], lang)
    line = text("as_of", lang, date=shown, source=source) if source else text("as_of_nosource", lang, date=shown)
    return line, date


def stale_note(latest: str | None, today: str | None, stale_days: int, lang: str) -> str:
    """The "latest report I have" note, or "" when the newest quoted report is recent enough."""
    if latest is None:
        return text("undated", lang)
    if not today:
        return ""
    days = days_between(latest[:10], today)
    if days <= stale_days:
        return ""
    return text("stale", lang, date=format_date(latest[:10], lang), days=days, today=format_date(today, lang))
