"""Language detection picks the sentence splitter and stemmer, so it must be right on news text."""
from __future__ import annotations

import pytest

from retrieval.ingest.lang import detect


@pytest.mark.parametrize(
    "text, code",
    [
        ("The resumption of talks on the peace treaty with Tokyo is impossible in the current environment.", "en"),
        ("Возобновление переговоров о мирном договоре с Токио в нынешних условиях невозможно.", "ru"),
        ("Die Wiederaufnahme der Gespräche über den Friedensvertrag mit Tokio ist derzeit unmöglich.", "de"),
        ("La reprise des négociations sur le traité de paix avec Tokyo est impossible dans le contexte actuel.", "fr"),
        ("La reanudación de las conversaciones sobre el tratado de paz con Tokio es imposible en las condiciones actuales.", "es"),
        ("Відновлення переговорів про мирний договір з Токіо в нинішніх умовах неможливе.", "uk"),
        ("La ripresa dei negoziati sul trattato di pace con Tokyo è impossibile nella situazione attuale.", "it"),
    ],
)
def test_common_languages(text, code):
    assert detect(text) == code


@pytest.mark.parametrize(
    "text, code",
    [
        ("Who won Super Bowl XLIX?", "en"),  # the model alone is unsure on short questions
        ("Что такое DECnet?", "ru"),  # Russian question around a Latin name
        ("Обстановка в столице.\n\n[Подписаться](https://t.me/moscowtoplive) | [Прислать новость](https://t.me/x_bot)", "ru"),
    ],
)
def test_short_and_noisy_text(text, code):
    assert detect(text) == code


@pytest.mark.parametrize("text", ["", "   ", "12345 678", "!!! ???", "https://example.org/a/b"])
def test_nothing_to_tell_gives_empty(text):
    assert detect(text) == ""
