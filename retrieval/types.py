"""The small value types that cross module boundaries (and the bot): documents in, answers out.

Kept in one place so `bot/` and `retrieval/` agree on them without importing heavy modules.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Document:
    """A document as loaded from a file, stdin, a URL or a bulk line, before it is split."""

    text: str
    title: str = ""
    date: str | None = None  # ISO date YYYY-MM-DD, the publication date
    source: str = ""  # publisher / agency, e.g. "TASS"
    url: str = ""
    lang: str = ""  # ISO 639-1 code, "" when unknown
    path: str = ""  # where it came from (absolute path, "-" for stdin, url)
    place: str = ""  # dateline place, e.g. "MOSCOW"
    page_starts: list[int] = field(default_factory=list)  # char offset where each page starts (PDF)

    @property
    def content_hash(self) -> str:
        return text_hash(self.text)

    def page_at(self, offset: int) -> int | None:
        """1-based page holding ``offset`` or None for documents without pages."""
        return page_at(self.page_starts, offset)


def page_at(page_starts: list[int], offset: int) -> int | None:
    """1-based page holding character ``offset``, given where each page starts; None without pages."""
    if not page_starts:
        return None
    page = 0
    for i, start in enumerate(page_starts):
        if start <= offset:
            page = i
    return page + 1


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class AddResult:
    """What adding one document did: ``added``, ``replaced``, ``duplicate``, ``near-duplicate`` or ``error``.

    ``message`` is for people; ``reason`` is for programs (the bot words its own reply from it):
    "duplicate", "near-duplicate", "empty", "no-sentences", or a loader's reason such as
    "unsupported-format" ("unreadable" when the loader gave none); "" for added and replaced.
    ``duplicate_of`` is the stored document a duplicate or near-duplicate matches (None when the match
    is earlier in the same input)."""

    status: str
    path: str
    doc_id: int | None = None
    title: str = ""
    date: str | None = None
    passages: int = 0
    message: str = ""
    reason: str = ""
    duplicate_of: int | None = None


@dataclass
class DocumentInfo:
    doc_id: int
    title: str
    date: str | None
    source: str
    url: str
    lang: str
    path: str
    passages: int
    added: str
    content_hash: str


@dataclass
class Hit:
    """One ranked passage with its document's metadata."""

    passage_id: int
    doc_id: int
    score: float  # fused score used for ranking
    dense: float | None  # cosine similarity, None if the passage was not a dense candidate
    lexical: float | None  # BM25 score, None if not a lexical candidate
    text: str
    start: int  # char offset of the passage in its document
    end: int
    title: str
    date: str | None
    source: str
    url: str
    page: int | None = None


@dataclass
class Citation:
    """A cited passage. ``quotes`` are (start, end) char spans inside ``passage`` quoted in the answer."""

    n: int
    doc_id: int
    passage_id: int
    title: str
    date: str | None
    source: str
    url: str
    passage: str
    score: float
    quotes: list[tuple[int, int]] = field(default_factory=list)
    page: int | None = None
    bold: list[tuple[int, int]] = field(default_factory=list)  # spans inside ``passage`` that answer (shown bold)


@dataclass
class AnswerSentence:
    """One answer sentence and the passages it rests on.

    ``citations`` are 1-based numbers into ``Answer.citations``; ``quote`` is the sentence of a cited
    passage that supports it (the sentence itself for extractive answers) and ``support`` how well it
    does (1.0 for a verbatim quote). Unpacks as the older ``(text, n)`` pair, so
    ``for sentence, n in answer.sentences`` keeps working.
    """

    text: str
    citations: list[int]
    support: float = 1.0
    quote: str = ""

    def __iter__(self):
        return iter((self.text, self.citations[0] if self.citations else 0))

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "citations": list(self.citations), "support": round(self.support, 4),
                "quote": self.quote}


@dataclass
class TimelineEntry:
    """One dated step of a timeline answer: the quoted sentence, its date and its citation number."""

    date: str
    text: str
    citation: int


@dataclass
class Corroboration:
    """How many independent outlets state the answer's fact (near-duplicate copies and one source's
    several reports count once), with one citation per outlet; ``differ`` are cited sentences on the
    same fact that give another number or date (shown, not silently dropped)."""

    outlets: int
    citations: list[int]
    sources: list[str]
    differ: list[TimelineEntry] = field(default_factory=list)


@dataclass
class TimeInfo:
    """What the question said about time and what the answer did with it (``retrieval/time``).

    ``intent`` is "recent", "period" or None; ``since``/``until`` the period understood; ``today`` the
    reference date (``--as-of``, else the newest document date); ``filtered`` whether the period filter
    was applied (False when nothing in the period answered, or the period is in the future: ``note``
    says so); ``headline`` the answer's first line ("As of 7 Feb 2024 (TASS)"); ``latest`` the newest
    quoted passage's date; ``stale`` True when a recency question's newest answer is older than
    ``stale_days``; ``timeline`` the dated steps of a timeline answer."""

    intent: str | None = None
    since: str | None = None
    until: str | None = None
    today: str | None = None
    label: str = ""
    lang: str = "en"
    filtered: bool = False
    note: str = ""
    headline: str = ""
    latest: str | None = None
    stale: bool = False
    timeline: list[TimelineEntry] = field(default_factory=list)
    corroboration: Corroboration | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"intent": self.intent, "since": self.since, "until": self.until,
                               "today": self.today, "filtered": self.filtered, "note": self.note,
                               "headline": self.headline, "latest": self.latest, "stale": self.stale}
        if self.timeline:
            out["timeline"] = [{"date": e.date, "text": e.text, "citation": e.citation} for e in self.timeline]
        if self.corroboration is not None:
            c = self.corroboration
            out["corroboration"] = {"outlets": c.outlets, "citations": list(c.citations), "sources": list(c.sources),
                                    "differ": [{"date": d.date, "text": d.text, "citation": d.citation}
                                               for d in c.differ]}
        return out


@dataclass
class AskProgress:
    """What ``Corpus.ask(progress=...)`` reports while it works, so a chat can show it.

    ``stage`` is "found" (the search is done: ``sources`` documents are being checked) or "verified"
    (an LLM answer passed verification: ``sentences`` are the kept ones, in order)."""

    stage: str
    sources: int = 0
    sentences: list[str] = field(default_factory=list)


@dataclass
class Answer:
    """An answer whose every sentence is traceable to a cited passage.

    ``mode`` is ``extractive`` (each sentence quoted verbatim from a cited passage) or ``generative``
    (written by an LLM, each sentence verified against the passages it cites; ``dropped`` counts the
    sentences verification removed). ``searched_for`` is the standalone question actually searched
    when a follow-up was rewritten. When ``answered`` is False, ``answer`` says so plainly and
    ``citations`` are the nearest weak matches (shown, never presented as an answer).
    """

    question: str
    answered: bool
    answer: str
    citations: list[Citation]
    sentences: list[AnswerSentence] = field(default_factory=list)
    confidence: float = 0.0  # the best extractive sentence's score, compared with the min_score threshold
    mode: str = "extractive"
    searched_for: str | None = None
    dropped: int = 0  # generated sentences removed by verification
    fallback: str = ""  # why an LLM was configured but the extractive answer is given ("" otherwise)
    highlights: list[tuple[int, int]] = field(default_factory=list)  # spans of ``answer`` to show in bold
    time: TimeInfo | None = None  # what the question said about time and how the answer is dated

    def to_json(self, detail: bool | None = None) -> dict[str, Any]:
        """The stable ``ask --json`` shape other tools read.

        ``detail`` adds ``mode``, ``sentences`` (text, citations, support, quote), ``dropped``, ``fallback``
        and ``searched_for``. By default they appear only when they say something (a generative answer, a
        fallback, a rewritten follow-up), so without an LLM the shape is exactly the extractive one; the
        CLI passes ``detail=True`` whenever an LLM is configured."""
        if detail is None:
            detail = self.mode != "extractive" or bool(self.searched_for or self.fallback or self.dropped)
        extra: dict[str, Any] = {}
        if detail:
            extra = {"mode": self.mode, "searched_for": self.searched_for,
                     "sentences": [s.to_json() for s in self.sentences], "dropped": self.dropped,
                     "fallback": self.fallback}
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.answer,
            **extra,
            "time": (self.time or TimeInfo()).to_json(),
            "citations": [
                {
                    "n": c.n,
                    "doc_id": c.doc_id,
                    "title": c.title,
                    "date": c.date,
                    "source": c.source,
                    "url": c.url,
                    "passage": c.passage,
                    "score": round(c.score, 4),
                    "page": c.page,
                    "bold": [list(span) for span in c.bold],
                }
                for c in self.citations
            ],
        }

