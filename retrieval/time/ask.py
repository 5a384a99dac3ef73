"""A question answered with time in mind: the one place that applies ``intent``, ``prior``, the
versions, ``timeline``, ``corroborate`` and ``dated`` around the ordinary search and answer.

``Corpus.ask`` calls :func:`answer_in_time`; the corpus is passed in (duck-typed: ``search``,
``answer_hits``, ``versions``, ``store``, ``settings``), so this package never imports the corpus. A
question without a time intent is searched and answered exactly as before (same ranking, same quotes);
it only gains its dated first line and, when several outlets state its fact, the count.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from ..types import Answer, AskProgress, Citation, Corroboration, Hit, TimeInfo, TimelineEntry
from . import corroborate, dated, prior, timeline
from .intent import PERIOD, RECENT, TimeIntent, parse_intent
from .periods import format_date

POOL = 4  # candidates per cited passage searched for the recency prior, corroboration and timelines
TIMELINE_POOL = 30  # candidates a timeline is built from (steps come from distinct dates among them)
NEWEST_GROUP = 3  # passages of one date tried together when looking for the newest answering report
OLDER = 10.0  # taken off the selection score of older passages' sentences in a "latest" answer
MAX_DIFFER = 3  # reports with other figures shown under an answer, one per source
SEARCH_CANDIDATES = 100  # hybrid_search's own candidate count: a pool up to it keeps the top k unchanged


def pool_size(k: int) -> int:
    """Candidates to fetch for ``k`` cited passages; never more than search's own candidate pool, so the
    first ``k`` of the pool are exactly what ``search(k)`` returns (a question without intent is ranked
    as before)."""
    return max(k, min(k * POOL, SEARCH_CANDIDATES))


def reference_date(corpus: Any, as_of: str | None) -> str | None:
    """"Today": ``as_of`` when given, else the newest document date not after the real today."""
    if as_of:
        return as_of
    return corpus.versions.newest_date(not_after=dt.date.today().isoformat())


def understand(corpus: Any, question: str, as_of: str | None) -> TimeIntent:
    """The question's time intent; "today" is computed only when a relative period or recency needs it."""
    cache: list[str | None] = []

    def today() -> str | None:
        if not cache:
            cache.append(reference_date(corpus, as_of))
        return cache[0]

    return parse_intent(question, today)


def answer_in_time(corpus: Any, question: str, k: int, since: str | None, until: str | None,
                   source: str | None, as_of: str | None, progress: Callable[[AskProgress], None] | None = None,
                   ) -> Answer:
    """The answer to ``question`` (already cleaned) with what it says about time applied; with the time
    features off, exactly the answer of before (no dated line, no outlet count)."""
    if not corpus.settings.time_features:
        hits = corpus.search(question, k=k, since=since, until=until, source=source)
        return corpus.answer_hits(question, _found(progress, hits), progress=progress)
    intent = understand(corpus, question, as_of)
    asked = question
    if intent.kind in (PERIOD, RECENT) and intent.searched:
        question = intent.searched  # the filter or the prior carries the time words; they are not searched
    info = TimeInfo(intent.kind, intent.since, intent.until, intent.today, intent.label, intent.lang)
    settings = corpus.settings
    if intent.timeline:
        pool = corpus.search(timeline.topic(question), k=TIMELINE_POOL, since=since or intent.since,
                             until=until or intent.until, source=source)
        built = timeline.build(corpus, question, _found(progress, pool), settings.timeline_max, intent.lang)
        if built is not None:
            answer, entries = built
            info.timeline = entries
            info.filtered = intent.kind == PERIOD
            answer.time = info
            answer.question = asked
            return answer
    pool: list[Hit] = []
    answer: Answer | None = None
    if intent.kind == PERIOD and not (since or until):
        if intent.future:
            info.note = dated.text("future", intent.lang, label=intent.label,
                                   today=format_date(intent.today, intent.lang) if intent.today else "?")
        elif not corpus.versions.any_dated(intent.since, intent.until):  # nothing dated then: not searched
            info.note = dated.text("fallback", intent.lang, label=intent.label)
        else:
            pool = newest_versions(corpus, corpus.search(question, k=pool_size(k), since=intent.since,
                                                         until=intent.until, source=source))
            answer = corpus.answer_hits(question, pool[:k], generate=False)  # does the period answer?
            if answer.answered:
                answer = corpus.answer_hits(question, _found(progress, pool[:k]), progress=progress)
                info.filtered = True
            else:
                info.note = dated.text("fallback", intent.lang, label=intent.label)
                answer, pool = None, []
        question = asked  # no filter applied: the period's words are part of what is asked
    if answer is None:
        pool = corpus.search(question, k=pool_size(k), since=since, until=until, source=source)
        if intent.kind == RECENT:
            answer = _recent(corpus, question, pool, k, intent, progress)
        else:
            pool = newest_versions(corpus, pool)
            # the ranking of a question without intent (the answer may promote a passage from just below
            # the first k: answer.Rules.promote_translated)
            _found(progress, pool[:k])
            answer = corpus.answer_hits(question, pool[:corpus.answer_depth(k)], progress=progress, cite=k)
    info.headline, info.latest = dated.headline(answer, intent.lang)
    if intent.kind == RECENT and answer.answered:
        note = dated.stale_note(info.latest, intent.today, settings.stale_days, intent.lang)
        info.stale = bool(note) and info.latest is not None
        info.note = " ".join(n for n in (info.note, note) if n)
    if answer.answered:
        info.corroboration = corroborated(corpus, answer, pool)
    answer.time = info
    answer.question = asked
    return answer


def newest_versions(corpus: Any, pool: list[Hit]) -> list[Hit]:
    """``pool`` without the passages of story versions superseded by a version also in the pool, so the
    newest version answers. Unchanged (and no stored signature read) unless two passages of one source
    carry the same URL or nearly the same text, which is what versions look like."""
    suspects: set[int] = set()
    compare: list[tuple[int, int]] = []  # same source, other documents, other URLs: compared by text at once
    sources = [h.source.strip().casefold() for h in pool]
    for i, a in enumerate(pool):
        for j in range(i):
            b = pool[j]
            if a.doc_id != b.doc_id and sources[i] and sources[i] == sources[j]:
                if a.url and a.url == b.url:
                    suspects.update((a.doc_id, b.doc_id))
                else:
                    compare.append((i, j))
    if compare:
        near = corpus.versions.same_texts([h.text for h in pool], compare)
        for (i, j), same in zip(compare, near):
            if same:
                suspects.update((pool[i].doc_id, pool[j].doc_id))
    if not suspects:
        return pool
    present = {h.doc_id for h in pool}
    old = {d for d in corpus.versions.superseded(suspects) if corpus.versions.chain(d)[-1].doc_id in present}
    return [h for h in pool if h.doc_id not in old]


def _found(progress: Callable[[AskProgress], None] | None, hits: list[Hit]) -> list[Hit]:
    """Tell ``progress`` that the search is done (the documents being checked); returns ``hits``."""
    if progress is not None:
        progress(AskProgress("found", sources=len({h.doc_id for h in hits})))
    return hits


def _recent(corpus: Any, question: str, pool: list[Hit], k: int, intent: TimeIntent,
            progress: Callable[[AskProgress], None] | None = None) -> Answer:
    """A "latest" question: superseded versions out of the pool, the recency prior on what is left, and
    the newest report that answers (passes the ordinary gate on its own) quoted, older ones only cited."""
    settings = corpus.settings
    old = corpus.versions.superseded(h.doc_id for h in pool)
    pool[:] = [h for h in pool if h.doc_id not in old]
    weights = prior.Prior(settings.recency_half_life_days, settings.recency_weight, settings.recency_sentence_weight)
    hits = prior.rerank(pool, intent.today, weights, k)
    probe = corpus.answer_hits(question, hits, prior.sentence_bonus(hits, intent.today, weights), generate=False)
    best = probe.citations[0] if probe.answered and probe.citations else None
    if best is None:
        return corpus.answer_hits(question, _found(progress, hits), prior.sentence_bonus(hits, intent.today, weights),
                                  progress=progress)
    newest = best.date or ""
    for date in sorted({h.date for h in pool if h.date and h.date > newest}, reverse=True):
        group = [h for h in pool if h.date == date][:NEWEST_GROUP]
        if corpus.answer_hits(question, group, generate=False).answered:
            hits = group + [h for h in hits if h not in group][:max(0, k - len(group))]
            newest = date
            break
    bonus = prior.sentence_bonus(hits, intent.today, weights)
    if any((h.date or "") < newest for h in hits):
        # The latest answer quotes only the newest answering reports: older passages stay cited (further
        # sources) but their sentences are not quoted beside the newest.
        bonus = [b if (h.date or "") >= newest else b - OLDER for b, h in zip(bonus, hits)]
    return corpus.answer_hits(question, _found(progress, hits), bonus, progress=progress)


def corroborated(corpus: Any, answer: Answer, pool: list[Hit]) -> Corroboration | None:
    """How many independent outlets among the candidates state the answer's first quoted sentence;
    supporting passages not cited yet are added as citations. None when only one outlet does and no
    report differs."""
    if not answer.sentences or not pool:
        return None
    # extractive: the quoted sentence; generated: the cited sentence its verification found supporting it
    fact = answer.sentences[0].quote or answer.sentences[0].text
    cited = {c.passage_id: c for c in answer.citations}
    first_n = answer.sentences[0].citations[0] if answer.sentences[0].citations else None
    quoted_first = next((c for c in answer.citations if c.n == first_n), None)
    rows = corpus.passage_rows([h.passage_id for h in pool])  # what the ask's search read, not read again
    sentences = [[h.text[s - h.start:e - h.start] for s, e in (rows[h.passage_id].sentences if h.passage_id in rows else [])
                  if h.start <= s and e <= h.end] for h in pool]
    found = corroborate.statements(fact, pool, sentences)
    agree = [s for s in found if s.agrees]
    if quoted_first is not None and all(pool[s.hit_index].passage_id != quoted_first.passage_id for s in agree):
        own = next((i for i, h in enumerate(pool) if h.passage_id == quoted_first.passage_id), None)
        if own is not None:
            agree.insert(0, corroborate.Statement(own, fact, True))
    agreeing_hits = [pool[s.hit_index] for s in agree]
    groups = corroborate.outlet_groups(agreeing_hits, corpus.versions.same_text)
    own_source = (quoted_first.source if quoted_first is not None else "").strip().casefold()
    differ: list[corroborate.Statement] = []
    for st in found:  # another outlet's figures: at most one sentence per source, MAX_DIFFER in all
        src = pool[st.hit_index].source.strip().casefold()
        if (not st.agrees and src != own_source and src not in {pool[d.hit_index].source.strip().casefold() for d in differ}
                and len(differ) < MAX_DIFFER):
            differ.append(st)
    if len(groups) < 2 and not differ:
        return None
    outlets = [_cite(answer, cited, agreeing_hits[g[0]], agree[g[0]].text) for g in groups]
    others = [_cite(answer, cited, pool[st.hit_index], st.text) for st in differ]
    _renumber(answer, outlets + others)
    return Corroboration(len(groups), [c.n for c in outlets], [c.source for c in outlets],
                         [TimelineEntry(c.date or "", st.text, c.n) for c, st in zip(others, differ)])


def _cite(answer: Answer, cited: dict[int, Citation], hit: Hit, sentence: str) -> Citation:
    """The citation of ``hit``'s passage, added (with the sentence quoted) when not cited yet."""
    if hit.passage_id in cited:
        return cited[hit.passage_id]
    start = hit.text.find(sentence)
    quotes = [(start, start + len(sentence))] if start >= 0 else []
    citation = Citation(len(answer.citations) + 1, hit.doc_id, hit.passage_id, hit.title, hit.date, hit.source,
                        hit.url, hit.text, hit.score, quotes, hit.page)
    answer.citations.append(citation)
    cited[hit.passage_id] = citation
    return citation


def _renumber(answer: Answer, named: list[Citation]) -> None:
    """Citations numbered: the quoted ones (unchanged, 1..q), then those the corroboration names, then the
    rest, so the numbers shown with an answer stay a run without gaps (the bot pages on from there).
    Left as is when the quoted ones are not 1..q (a generated answer may cite in any order)."""
    quoted = sorted({n for s in answer.sentences for n in s.citations})
    if quoted != list(range(1, len(quoted) + 1)):
        return
    front = [c for c in answer.citations if c.n in quoted]
    middle: list[Citation] = []
    seen = {id(c) for c in front}
    for c in named:
        if id(c) not in seen:
            middle.append(c)
            seen.add(id(c))
    rest = [c for c in answer.citations if id(c) not in seen]
    answer.citations = front + middle + rest
    for n, c in enumerate(answer.citations, 1):
        c.n = n
