"""Publication dates and news datelines in English and Russian, returned as ISO ``YYYY-MM-DD``.

Dates drive the ``--since/--until`` filters and appear in every citation, so a date is only returned
when it is unambiguous: a day without a month, or a dateline whose year cannot be inferred, yields
``None`` rather than a guess.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from retrieval.errors import UserError

_EN_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}
# Russian month stems: nominative ("февраль"), genitive ("февраля") and abbreviations ("фев.").
_RU_MONTHS = {
    "январ": 1, "янв": 1, "феврал": 2, "фев": 2, "март": 3, "мар": 3, "апрел": 4, "апр": 4,
    "ма": 5, "мая": 5, "май": 5, "июн": 6, "июл": 7, "август": 8, "авг": 8, "сентябр": 9, "сен": 9,
    "сент": 9, "октябр": 10, "окт": 10, "ноябр": 11, "ноя": 11, "нояб": 11, "декабр": 12, "дек": 12,
}

_EN_MONTH_RE = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
)
_RU_MONTH_RE = (
    r"(?:январ[ьяе]|феврал[ьяе]|март[ае]?|апрел[ьяе]|ма[йяе]|июн[ьяе]|июл[ьяе]|август[ае]?"
    r"|сентябр[ьяе]|октябр[ьяе]|ноябр[ьяе]|декабр[ьяе]"
    r"|янв|фев|мар|апр|июн|июл|авг|сент|сен|окт|нояб|ноя|дек)(?![а-яё])\.?"
)


def month_number(name: str) -> int | None:
    """Month 1-12 from an English or Russian month name or abbreviation, in any case/inflection."""
    word = name.strip().rstrip(".").lower()
    if word in _EN_MONTHS:
        return _EN_MONTHS[word]
    if not word or not re.fullmatch(_RU_MONTH_RE, word):
        return None
    if word in _RU_MONTHS:
        return _RU_MONTHS[word]
    # Strip one inflection letter: "февраля" -> "феврал", "марта" -> "март", "мае" -> "ма".
    for cut in (1, 2):
        stem = word[:-cut]
        if stem in _RU_MONTHS and len(stem) >= 2:
            return _RU_MONTHS[stem]
    return None


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return _dt.date(year, month, day).isoformat()
    except ValueError:
        return None


_ISO_RE = re.compile(
    r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?(?![\d])"
)
_DMY_NUM_RE = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4})(?![\d])")
_MDY_RE = re.compile(rf"\b({_EN_MONTH_RE})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b")
_DMY_EN_RE = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_EN_MONTH_RE}),?\s+(\d{{4}})\b")
_DMY_RU_RE = re.compile(rf"(?<![\d])(\d{{1,2}})\s+({_RU_MONTH_RE})\s+(\d{{4}})(?:\s*(?:года|г\.|г\b))?", re.IGNORECASE)


def parse_date(value: str) -> str | None:
    """The ISO date in ``value`` if the whole string is one date, else None.

    Accepts ISO dates and timestamps ("2024-02-08T10:00:00Z" -> "2024-02-08", the date as written,
    not shifted to UTC), "February 8, 2024", "8 February 2024", "8 февраля 2024 года", "08.02.2024".
    """
    text = value.strip()
    if not text:
        return None
    for found in _scan(text):
        start, end, iso = found
        if start == 0 and end >= len(text.rstrip(" .")):
            return iso
    return None


# Each full-date form and how its match gives (year, month, day); a month name that is not one gives None.
_FORMS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], tuple[int, int | None, int]]], ...] = (
    (_ISO_RE, lambda m: (int(m[1]), int(m[2]), int(m[3]))),
    (_DMY_NUM_RE, lambda m: (int(m[3]), int(m[2]), int(m[1]))),
    (_MDY_RE, lambda m: (int(m[3]), month_number(m[1]), int(m[2]))),
    (_DMY_EN_RE, lambda m: (int(m[3]), month_number(m[2]), int(m[1]))),
    (_DMY_RU_RE, lambda m: (int(m[3]), month_number(m[2]), int(m[1]))),
)


def _scan(text: str) -> list[tuple[int, int, str]]:
    """Every full date (with a year) in ``text`` as (start, end, iso), in order of position."""
    found: list[tuple[int, int, str]] = []
    for pattern, year_month_day in _FORMS:
        for m in pattern.finditer(text):
            year, month, day = year_month_day(m)
            iso = _iso(year, month, day) if month else None
            if iso:
                found.append((m.start(), m.end(), iso))
    found.sort()
    return found


def find_dates(text: str) -> list[str]:
    """All full dates mentioned in ``text`` (ISO), in order of appearance."""
    return [iso for _, _, iso in _scan(text)]


@dataclass
class Dateline:
    """A news dateline at the start of an article: "MOSCOW, February 8. /TASS/."."""

    place: str
    source: str
    month: int | None  # None for a dateline without a date: "WASHINGTON (AP) —"
    day: int | None
    year: int | None
    end: int  # char offset just after the dateline (and the space after it) in the scanned text

    def resolve(self, reference: str | None = None, text: str = "") -> str | None:
        """ISO date of the dateline; a missing year comes from ``reference`` or a date in ``text``.

        The year chosen puts the dateline closest to the reference date, so a "December 31"
        dateline in an article dated 2025-01-01 resolves to 2024-12-31.
        """
        if not self.month or not self.day:
            return None
        if self.year:
            return _iso(self.year, self.month, self.day)
        ref = reference or next(iter(find_dates(text)), None)
        if not ref:
            return None
        ref_date = _dt.date.fromisoformat(ref)
        best: tuple[int, str] | None = None
        for year in (ref_date.year - 1, ref_date.year, ref_date.year + 1):
            iso = _iso(year, self.month, self.day)
            if iso:
                gap = abs((_dt.date.fromisoformat(iso) - ref_date).days)
                if best is None or gap < best[0]:
                    best = (gap, iso)
        return best[1] if best else None


_PLACE_EN = r"[A-Z][A-Z.'\-]+(?:[ \-][A-Z][A-Z.'\-]+)*"
_PLACE_RU = r"[А-ЯЁ][А-ЯЁ.\-]+(?:[ \-][А-ЯЁ][А-ЯЁ.\-]+)*"
_SOURCE = r"[A-Za-zА-ЯЁа-яё][\w&.\- ]{0,30}?"
_DASH = r"[-–—]+"

_DATELINE_RES = [
    # MOSCOW, February 8. /TASS/.   WASHINGTON, Feb 8, 2024. /TASS/.
    re.compile(rf"(?P<place>{_PLACE_EN}),\s+(?P<month>{_EN_MONTH_RE})\s+(?P<day>\d{{1,2}})(?:,\s*(?P<year>\d{{4}}))?\.?\s*/(?P<source>{_SOURCE})/\.?\s*"),
    # МОСКВА, 8 февраля. /ТАСС/.
    re.compile(rf"(?P<place>{_PLACE_RU}),\s+(?P<day>\d{{1,2}})\s+(?P<month>{_RU_MONTH_RE})(?:\s+(?P<year>\d{{4}})(?:\s*г(?:ода|\.)?)?)?\.?\s*/(?P<source>{_SOURCE})/\.?\s*"),
    # LONDON, Feb 8 (Reuters) -     MOSCOW, February 8, 2024 (Reuters) —
    re.compile(rf"(?P<place>{_PLACE_EN}),\s+(?P<month>{_EN_MONTH_RE})\s+(?P<day>\d{{1,2}})(?:,\s*(?P<year>\d{{4}}))?\s*\((?P<source>{_SOURCE})\)\s*{_DASH}\s*"),
    # МОСКВА, 8 фев — РИА Новости.   МОСКВА, 8 февраля 2024 (Интерфакс) -
    re.compile(rf"(?P<place>{_PLACE_RU}),\s+(?P<day>\d{{1,2}})\s+(?P<month>{_RU_MONTH_RE})(?:\s+(?P<year>\d{{4}}))?\s*{_DASH}\s*(?P<source>[А-ЯЁA-Z][\wА-Яа-яЁё\- ]{{0,30}}?)\.\s+"),
    re.compile(rf"(?P<place>{_PLACE_RU}),\s+(?P<day>\d{{1,2}})\s+(?P<month>{_RU_MONTH_RE})(?:\s+(?P<year>\d{{4}}))?\s*\((?P<source>{_SOURCE})\)\s*{_DASH}\s*"),
    # MOSCOW. Feb 8 (Interfax) -
    re.compile(rf"(?P<place>{_PLACE_EN})\.\s+(?P<month>{_EN_MONTH_RE})\s+(?P<day>\d{{1,2}})(?:,\s*(?P<year>\d{{4}}))?\s*\((?P<source>{_SOURCE})\)\s*{_DASH}\s*"),
    # WASHINGTON (AP) —     PARIS (AFP) -   (place and agency, no date)
    re.compile(rf"(?P<place>{_PLACE_EN})\s+\((?P<source>[A-Z][A-Za-z&.\- ]{{0,30}}?)\)\s*{_DASH}\s*"),
]


def find_dateline(text: str) -> Dateline | None:
    """The dateline at the very start of ``text`` (leading whitespace allowed), or None."""
    stripped = len(text) - len(text.lstrip())
    for pattern in _DATELINE_RES:
        m = pattern.match(text, stripped)
        if not m:
            continue
        groups = m.groupdict()
        if groups.get("month") is None:  # place and agency only
            return Dateline(place=m["place"].strip(), source=m["source"].strip(), month=None, day=None,
                            year=None, end=m.end())
        month = month_number(m["month"])
        day = int(m["day"])
        if not month or not 1 <= day <= 31:
            continue
        year = int(m["year"]) if m["year"] else None
        if year and not _iso(year, month, day):
            continue
        return Dateline(
            place=m["place"].strip(), source=m["source"].strip(), month=month, day=day, year=year, end=m.end()
        )
    return None


@dataclass
class Dated:
    """Text with its dateline taken off, and the metadata the dateline (or the caller) gave."""

    text: str
    place: str = ""
    source: str = ""
    date: str | None = None
    page_starts: list[int] = field(default_factory=list)


def take_dateline(text: str, *, place: str = "", source: str = "", date: str | None = None,
                  page_starts: list[int] | None = None) -> Dated:
    """Remove the dateline at the start of ``text`` and fill place, source and date from it where the
    caller has none (stated metadata wins). Every loader goes through here, so a dateline means the same
    in a text file, a JSON Lines record, a web page, a PDF or a DOCX. Page offsets move with the cut; a
    text that is nothing but a dateline keeps it as its text."""
    starts = list(page_starts or [])
    dl = find_dateline(text)
    if dl is None:
        return Dated(text, place, source, date, starts)
    rest = text[dl.end:].lstrip()
    if not rest.strip():
        return Dated(text, place, source, date, starts)
    cut = len(text) - len(rest)
    return Dated(
        text=rest,
        place=place or dl.place,
        source=source or dl.source,
        date=date or dl.resolve(text=rest),
        page_starts=[max(0, s - cut) for s in starts],
    )


def coerce_date(value: Any, message: str) -> str | None:
    """ISO date from a YAML/JSON/CSV value (date, datetime or string); raises UserError(message)."""
    if value is None or value == "":
        return None
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    iso = parse_date(str(value)) if isinstance(value, str) else None
    if not iso:
        raise UserError(message)
    return iso
