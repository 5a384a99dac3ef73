"""Offline language detection (ISO 639-1) for each loaded document, stored as its ``lang``.

The code is metadata (shown by ``citebot show``, kept with the document): sentence splitting and stemming
do not depend on it, since both handle English and Russian by script. py3langid ships its naive-Bayes
model (97 languages) inside the wheel as a numpy archive, so nothing is downloaded. On very short or mixed
text its guess is weak; then a script heuristic decides between Russian/Ukrainian (Cyrillic) and English
(Latin with English stop words), and anything else is "".
"""
from __future__ import annotations

import functools
import re
import threading

from ..text.scripts import letter_counts

_MAX_CHARS = 4000  # the model's verdict is stable long before this; longer text only costs time
_MIN_PROB = 0.80
_lock = threading.Lock()

_UKRAINIAN_ONLY = re.compile(r"[іїєґІЇЄҐ]")
_EN_STOPWORDS = frozenset(
    "the of and to is was for that with from are has have this what who when where why how did does "
    "which were would will been its their there".split()
)
_NOISE = re.compile(r"https?://\S+|www\.\S+|\]\([^)]*\)|[@#]\w+|[*_`|>\[\]]")


@functools.lru_cache(maxsize=1)
def _identifier():  # type: ignore[no-untyped-def]
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def detect(text: str) -> str:
    """ISO 639-1 code of ``text`` ("en", "ru", "de", ...), or "" when there is too little to tell."""
    sample = _NOISE.sub(" ", text[: 2 * _MAX_CHARS])[:_MAX_CHARS]  # links and markup say nothing of the language
    cyrillic, latin = letter_counts(sample)
    if cyrillic + latin < 3 and not re.search(r"\w{3}", sample):
        return ""
    with _lock:  # the identifier keeps per-call scratch state
        label, prob = _identifier().classify(sample)
    if prob >= _MIN_PROB and len(re.findall(r"\w+", sample)) >= 3:
        return str(label)
    return _by_script(sample, cyrillic, latin)


def _by_script(sample: str, cyrillic: int, latin: int) -> str:
    if cyrillic >= latin and cyrillic >= 3:  # Russian text quoting Latin names: "Что такое DECnet?"
        return "uk" if len(_UKRAINIAN_ONLY.findall(sample)) * 50 > cyrillic else "ru"
    if latin > 2 * cyrillic and latin >= 3:
        words = re.findall(r"[a-z]+", sample.lower())
        if words and any(w in _EN_STOPWORDS for w in words):
            return "en"
    return ""
