"""An in-memory copy of the lexical index that ranks exactly as the engine does, several times faster.

Why: at 100k passages FTS5 took ~4 ms of a ~12 ms question and at 1M 32 ms p50 / 139 ms p95, while the
same BM25 computed from postings in memory costs under 1 ms / 6 ms (docs/speed.md, "Lexical at scale").
The engine stays the durable, transactional source; this copy is *derived* from it, as the faiss file is
from the stored vectors, and never trusted beyond what it can check:

* It holds, per passage, its token count and, per (term, passage), the term's count in the title and in
  the body, exactly as the engine tokenised them (the engine hands them over: :class:`EntrySource`), and
  computes the engine's BM25 at question time (``storage/bm25.py``: FTS5's idf with its 1e-6 clamp, k1,
  b, the title weight), so scores equal the engine's (FTS5's to the last bit; PostgreSQL's to 1e-12, its
  SQL sums a passage's terms in its own order) and a new passage needs no rebuild.
* It follows the store by generation and passage id (ids are never reused): passages gone from the store
  leave it, new ones are read from the engine; a lexical rebuild in place (``verify --repair``) moves an
  epoch that makes it start again. After each sync its passage count and token total are compared with the
  engine's own totals; if they differ (a tokenisation it cannot reproduce), the engine answers instead.
* Until it is built, and for any question it cannot answer exactly (a term the engine would split into a
  phrase), the engine answers: the copy changes no ranking, only the time a ranking takes.

Postings live in segments (a CSR by term each): the first build's, then one per sync, merged when there
are more than :data:`MAX_SEGMENTS`; removed passages are masked and dropped at the next full merge.
"""
from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol, Sequence

import numpy as np

from ..bm25 import BM25

log = logging.getLogger(__name__)

MAX_SEGMENTS = 8  # postings segments before they are merged into one
COUNT_MAX = 65535  # a term's count in one field, stored as uint16 (FTS5 counts past it; see _counts)


@dataclass(frozen=True)
class Entries:
    """One batch of passages as the engine indexed them: ``tokens[i]`` is passage ``passage_ids[i]``'s
    (title tokens, body tokens), already split and folded as the engine's tokenizer does."""

    passage_ids: list[int]
    tokens: list[tuple[list[str], list[str]]]


@dataclass(frozen=True)
class Counted:
    """One batch of passages as an engine that keeps counts stores them (PostgreSQL's postings): each
    passage's token count, and per (passage, term) the term's count in the title and in the body;
    ``rows[j]`` is posting ``j``'s index into ``passage_ids``."""

    passage_ids: list[int]
    lengths: list[int]
    rows: list[int]
    terms: list[str]
    title: list[int]
    body: list[int]


@dataclass(frozen=True)
class SourceState:
    """What says whether the copy is current: the store's generation and the lexical rebuild epoch."""

    generation: int
    epoch: str


class EntrySource(Protocol):
    """What the copy is built and synced from (an engine's lexical part)."""

    def state(self) -> SourceState: ...

    def entry_ids(self, after_id: int = 0) -> np.ndarray: ...

    def entries(self, ids: Sequence[int] | None) -> Iterator[Entries | Counted]: ...

    def totals(self) -> tuple[int, int] | None: ...

    def compact(self) -> None: ...


@dataclass
class _Segment:
    """Postings of some passages, sorted by term: term ``terms[i]``'s postings are ``[ptr[i], ptr[i+1])``."""

    terms: np.ndarray  # int32, sorted distinct term ids
    ptr: np.ndarray  # int64, len(terms) + 1
    rows: np.ndarray  # int32, row of each posting
    title: np.ndarray  # uint16, count in the title
    body: np.ndarray  # uint16, count in the body

    @property
    def postings(self) -> int:
        return len(self.rows)

    def slice(self, term: int) -> tuple[int, int]:
        at = int(np.searchsorted(self.terms, term))
        if at < len(self.terms) and self.terms[at] == term:
            return int(self.ptr[at]), int(self.ptr[at + 1])
        return 0, 0


def _segment(terms: np.ndarray, rows: np.ndarray, title: np.ndarray, body: np.ndarray) -> _Segment:
    """Postings sorted by term (stable: rows keep their order within a term). Only the sort's index is
    int64; the rest stays int32 / uint16 (at a million passages the postings are ~37M: bytes count)."""
    order = np.argsort(terms, kind="stable")
    by_term = terms[order]
    starts = np.concatenate([[0], np.flatnonzero(by_term[1:] != by_term[:-1]) + 1]) if len(by_term) else \
        np.zeros(0, dtype=np.int64)
    distinct = by_term[starts].astype(np.int32)
    del by_term
    ptr = np.append(starts, len(terms)).astype(np.int64)
    return _Segment(distinct, ptr, rows[order].astype(np.int32, copy=False), title[order], body[order])


def _counts(values: np.ndarray) -> np.ndarray:
    return np.minimum(values, COUNT_MAX).astype(np.uint16)


@dataclass
class _Rows:
    """Per passage (row): its id, token count and whether it is still in the store; grown by doubling."""

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    alive: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    count: int = 0

    def append(self, ids: np.ndarray, lengths: np.ndarray) -> int:
        start, end = self.count, self.count + len(ids)
        if end > len(self.ids):
            size = max(end, 2 * len(self.ids), 1024)
            self.ids = np.resize(self.ids, size)
            self.lengths = np.resize(self.lengths, size)
            self.alive = np.resize(self.alive, size)
        self.ids[start:end] = ids
        self.lengths[start:end] = lengths
        self.alive[start:end] = True
        self.count = end
        return start


class MemoryBM25:
    """The in-memory copy of one store's lexical index (see the module docstring). Thread-safe."""

    def __init__(self, source: EntrySource, bm25: BM25) -> None:
        self.source = source
        self.bm25 = bm25
        self.lock = threading.RLock()
        self._reset()
        self.ready = False  # built and in step with a stable generation whose totals matched
        self.mismatch = ""  # why the engine answers instead (totals differed), "" if it does not
        self._builder: threading.Thread | None = None
        self._builder_lock = threading.Lock()
        self._closed = False

    def _reset(self) -> None:
        self.vocab: dict[str, int] = {}
        self.rows = _Rows()
        self.segments: list[_Segment] = []
        self.alive_count = 0
        self.tokens = 0.0
        self.generation = -1
        self.epoch = ""
        self.built = False  # read the engine's entries at least once since the last reset
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # postings of this sync

    # -- building and syncing ---------------------------------------------------------------------------
    def try_search(self, tokens: Sequence[str], limit: int, allowed: np.ndarray | None = None,
                   bm25: BM25 | None = None, foreground_limit: int = 5000) -> list[tuple[int, float]] | None:
        """The copy's answer, or None when the engine must answer: the copy is being built or synced by
        another thread (never waited for), was never built (a background build starts), is behind the
        store by more than ``foreground_limit`` passages (a background sync starts), or differs from the
        engine's totals."""
        if not self.lock.acquire(blocking=False):
            return None
        try:
            if self._closed:
                return None
            if not self.built:
                self._start(self.sync)
                return None
            state = self.source.state()
            if not (self.ready and state.generation == self.generation and state.epoch == self.epoch):
                if self.mismatch and (state.generation, state.epoch) == (self.generation, self.epoch):
                    return None  # checked at this generation already: the engine answers until it moves
                if state.epoch != self.epoch:
                    self._start(self.sync)
                    return None
                if not self.sync(state, foreground_limit):
                    return None
            return self.search(tokens, limit, allowed, bm25)
        finally:
            self.lock.release()

    def start(self) -> None:
        """Build (or sync) in a background thread; searches use the engine until it is done."""
        self._start(self.sync)

    def _start(self, work: Callable[[], object]) -> None:
        """Run ``work`` (a sync) in a daemon thread, unless one is running; the engine answers meanwhile."""
        with self._builder_lock:
            if self._closed or (self._builder is not None and self._builder.is_alive()):
                return
            self._builder = threading.Thread(target=self._quietly, args=(work,), name="citebot-lexical-memory",
                                             daemon=True)
            self._builder.start()

    @staticmethod
    def _quietly(work: Callable[[], object]) -> None:
        try:
            work()
        except Exception as exc:  # the engine keeps answering; the next question tries again
            log.warning("in-memory lexical index not built (%s); the engine answers", exc)

    def wait(self) -> None:
        """Block until a background build or sync has finished (benchmarks, tests)."""
        builder = self._builder
        if builder is not None and builder is not threading.current_thread():
            builder.join()

    def close(self) -> None:
        self._closed = True
        self.wait()
        with self.lock:
            self._reset()
            self.ready = False

    def sync(self, state: SourceState | None = None, foreground_limit: int | None = None) -> bool:
        """Bring the copy up to the engine's generation; returns whether it can answer now. With
        ``foreground_limit``, more new passages than that are left to a background sync (False)."""
        with self.lock:
            if self._closed:
                return False
            state = state or self.source.state()
            if self.ready and state.generation == self.generation and state.epoch == self.epoch:
                return True
            if state.epoch != self.epoch or not self.built:
                self._reset()
                self.mismatch = ""
            count = self.rows.count
            held, alive = self.rows.ids[:count], self.rows.alive[:count]
            new, gone = None, np.zeros(count, dtype=bool)
            totals: tuple[int, int] | None = None
            have_totals = False  # the engine's totals read after ``state``: still theirs if nothing commits
            if self.built and count:
                # ids only grow, so what was added is above the highest id held; when the engine then counts
                # what the copy would hold, nothing was removed and its whole id list need not be read (that
                # read cost the first question after each add 66 ms at 100k passages)
                recent = np.unique(np.asarray(self.source.entry_ids(after_id=int(held.max())), dtype=np.int64))
                totals, have_totals = self.source.totals(), True
                if totals is not None and totals[0] == self.alive_count + len(recent):
                    new = recent
            if new is None:
                store_ids = np.unique(np.asarray(self.source.entry_ids(), dtype=np.int64))
                new = np.setdiff1d(store_ids, held[alive], assume_unique=True)
                gone = alive & ~np.isin(held, store_ids)
            if foreground_limit is not None and len(new) > foreground_limit:
                self._start(self.sync)
                return False
            if gone.any():
                self.rows.alive[:count] &= ~gone
                self.alive_count -= int(gone.sum())
                self.tokens -= float(self.rows.lengths[:count][gone].sum())
            full = not self.built
            if len(new):
                for batch in self.source.entries(None if full else new.tolist()):
                    if self._closed:
                        self._pending = []
                        return False
                    self._add(batch)
                self._flush()
                if full:
                    # the vocabulary's strings were made among the build's transient ones: copied now,
                    # they fill pages of their own and the build's pages can go back
                    self.vocab = {(term + " ")[:-1]: i + 0 for term, i in self.vocab.items()}  # ints too
                    self.source.compact()  # the engine's own caches filled during the build, likewise
                    _release_freed_memory()
            self.built = True
            if len(self.segments) > MAX_SEGMENTS or (gone.any() and self._dead_share() > 0.25):
                self._merge()
            after = self.source.state()
            self.generation, self.epoch = state.generation, state.epoch
            if after != state:  # written to meanwhile: in step with nothing yet; the next search syncs again
                self.ready = False
                return False
            if not have_totals:  # (when read above, between two equal states, no write came in between)
                totals = self.source.totals()
            if totals is not None and totals != (self.alive_count, int(round(self.tokens))):
                if not self.mismatch:
                    self.mismatch = (f"the engine counts {totals[0]} passages and {totals[1]} tokens, the copy "
                                     f"{self.alive_count} and {int(round(self.tokens))}")
                    log.warning("in-memory lexical index differs from the engine (%s); the engine answers",
                                self.mismatch)
                self.ready = False
                return False
            self.mismatch = ""
            self.ready = True
            return True

    def _dead_share(self) -> float:
        return 1.0 - self.alive_count / max(self.rows.count, 1)

    def _add(self, batch: Entries | Counted) -> None:
        """Append one batch of passages: vocabulary ids, then per (term, passage) its two field counts."""
        if not batch.passage_ids:
            return
        if isinstance(batch, Counted):
            self._add_counted(batch)
            return
        vocab = self.vocab
        titles = [t for t, _ in batch.tokens]
        bodies = [b for _, b in batch.tokens]
        for tokens in titles + bodies:
            for token in tokens:
                if token not in vocab:
                    vocab[token] = len(vocab)
        title_len = np.fromiter(map(len, titles), dtype=np.int64, count=len(titles))
        body_len = np.fromiter(map(len, bodies), dtype=np.int64, count=len(bodies))
        n = len(batch.passage_ids)
        local = np.concatenate([np.repeat(np.arange(n), title_len), np.repeat(np.arange(n), body_len)])
        flat = [tok for tokens in titles for tok in tokens] + [tok for tokens in bodies for tok in tokens]
        term_ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
        in_title = np.concatenate([np.ones(int(title_len.sum()), dtype=np.int64),
                                   np.zeros(int(body_len.sum()), dtype=np.int64)])
        keys = local * len(vocab) + term_ids
        unique, inverse = np.unique(keys, return_inverse=True)
        title_counts = np.bincount(inverse, weights=in_title, minlength=len(unique)).astype(np.int64)
        all_counts = np.bincount(inverse, minlength=len(unique)).astype(np.int64)
        lengths = (title_len + body_len).astype(np.float64)
        first_row = self.rows.append(np.asarray(batch.passage_ids, dtype=np.int64), lengths)
        self.alive_count += n
        self.tokens += float(lengths.sum())
        self._pending.append(((unique % len(vocab)).astype(np.int32), (unique // len(vocab) + first_row).astype(np.int32),
                              _counts(title_counts), _counts(all_counts - title_counts)))

    def _add_counted(self, batch: Counted) -> None:
        vocab = self.vocab
        for term in batch.terms:
            if term not in vocab:
                vocab[term] = len(vocab)
        lengths = np.asarray(batch.lengths, dtype=np.float64)
        first_row = self.rows.append(np.asarray(batch.passage_ids, dtype=np.int64), lengths)
        self.alive_count += len(batch.passage_ids)
        self.tokens += float(lengths.sum())
        if batch.terms:
            term_ids = np.fromiter(map(vocab.__getitem__, batch.terms), dtype=np.int32, count=len(batch.terms))
            self._pending.append((term_ids, (np.asarray(batch.rows, dtype=np.int64) + first_row).astype(np.int32),
                                  _counts(np.asarray(batch.title, dtype=np.int64)),
                                  _counts(np.asarray(batch.body, dtype=np.int64))))

    def _flush(self) -> None:
        """What the batches of one sync added, as one segment (a build's whole index: no merge after it)."""
        if not self._pending:
            return
        fields = [np.concatenate([p[i] for p in self._pending]) for i in range(4)]
        self._pending = []
        self.segments.append(_segment(*fields))

    def _merge(self) -> None:
        """All segments into one, removed passages dropped (rows renumbered)."""
        count = self.rows.count
        keep = self.rows.alive[:count]
        segments, self.segments = self.segments, []
        fields = [np.concatenate([np.repeat(s.terms, np.diff(s.ptr)) for s in segments] or [np.zeros(0, np.int32)])]
        fields += [np.concatenate([getattr(s, name) for s in segments] or [np.zeros(0, dtype)])
                   for name, dtype in (("rows", np.int32), ("title", np.uint16), ("body", np.uint16))]
        del segments
        if not keep.all():
            remap = (np.cumsum(keep) - 1).astype(np.int32)
            live = keep[fields[1]]
            fields = [fields[0][live], remap[fields[1][live]], fields[2][live], fields[3][live]]
            ids, lengths = self.rows.ids[:count][keep], self.rows.lengths[:count][keep]
            self.rows = _Rows()
            self.rows.append(ids, lengths)
        merged = _segment(*fields)
        self.segments = [merged] if merged.postings else []

    # -- search ---------------------------------------------------------------------------------------
    def search(self, tokens: Sequence[str], limit: int, allowed: np.ndarray | None = None,
               bm25: BM25 | None = None) -> list[tuple[int, float]]:
        """(passage id, BM25) of the top ``limit`` passages holding any of ``tokens`` (the engine's folded
        tokens, distinct, in the question's order: scores are summed in that order, as the engine does)."""
        bm25 = bm25 or self.bm25
        with self.lock:
            n_rows = self.rows.count
            if not n_rows or not self.alive_count or limit <= 0:
                return []
            every = self.alive_count == n_rows  # no removed passage held: no mask needed
            alive = self.rows.alive[:n_rows]
            if allowed is not None:
                alive = alive & np.isin(self.rows.ids[:n_rows], allowed)
            lengths = self.rows.lengths[:n_rows]
            n = self.alive_count
            avgdl = self.tokens / n
            k1, b, weight = bm25.k1, bm25.b, bm25.title_weight
            scores = np.zeros(n_rows, dtype=np.float64)
            seen = np.zeros(n_rows, dtype=bool)  # matched passages (a bool scan is ~10x a float one)
            matched = False
            for token in tokens:
                term = self.vocab.get(token)
                if term is None:
                    continue
                parts = [(segment, *segment.slice(term)) for segment in self.segments]
                parts = [(segment, start, end) for segment, start, end in parts if end > start]
                if not parts:
                    continue
                if len(parts) == 1:
                    segment, start, end = parts[0]
                    rows, title, body = segment.rows[start:end], segment.title[start:end], segment.body[start:end]
                else:
                    rows = np.concatenate([s.rows[a:e] for s, a, e in parts])
                    title = np.concatenate([s.title[a:e] for s, a, e in parts])
                    body = np.concatenate([s.body[a:e] for s, a, e in parts])
                if not every:
                    live = self.rows.alive[rows]
                    rows, title, body = rows[live], title[live], body[live]
                hits = len(rows)  # FTS5's nHit: passages of the whole table holding the term
                if not hits:
                    continue
                idf = math.log((n - hits + 0.5) / (hits + 0.5))
                if idf <= 0.0:
                    idf = 1e-6
                if allowed is not None:
                    keep = alive[rows]
                    rows, title, body = rows[keep], title[keep], body[keep]
                    if not len(rows):
                        continue
                freq = title * weight + body  # float64: FTS5 sums each occurrence's column weight
                scores[rows] += idf * ((freq * (k1 + 1.0)) / (freq + k1 * (1 - b + b * lengths[rows] / avgdl)))
                seen[rows] = True
                matched = True
            if not matched:
                return []
            candidates = np.flatnonzero(seen)
            found = scores[candidates]
            if len(candidates) > limit:
                part = np.argpartition(-found, limit - 1)[:limit]
                candidates, found = candidates[part], found[part]
            ids = self.rows.ids[candidates]
            order = np.lexsort((ids, -found))
            return list(zip(ids[order].tolist(), found[order].tolist()))


def _release_freed_memory() -> None:
    """Give the C heap's free pages back after a build (glibc keeps them: at 100k passages the build's
    transient token strings left ~110 MB of resident memory that ``malloc_trim`` returns)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass
