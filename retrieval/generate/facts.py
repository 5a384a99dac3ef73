"""Checkable facts of a sentence: numbers, dates and names, compared across formats and inflections.

"1,000", "1000" and "1 000" are one number; "March 2022", "03.2022", "2022-03" and "марте 2022" one
month; "Japan", "Japan's" and "Японии"/"Япония" one name (the Snowball stems of retrieval.text.lexical).
Everything here answers one question: does each fact of a generated sentence occur in the passages it
cites? Extraction errs towards finding more facts — an extra check can only drop a sentence.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ..text.lexical import STOPWORDS, terms

_EN_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
              "october", "november", "december"]
_EN_ABBR = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
            "oct": 10, "nov": 11, "dec": 12}
_RU_MONTHS = [("январ", 1), ("феврал", 2), ("март", 3), ("апрел", 4), ("ма[йяе]", 5), ("июн", 6), ("июл", 7),
              ("август", 8), ("сентябр", 9), ("октябр", 10), ("ноябр", 11), ("декабр", 12)]
# English month names are capitalised (so "may" and "march" the verbs are not months); Russian ones are not.
_EN_MONTH_RE = "|".join(m.capitalize() for m in _EN_MONTHS) + "|" + "|".join(
    a.capitalize() + r"\.?" for a in _EN_ABBR)
_RU_MONTH_RE = "|".join(rf"{stem}[а-яё]*" if not stem.startswith("ма[") else stem for stem, _ in _RU_MONTHS)
_MONTH = rf"(?:(?<![\w])(?:{_EN_MONTH_RE})(?![\w])|(?<![\w])(?i:{_RU_MONTH_RE})(?![\w]))"
_ORD = r"(?:st|nd|rd|th|-?го|-?е)?"
_TEXT_DATE = re.compile(
    rf"(?:(?<!\d)(\d{{1,2}}){_ORD}\s+(?:of\s+)?)?({_MONTH})(?:\s+(\d{{1,2}}){_ORD}(?!\d))?"
    rf"(?:,?\s+(?:of\s+|in\s+)?(\d{{4}})(?!\d))?")
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})(?:-(\d{1,2}))?(?!\d)")
_DMY_DATE = re.compile(r"(?<![\d.])(\d{1,2})[./](\d{1,2})[./](\d{4}|\d{2})(?!\d|[.,]\d)")
_MY_DATE = re.compile(r"(?<![\d.])(\d{1,2})[./](\d{4})(?!\d|[.,]\d)")
_NUMBER = re.compile(r"(?<![\w.,])\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\d])|\d+(?:[.,]\d+)*")
_NAME = re.compile(r"(?<![\w'’-])[A-ZА-ЯЁ][\w'’-]*")

NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
    "million": 1_000_000, "billion": 1_000_000_000, "dozen": 12,
    "два": 2, "две": 2, "двух": 2, "три": 3, "трех": 3, "трёх": 3, "четыре": 4, "пять": 5, "шесть": 6,
    "семь": 7, "восемь": 8, "девять": 9, "десять": 10, "двадцать": 20, "тридцать": 30, "сорок": 40,
    "пятьдесят": 50, "сто": 100, "тысяча": 1000, "тысячи": 1000, "тысяч": 1000, "миллион": 1_000_000,
    "миллиона": 1_000_000, "миллионов": 1_000_000, "миллиард": 1_000_000_000, "миллиарда": 1_000_000_000,
    "миллиардов": 1_000_000_000,
}
# Capitalised words that are not names: sentence openers and discourse words beyond the stop words.
NOT_NAMES = frozenset(
    "however although also according yes no yet still thus therefore meanwhile moreover furthermore "
    "instead today yesterday tomorrow first second third finally later earlier since while despite "
    "однако также кроме поэтому тогда сегодня вчера завтра сначала затем потом позже ранее хотя несмотря "
    "согласно по".split())


@dataclass(frozen=True)
class DateFact:
    year: int | None
    month: int
    day: int | None


@dataclass
class Facts:
    """What a text states checkably: dates, the numbers outside them, names (as stems)."""

    dates: list[list[DateFact]]  # each date expression's readings (numeric d/m vs m/d is ambiguous)
    numbers: list[set[str]]  # each number as its set of readings ("1,000" -> {"1000", "1"})
    number_words: list[str]
    names: list[str]


def _month_number(word: str) -> int | None:
    w = word.lower().rstrip(".")
    if w in _EN_MONTHS:
        return _EN_MONTHS.index(w) + 1
    if w in _EN_ABBR:
        return _EN_ABBR[w]
    for stem, n in _RU_MONTHS:
        if re.fullmatch(rf"{stem}[а-яё]*" if not stem.startswith("ма[") else stem, w):
            return n
    return None


def _year(raw: str | None) -> int | None:
    if not raw:
        return None
    value = int(raw)
    return value + (2000 if value < 50 else 1900) if len(raw) == 2 else value


def _dates(text: str) -> tuple[list[list[DateFact]], list[tuple[int, int]]]:
    """Each date expression's readings (a numeric d/m vs m/d is ambiguous) and the spans they cover."""
    found: list[list[DateFact]] = []
    spans: list[tuple[int, int]] = []

    def free(s: int, e: int) -> bool:
        return all(e <= a or s >= b for a, b in spans)

    for m in _TEXT_DATE.finditer(text):
        month = _month_number(m.group(2))
        if month is None:
            continue
        day = m.group(1) or m.group(3)
        found.append([DateFact(_year(m.group(4)), month, int(day) if day and 1 <= int(day) <= 31 else None)])
        spans.append(m.span())
    for m in _ISO_DATE.finditer(text):
        if free(*m.span()) and 1 <= int(m.group(2)) <= 12:
            found.append([DateFact(int(m.group(1)), int(m.group(2)), int(m.group(3)) if m.group(3) else None)])
            spans.append(m.span())
    for m in _DMY_DATE.finditer(text):
        if not free(*m.span()):
            continue
        a, b, year = int(m.group(1)), int(m.group(2)), _year(m.group(3))
        readings = [DateFact(year, b, a)] if 1 <= b <= 12 and 1 <= a <= 31 else []
        if 1 <= a <= 12 and 1 <= b <= 31 and a != b:
            readings.append(DateFact(year, a, b))
        if readings:
            found.append(readings)
            spans.append(m.span())
    for m in _MY_DATE.finditer(text):
        if free(*m.span()) and 1 <= int(m.group(1)) <= 12:
            found.append([DateFact(int(m.group(2)), int(m.group(1)), None)])
            spans.append(m.span())
    return found, spans


def number_readings(raw: str) -> set[str]:
    """Canonical readings of a written number: separators as thousands, or one as a decimal point."""
    raw = raw.replace("\u00a0", " ").replace("\u202f", " ")
    readings: set[str] = set()
    groups = re.split(r"[ ,.]", raw)
    seps = re.findall(r"[ ,.]", raw)
    if not seps:
        readings.add(_canonical(raw))
        return readings
    if all(len(g) == 3 for g in groups[1:]):
        readings.add(_canonical("".join(groups)))  # 1,000 / 1 000 / 1.000
    if seps[-1] in ",." and " " not in seps[:-1]:
        integer = "".join(groups[:-1])
        readings.add(_canonical(f"{integer}.{groups[-1]}"))  # 1,5 / 1.5 / 1,234.5
    if not readings:
        readings.add(_canonical("".join(groups)))
    return readings


def _canonical(digits: str) -> str:
    try:
        value = Decimal(digits)
    except InvalidOperation:
        return digits
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def extract(text: str) -> Facts:
    date_readings, spans = _dates(text)
    masked = list(text)
    for s, e in spans:
        masked[s:e] = " " * (e - s)
    rest = "".join(masked)
    numbers = [number_readings(m.group()) for m in _NUMBER.finditer(rest)]
    words = [w for w in re.findall(r"\w+", rest.lower()) if w in NUMBER_WORDS]
    names = []
    for m in _NAME.finditer(rest):
        token = re.sub(r"['’]s$", "", m.group()).strip("'’-")
        low = token.lower()
        if low in STOPWORDS or low in NOT_NAMES or len(token) < 2 or _month_number(token) is not None:
            continue
        names.append(token)
    return Facts(date_readings, numbers, words, names)


class Haystack:
    """The cited passages' text (with titles and sources) prepared for fact look-ups."""

    def __init__(self, texts: list[str]) -> None:
        joined = "\n".join(texts)
        self.stems = set(terms(joined, drop_stopwords=False))
        self.lower = joined.lower().replace("ё", "е")
        facts = extract(joined)
        self.dates = [r for readings in facts.dates for r in readings]
        self.numbers: set[str] = set().union(*facts.numbers) if facts.numbers else set()
        for d in self.dates:  # a date's parts count as numbers too ("in 2022" is in "March 2022")
            self.numbers.update(str(x) for x in (d.year, d.day) if x is not None)

    def has_date(self, readings: list[DateFact]) -> bool:
        for want in readings:
            for have in self.dates:
                if have.month != want.month:
                    continue
                if want.day is not None and have.day != want.day:
                    continue
                if want.year is not None and have.year != want.year and not (
                        have.year is None and str(want.year) in self.numbers):
                    continue
                return True
        return False

    def has_number(self, readings: set[str]) -> bool:
        return bool(readings & self.numbers)

    def has_number_word(self, word: str) -> bool:
        return str(NUMBER_WORDS[word]) in self.numbers or any(t in self.stems for t in terms(word, False))

    def has_name(self, token: str) -> bool:
        wanted = terms(token) or terms(token, drop_stopwords=False)
        return bool(wanted) and all(self._has_stem(t) for t in wanted)

    def _has_stem(self, stem: str) -> bool:
        if stem in self.stems or (len(stem) >= 3 and re.search(rf"(?<!\w){re.escape(stem)}", self.lower)):
            return True
        # "Russian" for "Russia", "японский" for "Япония": the shorter stem starts the longer one.
        for have in self.stems:
            shorter, longer = (have, stem) if len(have) <= len(stem) else (stem, have)
            if len(shorter) >= 4 and longer.startswith(shorter[: max(4, len(shorter) - 1)]):
                return True
        return False


def missing_facts(sentence: str, haystack: Haystack) -> list[str]:
    """The numbers, dates and names of ``sentence`` that the haystack does not contain (empty = all there)."""
    facts = extract(sentence)
    missing = []
    for readings in facts.dates:
        if not haystack.has_date(readings):
            d = readings[0]
            missing.append("date " + "-".join(str(x) for x in (d.year, d.month, d.day) if x is not None))
    for readings in facts.numbers:
        if not haystack.has_number(readings):
            missing.append("number " + "/".join(sorted(readings)))
    for word in facts.number_words:
        if not haystack.has_number_word(word):
            missing.append(f"number {word}")
    for name in facts.names:
        if not haystack.has_name(name):
            missing.append(f"name {name}")
    return missing
