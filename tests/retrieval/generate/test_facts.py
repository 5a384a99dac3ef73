"""Numbers, dates and names of a generated sentence must occur in its cited passages, in any format."""
from __future__ import annotations

import pytest

from retrieval.generate.facts import Haystack, missing_facts, number_readings

PASSAGE = ("The Russian foreign ministry said in March 2022 that Moscow was stopping peace treaty talks with "
           "Tokyo. More than 20 packages of sanctions and 1,000 new rules were adopted; the budget fell by 2.5%. "
           "In 1956, the Soviet Union and Japan signed a joint declaration on 19.10.1956.")
RU_PASSAGE = ("В марте 2022 года МИД России заявил, что Москва прекращает переговоры с Японией о мирном договоре. "
              "Было принято 1 000 мер.")


@pytest.mark.parametrize("sentence", [
    "Talks stopped in March 2022.",
    "Talks stopped in 03.2022.",
    "Talks stopped in 2022-03.",
    "Talks stopped in Mar. 2022.",
    "Japan adopted more than twenty packages.",
    "Japan adopted more than 20 packages.",
    "Some 1000 rules were adopted.",
    "Some 1 000 rules were adopted.",
    "The budget fell by 2,5 percent.",
    "Japan's declaration dates from October 19, 1956.",
    "The Russian ministry stopped talks with the Japanese government.",
    "Russia stopped the talks.",
])
def test_supported_facts_in_other_formats_pass(sentence):
    assert missing_facts(sentence, Haystack([PASSAGE])) == []


@pytest.mark.parametrize("sentence, missing", [
    ("Talks stopped in April 2022.", "date"),
    ("Talks stopped in March 2021.", "date"),
    ("Talks stopped in 04.2022.", "date"),
    ("Japan adopted more than 30 packages.", "number"),
    ("Japan adopted more than thirty packages.", "number"),
    ("Japan adopted 10,000 rules.", "number"),
    ("The budget fell by 25%.", "number"),
    ("Talks with Seoul stopped.", "name"),
    ("Lavrov stopped the talks.", "name"),
    ("Austria signed the declaration.", "name"),
    ("The declaration was signed on 20.10.1956.", "date"),
])
def test_facts_not_in_the_passage_are_reported(sentence, missing):
    found = missing_facts(sentence, Haystack([PASSAGE]))
    assert found and found[0].startswith(missing), found


def test_russian_inflection_and_month_forms():
    hay = Haystack([RU_PASSAGE])
    assert missing_facts("Москва прекратила переговоры с Японией в марте 2022 года.", hay) == []
    assert missing_facts("Переговоры прекращены в марте 2022.", hay) == []
    assert missing_facts("Япония приняла 1000 мер.", hay) == []
    assert missing_facts("Переговоры прекращены в апреле 2022 года.", hay)
    assert missing_facts("Переговоры с Кореей прекращены в марте 2022 года.", hay)


def test_number_readings_cover_separators():
    assert "1000" in number_readings("1,000") and "1000" in number_readings("1 000")
    assert number_readings("2,5") == {"2.5"} and number_readings("2.5") == {"2.5"}
    assert "1234.5" in number_readings("1,234.5")
