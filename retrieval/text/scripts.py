"""Which alphabet a text is written in: Cyrillic or Latin letters, counted.

Language detection falls back on it for short texts, and the answer gate uses it to tell a question
asked across languages (a Russian question, an English passage) from one asked in the passage's own.
"""
from __future__ import annotations

import re

CYRILLIC = re.compile(r"[а-яёА-ЯЁіїєґІЇЄҐ]")  # Russian and Ukrainian letters
LATIN = re.compile(r"[A-Za-z]")


def letter_counts(text: str) -> tuple[int, int]:
    """(Cyrillic letters, Latin letters) in ``text``."""
    return len(CYRILLIC.findall(text)), len(LATIN.findall(text))


def script(text: str) -> str:
    """'cyr' or 'lat', by the majority of letters; '' when there are none."""
    cyrillic, latin = letter_counts(text)
    if not cyrillic and not latin:
        return ""
    return "cyr" if cyrillic > latin else "lat"
