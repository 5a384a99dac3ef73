"""One sync of the due sources: fetch what is new or changed, index it, record it, schedule the next.

The order of the writes is what makes a kill -9 harmless: an entry's document is committed first (the
corpus writes each batch in one transaction), its "seen" record after it, and the feed's validators
(ETag, Last-Modified) only once the whole feed was handled. A sync killed between the two fetches the
entry again next time; the corpus then finds the same text already stored (a ``duplicate``), and the
seen record points at that document: nothing is lost, nothing is indexed twice.

One bad source never stops the others: every failure of a source becomes its ``last_error`` (one line),
its consecutive-failure count and an exponential backoff; one bad entry never stops its feed.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import UserError
from ..ingest import IngestOptions
from ..ingest.document import make_document
from ..settings import default
from ..types import Document
from . import folders
from .feeds import Entry, maybe_gunzip, parse_feed
from .http import FeedResponse, Fetcher, HostGate
from .model import SeenEntry, Source, SourceResult, SyncReport, next_due_after, now_ts
from .sitemaps import MAX_CHILD_SITEMAPS, looks_like_sitemap, parse_sitemap

if TYPE_CHECKING:  # pragma: no cover
    from ..corpus import Corpus
    from ..settings import Settings
    from ..storage.sources import Sources

log = logging.getLogger("citebot.sources")

MAX_ENTRIES = default("sync_max_entries")  # new or changed entries per source per sync; the rest follow next time
WORKERS = 4  # sources synced at once by one process
CHUNK = 16  # entries fetched, then indexed and recorded together (progress survives a kill)
SYNCED_KINDS = ("feed", "sitemap", "folder")  # channels arrive live through the bot


@dataclass
class SyncOptions:
    """How a sync behaves: ``fetch_articles`` False indexes each entry's own text (the benchmark's
    "without article fetches"); ``max_entries`` caps new entries per source per sync; ``workers`` is
    how many sources are synced at once (each host still gets one request at a time)."""

    fetch_articles: bool = True
    max_entries: int = MAX_ENTRIES
    workers: int = WORKERS
    stop: threading.Event | None = None  # set: sources not yet started are left for the next round


def fetcher_for(settings: "Settings") -> Fetcher:
    """The fetcher the settings describe: the URL guard's options, CITEBOT_SYNC_HOST_DELAY between
    requests to one host. Keep one per process (its host turns span sync rounds)."""
    delay = settings.sync_host_delay
    return Fetcher(IngestOptions.from_settings(settings), HostGate(delay=delay))


def options_for(settings: "Settings", **overrides: Any) -> SyncOptions:
    """SyncOptions from the settings (CITEBOT_SYNC_MAX_ENTRIES), with ``overrides``."""
    values: dict[str, Any] = {"max_entries": settings.sync_max_entries}
    values.update(overrides)
    return SyncOptions(**values)


def sync_sources(corpus: "Corpus", sources: "Sources", only: Iterable[int | str] | None = None,
                 now: float | None = None, fetcher: Fetcher | None = None,
                 options: SyncOptions | None = None) -> SyncReport:
    """Sync every due source (or exactly those in ``only``, due or not) once; returns what was done.

    A source another process is syncing is skipped (``status="skipped"``); Telegram sources are left
    to the bot (their posts arrive as updates). ``fetcher`` and ``options`` default to what the corpus's
    settings say (:func:`fetcher_for`, :func:`options_for`)."""
    options = options or options_for(corpus.settings)
    start = now_ts(now)
    if only is not None:
        targets = [sources.require(i) for i in only]
    else:
        targets = [s for s in sources.due(start) if s.kind in SYNCED_KINDS]
    fetcher = fetcher or fetcher_for(corpus.settings)

    def one(source: Source) -> SourceResult | None:
        if options.stop is not None and options.stop.is_set():
            return None
        if source.kind not in SYNCED_KINDS:
            return SourceResult(source.id, source.name, "skipped", error="Telegram channels are followed live by the bot")
        with sources.claimed(source.id) as mine:
            if not mine:
                return SourceResult(source.id, source.name, "skipped", error="another process is syncing it")
            fresh = sources.get(source.id)  # re-read under the claim: another replica may have just synced it
            if fresh is None:
                return None
            if only is None and not fresh.due(now_ts(now) if now is None else start):
                return SourceResult(source.id, source.name, "not-due")
            return sync_one(corpus, sources, fresh, fetcher, options, now)

    report = SyncReport()
    if options.workers > 1 and len(targets) > 1:
        # sources on different hosts in parallel; the fetcher's HostGate still serialises each host
        with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="citebot-sync") as pool:
            results = list(pool.map(one, targets))
    else:
        results = [one(source) for source in targets]
    report.results = [r for r in results if r is not None]
    return report


def sync_one(corpus: "Corpus", sources: "Sources", source: Source, fetcher: Fetcher, options: SyncOptions,
             now: float | None = None) -> SourceResult:
    """Sync one claimed source and write its new state, whatever happens."""
    began = time.monotonic()
    state = replace(source.state)
    state.last_attempt = now_ts(now)
    result = SourceResult(source.id, source.name, "ok")
    retry_after = None
    try:
        if source.kind == "folder":
            folders.sync_folder(corpus, sources, source, result)
        else:
            validators = _sync_web(corpus, sources, source, fetcher, options, result)
            if validators is not None:
                state.etag, state.last_modified = validators
        state.last_success = now_ts(now)
        state.last_error = ""
        state.failures = 0
        state.next_due = next_due_after(source, now_ts(now), failed=False)
    except Exception as exc:  # noqa: BLE001 - one bad source never stops the others
        message = _one_line(exc)
        log.info("source %s (%s): %s", source.id, source.name, message)
        result.status, result.error = "error", message
        retry_after = getattr(exc, "params", {}).get("retry_after") if isinstance(exc, UserError) else None
        state.failures = source.state.failures + 1
        state.last_error = message
        failed = replace(source, state=replace(source.state, failures=state.failures))
        state.next_due = next_due_after(failed, now_ts(now), failed=True, retry_after=retry_after)
    result.seconds = time.monotonic() - began
    try:
        sources.save_state(source.id, state)
    except Exception as exc:  # noqa: BLE001 - a busy or lost store: the source stays due, its entries are safe
        result.status, result.error = "error", f"could not save the source's state: {_one_line(exc)}"
        log.warning("source %s (%s): %s", source.id, source.name, result.error)
    return result


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, UserError):
        text = f"{type(exc).__name__}: {text}"
    return text[:500]


# -- feeds and sitemaps ---------------------------------------------------------------------------------
def _sync_web(corpus: "Corpus", sources: "Sources", source: Source, fetcher: Fetcher, options: SyncOptions,
              result: SourceResult) -> tuple[str, str] | None:
    """Fetch the feed or sitemap; handle its new and changed entries. Returns the validators to keep
    (None when the server said 304 Not Modified)."""
    resp = fetcher.feed(source.location, source.state.etag, source.state.last_modified)
    if resp.status == 304:
        result.status = "not-modified"
        return None
    entries, feed_title, skipped = _entries(resp, fetcher, source)
    result.errors.extend(skipped)
    result.entries = len(entries)
    seen = sources.seen(source.id)
    todo = [e for e in entries if e.key not in seen or seen[e.key].signature != e.signature]
    result.unchanged = len(entries) - len(todo)
    complete = True  # every entry handled: the validators may be kept (else the next GET must be a full one)
    if len(todo) > options.max_entries:
        result.errors.append(f"{len(todo)} new or changed entries: {options.max_entries} indexed now, "
                             f"the rest on the next syncs")
        todo = todo[:options.max_entries]
        complete = False
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start:start + CHUNK]
        docs: list[tuple[Entry, Document, str]] = []
        for entry in chunk:
            prepared = _document(entry, source, feed_title, fetcher, options, result)
            if prepared is not None:
                docs.append((entry, *prepared))
            else:
                complete = False
        complete = _index(corpus, sources, source, docs, result) and complete
    return (resp.etag, resp.last_modified) if complete else ("", "")


def _entries(resp: FeedResponse, fetcher: Fetcher, source: Source) -> tuple[list[Entry], str, list[str]]:
    """The entries of a feed or sitemap response (a sitemap index's sitemaps fetched too), each key once."""
    skipped: list[str] = []
    resp = replace(resp, body=maybe_gunzip(resp.body, resp.url, fetcher.feed_options.max_bytes))
    if looks_like_sitemap(resp.body):  # by content: a "feed" URL may serve a sitemap and the reverse
        parsed = parse_sitemap(resp.body, resp.url)
        entries = list(parsed.entries)
        for child in parsed.children[:MAX_CHILD_SITEMAPS]:
            try:
                sub = fetcher.feed(child)
                entries.extend(parse_sitemap(maybe_gunzip(sub.body, sub.url, fetcher.feed_options.max_bytes),
                                             sub.url).entries)
            except UserError as exc:
                skipped.append(_one_line(exc))
        title = ""
    else:
        feed = parse_feed(resp.body, resp.url, resp.content_type)
        entries, title, skipped = feed.entries, feed.title, list(feed.skipped)
    unique: dict[str, Entry] = {}
    for entry in entries:
        unique.setdefault(entry.key, entry)
    return list(unique.values()), title, skipped


def _document(entry: Entry, source: Source, feed_title: str, fetcher: Fetcher, options: SyncOptions,
              result: SourceResult) -> tuple[Document, str] | None:
    """The document for an entry and its origin: the linked article with the feed's metadata filling
    what the page lacks, else (page unreachable, refused, or no article fetches) the entry's own text."""
    path = entry.link or f"{source.location}#{entry.key}"
    problem = ""
    if entry.link and options.fetch_articles:
        try:
            doc = fetcher.article(entry.link)[0]
            return replace(doc, path=path, url=doc.url or entry.link, title=doc.title or entry.title,
                           date=doc.date or entry.date,
                           source=doc.source or feed_title or entry.author or source.name), "article"
        except UserError as exc:
            problem = _one_line(exc)
            log.info("source %s: %s", source.id, problem)
            if exc.code == "retry_after" or exc.params.get("status") in (429, 503):
                result.errors.append(f"{problem}; the entry is left for a later sync")
                return None  # the site asked for a pause: its article, not the teaser, comes later
    if not entry.text.strip():
        result.errors.append(problem or f"{path}: the entry has no text and no link to fetch")
        return None
    try:
        doc = make_document(entry.text, path=path, label=path, title=entry.title, date=entry.date,
                            source=feed_title or entry.author or source.name, url=entry.link)
    except UserError as exc:
        result.errors.append(_one_line(exc))
        return None
    if problem:
        result.fallbacks += 1
        result.errors.append(f"{problem}; indexed the feed's own text instead")
    return doc, "feed"


def _index(corpus: "Corpus", sources: "Sources", source: Source, docs: list[tuple[Entry, Document, str]],
           result: SourceResult) -> bool:
    """Add a chunk of documents, then record their entries as seen (after the documents committed).
    False when some entry is left to retry next time."""
    if not docs:
        return True
    complete = True
    seen: list[SeenEntry] = []
    # sources index in parallel: the corpus serialises the writes, and embedding in several threads uses
    # every core (measured: twice the entries per second on 2 cores than one chunk at a time)
    outcomes = list(corpus.add_documents([d for _, d, _ in docs]))
    for (entry, doc, origin), added in zip(docs, outcomes):
        doc_id = added.doc_id if added.status in ("added", "replaced") else added.duplicate_of
        if added.status == "added":
            result.new_doc_ids.append(int(added.doc_id))
        elif added.status == "replaced":
            result.replaced_doc_ids.append(int(added.doc_id))
        elif added.status == "error":
            result.errors.append(f"{doc.path}: {added.message}")
            if added.reason not in ("empty", "no-sentences"):
                complete = False
                continue  # retried next time
        seen.append(SeenEntry(entry.key, entry.signature, doc.content_hash, doc_id, origin))
    sources.mark_seen(source.id, seen)
    return complete


def run_forever(corpus: "Corpus", sources: "Sources", stop, only: Iterable[int | str] | None = None,
                fetcher: Fetcher | None = None, options: SyncOptions | None = None,
                on_report=None, max_sleep: float = 30.0) -> int:  # type: ignore[no-untyped-def]
    """Sync due sources until ``stop`` (a ``threading.Event``) is set; sleeps until the next one is due
    (at most ``max_sleep`` s, so sources added meanwhile are seen). Returns the number of rounds."""
    fetcher = fetcher or fetcher_for(corpus.settings)
    options = replace(options or options_for(corpus.settings), stop=stop)
    wanted = None if only is None else {int(i) for i in only}
    rounds = 0
    while not stop.is_set():
        if wanted is None:
            report = sync_sources(corpus, sources, fetcher=fetcher, options=options)
        else:
            due = [s.id for s in sources.due(time.time()) if s.id in wanted]
            report = sync_sources(corpus, sources, only=due, fetcher=fetcher, options=options) if due else SyncReport()
        rounds += 1
        if on_report is not None:
            on_report(report)
        pending = [s.state.next_due for s in sources.list() if s.kind in SYNCED_KINDS
                   and (wanted is None or s.id in wanted)]
        wait = max_sleep if not pending else min(max_sleep, max(0.2, min(pending) - time.time()))
        stop.wait(wait)
    return rounds


__all__ = ["MAX_ENTRIES", "SyncOptions", "fetcher_for", "options_for", "run_forever", "sync_one", "sync_sources"]
