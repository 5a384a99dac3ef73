"""What a question asks for (a date, a number, a person, a place), in English and Russian, and where a
sentence holds something of that type.

The matchers are language-independent on purpose: a Russian question over English news asks "когда",
and the English sentence must show a year. Spans are (start, end) offsets in the sentence, used both to
prefer sentences that hold an answer of the right type and to show that span in bold.
"""
from __future__ import annotations

import functools
import re

DATE, NUMBER, PERSON, PLACE, REASON = "date", "number", "person", "place", "reason"

# First match wins: "how many years" asks for a number, "in what year" for a date.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in (
    (NUMBER, r"\bhow (many|much)\b|\bhow (long|far|old|large|big|tall|high)\b|\bwhat (percentage|percent|number|amount)\b"
             r"|\bсколько\b|\bкаков[аоы]? (количество|число|процент|доля|размер)|\bкакое (количество|число)\b"
             r"|\bкакой (процент|объ[её]м)\b|\bна сколько\b"),
    (DATE, r"\bwhen\b|\b(what|which) (year|date|day|month|century|decade|time period|era)\b|\bin what year\b"
           r"|\bкогда\b|\bв как(ом|ой|ие) (году|годы|год|веке|века|месяце|день|период|десятилетии)\b"
           r"|\bкакого (числа|года)\b|\bв каком\s+году\b|\bс какого (года|времени)\b|\bдо какого года\b"),
    (PERSON, r"\bwho\b|\bwhom\b|\bwhose\b|\b(what|which) (person|man|woman|king|president|emperor|leader|scientist)\b"
             r"|\bкто\b|\bкого\b|\bкому\b|\bкем\b|\bчей\b|\bчья\b|\bчьё\b|\bчьи\b"),
    (PLACE, r"\bwhere\b|\b(what|which|in which|in what) (city|country|state|region|place|town|river|continent|island|county)\b"
            r"|\bгде\b|\bкуда\b|\bоткуда\b|\bв как(ом|ой|ую) (город|городе|стране|регионе|месте|штате|области|реке)\b"
            r"|\bкак(ой|ая|ое) (город|страна|регион|штат|река|остров)\b"),
))

_MONTHS = (r"January|February|March|April|May|June|July|August|September|October|November|December"
           r"|январ[ья]|феврал[ья]|марта?|апрел[ья]|ма[йя]|июн[ья]|июл[ья]|августа?|сентябр[ья]|октябр[ья]"
           r"|ноябр[ья]|декабр[ья]")
_DATE_SPAN = re.compile(
    rf"\b(?:\d{{1,2}}\s+)?(?:{_MONTHS})(?:\s+\d{{1,2}})?(?:,?\s+\d{{3,4}})?\b"
    r"|\b\d{3,4}s\b|\b(?:1[0-9]|20)\d{2}(?:\s*(?:–|-|to|до)\s*(?:1[0-9]|20)?\d{2})?\b"
    r"|\b\d{1,2}(?:st|nd|rd|th)[- ]century\b|\b[IVXL]+\s+век[а-я]*|\b\d{1,2}[- ]?(?:м|го)?\s+век[а-я]*",
    re.IGNORECASE)
_NUMBER_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
                 r"|hundred|thousand|million|billion|dozen|half"
                 r"|один|одна|два|две|три|четыре|пять|шесть|семь|восемь|девять|десять|двадцать|тридцать|сорок"
                 r"|пятьдесят|сто|тысяч[аи]?|миллион[аов]*|миллиард[аов]*|половин[аы]")
_NUMBER_SPAN = re.compile(
    rf"[$£€]?\b\d[\d,.\s]*\d\b(?:\s*(?:%|percent|per cent|процент[а-я]*|million|billion|млн|млрд|тыс\.?))?|[$£€]?\b\d\b"
    rf"|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
# A name: a capitalised word (or a run of them) that does not start the sentence.
_NAME_SPAN = re.compile(r"(?<=[\s(«\"'])(?:[A-ZА-ЯЁ][\w'’-]+)(?:\s+(?:(?:de|von|van|der|of|the|da|di|la|le)\s+)?[A-ZА-ЯЁ][\w'’-]+)*")


# Russian forms whose English twins are typed above ("how long", "in which century", "under whose rule").
_MORE_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in (
    (NUMBER, r"\bиз скольк|\bкак долго\b|\bнасколько\b|\bна какую сумму\b|\bкакой (длины|высоты|ширины|глубины|площади)\b"
             r"|\bкаков[аоы]? (длина|высота|ширина|площадь|численность|стоимость|население|скорость|масса|вес)\b"
             r"|\bво сколько\b|\bскольким\b"),
    (DATE, r"\bв как(ом|ое) столети|\bв как(ую|ой) эпох|\bв какое время\b|\bв какой период\b"),
    (PERSON, r"\bпри ч[ье][её]м правлении\b|\bч[ье]им\b|\bч[ье]ей\b|\bчьего\b|\bчьих\b"),
    (PLACE, r"\bв как(ом|ой|ую) (округ|округе|провинци|районе?|части|стран|город|штат)|\bиз какой (страны|области|части)\b"
            r"|\bв какой местности\b"),
))

_WHY = re.compile(r"\bwhy\b|\bfor what reason\b|\bпочему\b|\bзачем\b|\bотчего\b|\bпо какой причине\b"
                  r"|\bс какой целью\b", re.IGNORECASE)


def question_type(question: str, reasons: bool = False, more_forms: bool = False) -> str:
    """The expected answer type ("date", "number", "person", "place", with ``reasons`` also "reason")
    or "" when the question does not say."""
    for kind, pattern in _RULES + (_MORE_FORMS if more_forms else ()):
        if pattern.search(question):
            return kind
    if reasons and _WHY.search(question):
        return REASON
    return ""


def type_spans(sentence: str, kind: str) -> list[tuple[int, int]]:
    """Spans of ``sentence`` that could answer a question of type ``kind``."""
    return list(_type_spans(sentence, kind))


@functools.lru_cache(maxsize=32768)
def _type_spans(sentence: str, kind: str) -> tuple[tuple[int, int], ...]:
    if kind == DATE:
        return tuple(m.span() for m in _DATE_SPAN.finditer(sentence))
    if kind == NUMBER:
        return tuple(m.span() for m in _NUMBER_SPAN.finditer(sentence) if not _is_year_only(m.group()))
    if kind in (PERSON, PLACE):
        return tuple(m.span() for m in _NAME_SPAN.finditer(sentence))
    if kind == REASON:
        return tuple(m.span() for m in _REASON_SPAN.finditer(sentence))
    return ()


# What states a cause or a purpose, in either language (a Russian "почему" over English news too).
_REASON_SPAN = re.compile(
    r"\b(?:because(?: of)?|due to|owing to|as a result of|in response to|in order to|so that|thanks to"
    r"|after (?:it|they|he|she|the)\b[^,.;]*|over the\b[^,.;]*|since (?:it|they|the)\b[^,.;]*"
    r"|потому что|так как|из-за|в связи с|поскольку|благодаря|в ответ на|вследствие|чтобы|после того как)\b",
    re.IGNORECASE)


def _is_year_only(text: str) -> bool:
    return bool(re.fullmatch(r"(1[0-9]|20)\d{2}", text.strip()))
