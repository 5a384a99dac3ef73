"""Answers that know what time it is: temporal intent, recency, periods, dated answers, timelines,
corroboration (issue 19; reference in docs/answers.md#time).

- ``intent``: what the question says about time (English and Russian);
- ``periods``: calendar arithmetic and how dates are said;
- ``prior``: the recency prior on passage dates, applied only when asked;
- ``dated``: the answer's first line ("As of 7 Feb 2024 (TASS)") and its notes;
- ``timeline``: dated steps of "how did X develop?";
- ``corroborate``: independent outlets stating the fact, and reports that differ;
- ``ask``: the one place that applies them around ``Corpus.search`` / ``Corpus.answer_hits``.

Story versions live with the corpus (``retrieval/corpus/versions.py``): they are facts about stored
documents, decided at add time. This package never imports the corpus.
"""
from .ask import answer_in_time
from .intent import NO_INTENT, PERIOD, RECENT, TimeIntent, parse_intent

__all__ = ["NO_INTENT", "PERIOD", "RECENT", "TimeIntent", "answer_in_time", "parse_intent"]
