"""Timeline answers: "how did X develop?", "timeline of X", "хронология", "как развивались ...".

The topic (the question without its timeline words) is searched with a wide pool; the pool's passages
are grouped by date and each date's best sentence is chosen by the ordinary answer rules (the same gate:
a date whose passages do not answer the topic gives no step). Up to ``timeline_max`` dates are kept,
the most relevant ones when there are more, then ordered by date, oldest first, each with its date and
citation. Undated passages cannot be placed on a timeline and are left out of it (they remain
reachable through an ordinary question). Near-duplicate copies share a date and so give one step.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

from ..types import Answer, AnswerSentence, Citation, Hit, TimelineEntry
from .intent import _TIMELINE
from .periods import format_date

_FILLER = re.compile(r"^\W*(?:of|the|on|about|for|in|с|по|о|об|события вокруг|события с|ситуация вокруг|ситуация с"
                     r"|история с|дела с|events around|events at)\b\W*|\W+$|\s+(?:story|saga|affair)\W*$",
                     re.IGNORECASE)
_HOW_DID = re.compile(r"\bhow (?:did|has|have|do|does) (?P<topic>.+?) (?:develop|developed|evolve|evolved|unfold|unfolded"
                      r"|progress|progressed)\b", re.IGNORECASE)


def topic(question: str) -> str:
    """The question without its timeline words ("timeline of the Texaco bid" -> "Texaco bid", "How did
    the Us West story develop?" -> "Us West", "Как развивались события вокруг Дурова?" -> "Дурова")."""
    m = _HOW_DID.search(question)
    rest = m["topic"] if m else _TIMELINE.sub(" ", question)
    for _ in range(3):
        rest = _FILLER.sub("", rest.strip())
    return rest.strip() or question


def build(corpus: Any, question: str, pool: Sequence[Hit], most: int,
          lang: str) -> tuple[Answer, list[TimelineEntry]] | None:
    """The timeline answer from ``pool`` or None when fewer than two dates answer (then the caller
    answers the question the ordinary way)."""
    subject = topic(question)
    by_date: dict[str, list[Hit]] = {}
    for hit in pool:
        if hit.date:
            by_date.setdefault(hit.date[:10], []).append(hit)
    steps: list[tuple[float, str, AnswerSentence, Citation]] = []
    for date, hits in by_date.items():
        partial = corpus.answer_hits(subject, hits[:3], generate=False)
        if not partial.answered or not partial.sentences:
            continue
        first = partial.sentences[0]
        citation = next(c for c in partial.citations if c.n == first.citations[0])
        steps.append((partial.confidence, date, first, citation))
    if len(steps) < 2:
        return None
    steps = sorted(steps, key=lambda s: -s[0])[:most]
    steps.sort(key=lambda s: s[1])
    citations: list[Citation] = []
    entries: list[TimelineEntry] = []
    sentences: list[AnswerSentence] = []
    lines: list[str] = []
    for n, (_, date, sentence, citation) in enumerate(steps, 1):
        citation.n = n
        citations.append(citation)
        entries.append(TimelineEntry(date, sentence.text, n))
        sentences.append(AnswerSentence(sentence.text, [n], 1.0, sentence.text))
        lines.append(f"{format_date(date, lang)}: {sentence.text} [{n}]")
    answer = Answer(question, True, "\n".join(lines), citations, sentences, max(s[0] for s in steps))
    return answer, entries
