"""Calendar arithmetic for question periods: a month, a year or a day as an inclusive ISO date range.

Kept apart from the wording (``intent.py``) so the edge cases (December, leap years, a day that does not
exist) are tested on their own and one definition serves both languages.
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from ..errors import UserError


@dataclass(frozen=True)
class Period:
    """An inclusive date range ``since``..``until`` (ISO) and how to say it ("March 1987", "март 1987")."""

    since: str
    until: str
    label: str


EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")
RU_MONTHS_GEN = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
                 "октября", "ноября", "декабря")
RU_MONTHS_NOM = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь",
                 "октябрь", "ноябрь", "декабрь")


def month_period(year: int, month: int, lang: str = "en") -> Period:
    """The whole month; a month number outside 1-12 is a UserError (``impossible_date``)."""
    if not 1 <= month <= 12:
        raise UserError(f"there is no month {month}: months run from 1 to 12", code="impossible_date",
                        value=str(month))
    last = calendar.monthrange(year, month)[1]
    label = f"{RU_MONTHS_NOM[month - 1]} {year}" if lang == "ru" else f"{EN_MONTHS[month - 1]} {year}"
    return Period(dt.date(year, month, 1).isoformat(), dt.date(year, month, last).isoformat(), label)


def year_period(year: int, lang: str = "en") -> Period:
    return Period(f"{year:04d}-01-01", f"{year:04d}-12-31", f"{year} г." if lang == "ru" else str(year))


def day_period(year: int, month: int, day: int, lang: str = "en") -> Period:
    """One day; "31 February" is a UserError (``impossible_date``), never a silent 3 March."""
    try:
        date = dt.date(year, month, day)
    except ValueError:
        name = RU_MONTHS_GEN[month - 1] if lang == "ru" and 1 <= month <= 12 else (
            EN_MONTHS[month - 1] if 1 <= month <= 12 else str(month))
        raise UserError(f"{day} {name} is not a date: that month has "
                        f"{calendar.monthrange(year, month)[1] if 1 <= month <= 12 else 'no'} days",
                        code="impossible_date", value=f"{day} {name}") from None
    return Period(date.isoformat(), date.isoformat(), format_date(date.isoformat(), lang))


def check_day(month: int, day: int, lang: str = "en") -> None:
    """A day of a month named without a year must exist in some year (29 February does, 30 February not)."""
    day_period(2000, month, day, lang)  # 2000 is a leap year: the most permissive calendar


def format_date(iso: str, lang: str = "en") -> str:
    """7 Feb 2024 / 7 февраля 2024: the date as an answer's first line says it."""
    d = dt.date.fromisoformat(iso)
    if lang == "ru":
        return f"{d.day} {RU_MONTHS_GEN[d.month - 1]} {d.year}"
    return f"{d.day} {EN_MONTHS[d.month - 1][:3]} {d.year}"


def days_between(older: str, newer: str) -> int:
    return (dt.date.fromisoformat(newer) - dt.date.fromisoformat(older)).days
