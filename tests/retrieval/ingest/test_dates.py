"""Dates and datelines in English and Russian become ISO dates, and nothing is guessed."""
from __future__ import annotations

import pytest

from retrieval.ingest.dates import find_dateline, find_dates, month_number, parse_date


@pytest.mark.parametrize(
    "text, iso",
    [
        ("2024-02-08", "2024-02-08"),
        ("2024-02-08T10:00:00Z", "2024-02-08"),
        ("2024-02-08T23:30:00+03:00", "2024-02-08"),
        ("2024-02-08 10:00", "2024-02-08"),
        ("February 8, 2024", "2024-02-08"),
        ("Feb 8, 2024", "2024-02-08"),
        ("Feb. 8 2024", "2024-02-08"),
        ("Sept 30, 2023", "2023-09-30"),
        ("8 February 2024", "2024-02-08"),
        ("8th of February, 2024", "2024-02-08"),
        ("February 29, 2024", "2024-02-29"),
        ("08.02.2024", "2024-02-08"),
        ("8 февраля 2024", "2024-02-08"),
        ("8 февраля 2024 года", "2024-02-08"),
        ("8 февраля 2024 г.", "2024-02-08"),
        ("1 мая 2023", "2023-05-01"),
        ("31 декабря 2023 г", "2023-12-31"),
        ("15 МАРТА 2022", "2022-03-15"),
        ("3 сент. 2021", "2021-09-03"),
    ],
)
def test_parse_date(text, iso):
    assert parse_date(text) == iso


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "2024-02-30", "February 30, 2023", "February 29, 2023", "31.04.2024", "2024-13-01",
     "8 февраля", "February 8", "Published 2024-02-08 by TASS", "32 января 2024"],
)
def test_parse_date_rejects_non_dates_and_partial_dates(text):
    assert parse_date(text) is None


def test_find_dates_in_running_text_both_languages():
    text = ("Соглашение подписано 19 октября 1956 года. The talks resumed on March 21, 2022 and "
            "stopped on 2022-03-22; см. также 08.02.2024.")
    assert find_dates(text) == ["1956-10-19", "2022-03-21", "2022-03-22", "2024-02-08"]


def test_words_that_start_like_months_are_not_months():
    assert find_dates("марка 2024 and 5 марки 2024, 5 мартышек 2024") == []
    assert month_number("март") == 3 and month_number("марта") == 3 and month_number("марка") is None


@pytest.mark.parametrize(
    "text, place, source, iso, rest",
    [
        ("MOSCOW, February 8. /TASS/. The resumption", "MOSCOW", "TASS", "2024-02-08", "The resumption"),
        ("  MOSCOW, Feb 8. /TASS/. Text", "MOSCOW", "TASS", "2024-02-08", "Text"),
        ("NEW YORK, March 3, 2023. /TASS/. Text", "NEW YORK", "TASS", "2023-03-03", "Text"),
        ("ST. PETERSBURG, June 14. /TASS/. Text", "ST. PETERSBURG", "TASS", "2024-06-14", "Text"),
        ("МОСКВА, 8 февраля. /ТАСС/. Возобновление", "МОСКВА", "ТАСС", "2024-02-08", "Возобновление"),
        ("САНКТ-ПЕТЕРБУРГ, 14 июня. /ТАСС/. Текст", "САНКТ-ПЕТЕРБУРГ", "ТАСС", "2024-06-14", "Текст"),
        ("LONDON, Feb 8 (Reuters) - Oil prices rose", "LONDON", "Reuters", "2024-02-08", "Oil prices rose"),
        ("WASHINGTON, February 8, 2024 (Reuters) — Text", "WASHINGTON", "Reuters", "2024-02-08", "Text"),
        ("МОСКВА, 8 фев — РИА Новости. Текст", "МОСКВА", "РИА Новости", "2024-02-08", "Текст"),
        ("МОСКВА, 8 марта (Интерфакс) - Текст", "МОСКВА", "Интерфакс", "2024-03-08", "Текст"),
        ("MOSCOW. Feb 8 (Interfax) - Text", "MOSCOW", "Interfax", "2024-02-08", "Text"),
        ("МОСКВА, 8 февраля 2023. /ТАСС/. Текст", "МОСКВА", "ТАСС", "2023-02-08", "Текст"),
    ],
)
def test_datelines(text, place, source, iso, rest):
    dl = find_dateline(text)
    assert dl is not None
    assert (dl.place, dl.source) == (place, source)
    assert dl.resolve(reference="2024-02-07") == iso
    assert text[dl.end:] == rest


def test_dateline_year_closest_to_reference_across_new_year():
    dl = find_dateline("MOSCOW, December 31. /TASS/. Text")
    assert dl.resolve(reference="2025-01-01") == "2024-12-31"
    dl = find_dateline("МОСКВА, 2 января. /ТАСС/. Текст")
    assert dl.resolve(reference="2024-12-30") == "2025-01-02"


def test_dateline_year_from_a_date_in_the_text():
    dl = find_dateline("MOSCOW, February 8. /TASS/. Text")
    assert dl.resolve(text="On 8 February 2023 the minister said") == "2023-02-08"
    assert dl.resolve(text="no year anywhere") is None


@pytest.mark.parametrize(
    "text",
    ["Moscow, February 8, officials said", "The MOSCOW talks. /TASS/.", "MOSCOW, February 40. /TASS/. x",
     "Москва, 8 февраля. /ТАСС/. x", "MOSCOW, Smarch 8. /TASS/. x", "Text before MOSCOW, February 8. /TASS/. x",
     "I (the author) - wrote this", "NATO (North Atlantic Treaty Organization) said"],
)
def test_not_datelines(text):
    assert find_dateline(text) is None


@pytest.mark.parametrize("text, place, source", [("WASHINGTON (AP) — The Senate voted", "WASHINGTON", "AP"),
                                                 ("PARIS (AFP) - Text", "PARIS", "AFP")])
def test_datelines_without_a_date(text, place, source):
    dl = find_dateline(text)
    assert (dl.place, dl.source) == (place, source)
    assert dl.resolve(reference="2024-02-07", text="February 8, 2024") is None  # no date to take a year for
    assert not text[dl.end:].startswith(("—", "-", " "))
