"""`python -m bench.lexical_engines --passages N`: FTS5 against bm25s and tantivy at scale, same terms.

Why: issue 24 asks whether another lexical engine is clearly faster than SQLite FTS5 at 100k and 1M
passages *at equal ranking* (and crash safety). Every engine here indexes exactly the same terms
(``retrieval.text.lexical.terms`` of the same real passages: Reuters-21578 and Telegram posts cut by
citebot's passage splitter; above the ~86,000 real passages, copies with variation: each copy drops 15%
of a passage's terms and replaces 10% with terms drawn from the whole corpus, so term statistics stay
news-like without exact duplicates) and answers the same questions (XQuAD, half English, half Russian,
``query_terms``), one at a time, the engines taking turns in a rotating order.

Engines (each given a passage's title terms and body terms):

* ``fts5``: the product's own lexical part (``retrieval/storage/lexical/sqlite.py``: its writer and its
  ``search``), in a fresh store, committed in transactions of 10,000 passages as ``add`` commits in batches.
* ``reference``: citebot's BM25 definition (``storage/bm25.py``: FTS5's formula, k1 1.2, b 0.75, title
  weight 0.5, idf clamped at 1e-6) as a term x passage sparse matrix of precomputed weights (scipy
  CSR); a question sums its terms' rows and takes the top 10.
* ``numpy-lazy``: the same ranking computed at question time from stored weighted frequencies and passage
  lengths (precomputed weights all change when a passage is added: N, df and the average length do), the
  query cost of an engine that can take new passages without rebuilding.
* ``bm25s`` / ``bm25s-numba``: bm25s's retrieval (``BM25.retrieve``, its numpy backend / its numba
  backend, one thread) over the reference's matrix loaded as its eager index, i.e. bm25s computing
  citebot's ranking. bm25s itself cannot weight a title field, so it cannot build this matrix (the build
  time is the reference's).
* ``bm25s-native``: bm25s's own ``index`` (method ``robertson``, k1 1.2, b 0.75) over title + body terms
  as one field: its build time, and how far its ranking is from FTS5's.
* ``tantivy``: tantivy-py (Rust), fields title and body (whitespace tokenizer over the same terms,
  frequencies only), a should-query of term queries with the title's boosted 0.5, one writer thread.
  Tantivy scores BM25 per field with Lucene's idf (ln(1 + ...)) and quantised field lengths, so its
  ranking can only approximate FTS5's; ``tantivy-1field`` puts title + body in one field.

Reported per engine: build CPU and wall seconds, index size on disk, query CPU ms p50/p95
(``time.process_time``: all threads of the process, on a shared machine wall time alone means little;
``time.thread_time`` and wall are in the JSON), and the ranking against FTS5 and against the reference:
top-10 overlap (the share of the other's top 10 found) and the share of questions whose top 10 is the
same list in the same order (ties at the cut counted as agreement when the scores are equal).

Terms are split at ``_`` (FTS5's unicode61 tokenizer separates there) so every engine sees the same
tokens. Nothing here is product code: the product keeps FTS5 (docs/speed.md, "Lexical at scale").

    nice -n 10 .venv/bin/python -m bench.lexical_engines --passages 100000
"""
from __future__ import annotations

import argparse
import gc
import random
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from scipy import sparse

from bench.common import DATA, RESULTS, log, publish
from retrieval.storage.bm25 import FTS5

TOP = 10
COPY_DROP = 0.15  # variation of the copies past the real passages
COPY_REPLACE = 0.10


# -- the passages, as term ids ------------------------------------------------------------------------
@dataclass
class Terms:
    """Every passage's title and body as ids into ``vocab`` (flat arrays with offsets: 1M passages of
    ~80 terms fit in a few hundred MB)."""

    vocab: list[str]
    title: np.ndarray  # flat ids
    title_off: np.ndarray  # passage i's title is title[title_off[i]:title_off[i + 1]]
    body: np.ndarray
    body_off: np.ndarray
    real: int  # passages taken from real text (the rest are varied copies)

    @property
    def n(self) -> int:
        return len(self.body_off) - 1

    def passage(self, i: int) -> tuple[list[str], list[str]]:
        v = self.vocab
        return ([v[j] for j in self.title[self.title_off[i]:self.title_off[i + 1]]],
                [v[j] for j in self.body[self.body_off[i]:self.body_off[i + 1]]])


def split_terms(words: Sequence[str]) -> list[str]:
    """citebot's terms split at ``_`` (a separator for FTS5's tokenizer, a word character for ``\\w``)."""
    return [p for w in words for p in w.split("_") if p]


def real_terms() -> tuple[list[str], list[list[str]], list[list[str]]]:
    """(vocabulary order irrelevant) title and body terms of every real Reuters + Telegram passage, in
    bench.retrieval_speed's fixed document order."""
    from bench.retrieval_speed import scale_documents
    from retrieval.text.lexical import terms
    from retrieval.text.passages import make_passages

    small, rest = scale_documents()
    titles, bodies = [], []
    for doc in small + rest:
        if doc.key.startswith("scifact:"):
            continue
        title = split_terms(terms(doc.title or ""))
        for p in make_passages(doc.text, doc.lang):
            titles.append(title)
            bodies.append(split_terms(terms(p.text)))
    return [], titles, bodies


def _flat(lists: list[list[str]], ids: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    off = np.zeros(len(lists) + 1, dtype=np.int64)
    off[1:] = np.cumsum([len(x) for x in lists])
    flat = np.fromiter((ids.setdefault(t, len(ids)) for x in lists for t in x), dtype=np.int32, count=int(off[-1]))
    return flat, off


def build_terms(n: int, seed: int = 24) -> Terms:
    """``n`` passages: the real ones (cached as bench/results/lexical-terms.npz), then varied copies."""
    cache = RESULTS / "lexical-terms.npz"
    if cache.is_file():
        z = np.load(cache, allow_pickle=False)
        vocab = z["vocab"].tolist()
        title, title_off, body, body_off = z["title"], z["title_off"], z["body"], z["body_off"]
    else:
        _, titles, bodies = real_terms()
        ids: dict[str, int] = {}
        title, title_off = _flat(titles, ids)
        body, body_off = _flat(bodies, ids)
        vocab = list(ids)
        RESULTS.mkdir(parents=True, exist_ok=True)
        np.savez(cache, vocab=np.asarray(vocab), title=title, title_off=title_off, body=body, body_off=body_off)
    real = len(body_off) - 1
    if n <= real:
        return Terms(vocab, title[:title_off[n]], title_off[:n + 1], body[:body_off[n]], body_off[:n + 1], n)
    rng = np.random.default_rng(seed)
    titles, title_offs, bodies, body_offs = [title], [title_off], [body], [body_off]
    have = real
    while have < n:
        take = min(real, n - have)
        b = body[:body_off[take]]
        owner = np.repeat(np.arange(take), np.diff(body_off[:take + 1]))
        u = rng.random(len(b))
        keep = u >= COPY_DROP
        varied = np.where(u < COPY_DROP + COPY_REPLACE, body[rng.integers(0, len(body), len(b))], b)[keep]
        counts = np.bincount(owner[keep], minlength=take)
        off = np.zeros(take + 1, dtype=np.int64)
        off[1:] = np.cumsum(counts)
        bodies.append(varied.astype(np.int32))
        body_offs.append(off[1:] + body_offs[-1][-1])
        titles.append(title[:title_off[take]])
        title_offs.append(title_off[1:take + 1] + title_offs[-1][-1])
        have += take
    return Terms(vocab, np.concatenate(titles), np.concatenate(title_offs), np.concatenate(bodies),
                 np.concatenate(body_offs), real)


def questions(n: int) -> list[list[str]]:
    """``n`` XQuAD questions' terms, half English, half Russian, shuffled (bench.retrieval_speed's pick)."""
    from bench.retrieval_speed import questions as pick
    from retrieval.text.lexical import query_terms

    return [list(dict.fromkeys(split_terms(query_terms(q)))) for q in pick(n)]


# -- the engines ----------------------------------------------------------------------------------------
@dataclass
class Hits:
    ids: list[int]  # passage ids (0-based rows), best first
    scores: list[float]


class Engine:
    name = ""
    ranks_like_fts5 = False

    def build(self, t: Terms, work: Path) -> None:
        raise NotImplementedError

    def search(self, q: list[str]) -> Hits:
        raise NotImplementedError

    def size(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class FTS5Engine(Engine):
    name = "fts5"
    ranks_like_fts5 = True

    def build(self, t: Terms, work: Path) -> None:
        from retrieval.storage import open_sqlite

        self.home = work / "fts5"
        self.store = open_sqlite(self.home)
        db = self.store.lexical.database
        for start in range(0, t.n, 10_000):
            with db.write() as conn:
                writer = self.store.lexical.writer(conn)
                for i in range(start, min(t.n, start + 10_000)):
                    title, body = t.passage(i)
                    writer.add(i + 1, title, body)  # rowid = passage id, 1-based as in the store

    def search(self, q: list[str]) -> Hits:
        hits = self.store.lexical.search(q, TOP)
        return Hits([h.passage_id - 1 for h in hits], [h.score for h in hits])

    def size(self) -> int:
        self.store.lexical.database.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return _du(self.home)

    def close(self) -> None:
        self.store.close()


def frequencies(t: Terms, bm25=FTS5) -> tuple[sparse.csr_matrix, np.ndarray]:
    """(passage x term CSR of weighted frequencies: title_weight x in the title + 1 x in the body, the
    tokens per passage: FTS5's D, every token of the row, unweighted)."""
    n, nv = t.n, len(t.vocab)
    tl = np.diff(t.title_off)
    bl = np.diff(t.body_off)
    rows = np.concatenate([np.repeat(np.arange(n), tl), np.repeat(np.arange(n), bl)])
    cols = np.concatenate([t.title, t.body]).astype(np.int64)
    w = np.concatenate([np.full(len(t.title), bm25.title_weight, dtype=np.float64), np.ones(len(t.body))])
    f = sparse.csr_matrix((w, (rows, cols)), shape=(n, nv))  # duplicates summed: weighted frequency
    f.sum_duplicates()
    return f, (tl + bl).astype(np.float64)


def idf_of(df: np.ndarray, n: int) -> np.ndarray:
    """FTS5's idf: ln((N - df + 0.5) / (df + 0.5)), never below 1e-6 (a term in most passages)."""
    idf = np.log((n - df + 0.5) / (df + 0.5))
    return np.where(idf <= 0.0, 1e-6, idf)


def bm25_matrix(t: Terms, bm25=FTS5) -> sparse.csr_matrix:
    """citebot's BM25 (FTS5's formula) as a term x passage CSR matrix of weights, float32."""
    f, length = frequencies(t, bm25)
    n, nv = f.shape
    avgdl = max(length.sum() / max(n, 1), 1e-9)
    idf = idf_of(np.bincount(f.indices, minlength=nv).astype(np.float64), n)
    coo = f.tocoo()
    data = idf[coo.col] * coo.data * (bm25.k1 + 1) / (coo.data + bm25.k1 * (1 - bm25.b + bm25.b * length[coo.row] / avgdl))
    return sparse.csr_matrix((data.astype(np.float32), (coo.col, coo.row)), shape=(nv, n))


def _top(scores: np.ndarray, k: int = TOP) -> Hits:
    nz = int(np.count_nonzero(scores))
    if nz == 0:
        return Hits([], [])
    k = min(k, nz)
    part = np.argpartition(-scores, k - 1)[:k]
    order = part[np.lexsort((part, -scores[part]))]
    return Hits(order.tolist(), scores[order].astype(float).tolist())


class ReferenceEngine(Engine):
    name = "reference"
    ranks_like_fts5 = True

    def build(self, t: Terms, work: Path) -> None:
        self.m = bm25_matrix(t)
        self.vocab = {w: i for i, w in enumerate(t.vocab)}

    def search(self, q: list[str]) -> Hits:
        cols = [self.vocab[w] for w in q if w in self.vocab]
        if not cols:
            return Hits([], [])
        return _top(np.asarray(self.m[cols].sum(axis=0)).ravel())

    def size(self) -> int:
        return self.m.data.nbytes + self.m.indices.nbytes + self.m.indptr.nbytes

    def shared(self) -> tuple[sparse.csr_matrix, dict[str, int]]:
        return self.m, self.vocab


class LazyEngine(Engine):
    """citebot's BM25 computed at question time from stored frequencies (term x passage CSR of weighted
    frequencies, the passages' lengths): what an updatable numpy engine would do, since precomputed
    weights (reference, bm25s) all change when a passage is added (N, df, the average length)."""

    name = "numpy-lazy"
    ranks_like_fts5 = True

    def build(self, t: Terms, work: Path) -> None:
        f, length = frequencies(t)
        self.m = f.T.tocsr().astype(np.float32)
        self.n = f.shape[0]
        avgdl = max(length.sum() / max(self.n, 1), 1e-9)
        self.norm = (FTS5.k1 * (1 - FTS5.b + FTS5.b * length / avgdl)).astype(np.float32)
        self.vocab = {w: i for i, w in enumerate(t.vocab)}

    def search(self, q: list[str]) -> Hits:
        cols = [self.vocab[w] for w in q if w in self.vocab]
        if not cols:
            return Hits([], [])
        m, k1 = self.m, FTS5.k1
        scores = np.zeros(self.n, dtype=np.float32)
        for c in cols:
            s, e = m.indptr[c], m.indptr[c + 1]
            if e == s:
                continue
            idx, fr = m.indices[s:e], m.data[s:e]
            idf = float(idf_of(np.asarray([e - s], dtype=np.float64), self.n)[0])
            scores[idx] += idf * fr * (k1 + 1) / (fr + self.norm[idx])  # a term's passages are distinct
        return _top(scores)

    def size(self) -> int:
        return self.m.data.nbytes + self.m.indices.nbytes + self.m.indptr.nbytes + self.norm.nbytes


class BM25sEngine(Engine):
    """bm25s's retrieval over the reference matrix (its eager index format: per token, the passages and
    their precomputed weights)."""

    name = "bm25s"
    ranks_like_fts5 = True
    backend = "numpy"

    def __init__(self, reference: ReferenceEngine) -> None:
        self.reference = reference

    def build(self, t: Terms, work: Path) -> None:
        import bm25s

        m, vocab = self.reference.shared()
        model = bm25s.BM25(k1=FTS5.k1, b=FTS5.b, method="robertson", backend=self.backend)
        model.scores = {"data": m.data, "indices": m.indices.astype(np.int32), "indptr": m.indptr,
                        "num_docs": m.shape[1]}
        model.vocab_dict = dict(vocab)
        model.unique_token_ids_set = set(vocab.values())
        model.nonoccurrence_array = None  # robertson: a term absent from a passage adds nothing
        self.model = model
        self.dir = work / "bm25s"
        model.save(str(self.dir))
        if self.backend == "numba":
            model.compile(activate_numba=True, warmup=False)

    def search(self, q: list[str]) -> Hits:
        q = [w for w in q if w in self.model.vocab_dict]
        if not q:
            return Hits([], [])
        docs, scores = self.model.retrieve([q], k=TOP, show_progress=False, n_threads=1)
        keep = scores[0] > 0
        return Hits(docs[0][keep].astype(int).tolist(), scores[0][keep].astype(float).tolist())

    def size(self) -> int:
        return _du(self.dir)


class BM25sNumba(BM25sEngine):
    name = "bm25s-numba"
    backend = "numba"


class BM25sNativeEngine(BM25sEngine):
    name = "bm25s-native"
    ranks_like_fts5 = False

    def __init__(self) -> None:
        pass

    def build(self, t: Terms, work: Path) -> None:
        import bm25s

        self.model = bm25s.BM25(k1=FTS5.k1, b=FTS5.b, method="robertson", backend="numpy")
        self.model.index([title + body for title, body in (t.passage(i) for i in range(t.n))], show_progress=False)
        self.dir = work / "bm25s-native"
        self.model.save(str(self.dir))


class TantivyEngine(Engine):
    name = "tantivy"
    one_field = False

    def build(self, t: Terms, work: Path) -> None:
        import tantivy

        sb = tantivy.SchemaBuilder()
        for name in (("body",) if self.one_field else ("title", "body")):
            sb.add_text_field(name, tokenizer_name="whitespace", index_option="freq")
        sb.add_integer_field("pid", stored=True, indexed=False)
        self.schema = sb.build()
        self.dir = work / self.name
        self.dir.mkdir()
        self.index = tantivy.Index(self.schema, path=str(self.dir))
        writer = self.index.writer(heap_size=200_000_000, num_threads=1)
        for i in range(t.n):
            title, body = t.passage(i)
            if self.one_field:
                writer.add_document(tantivy.Document(pid=i, body=" ".join(title + body)))
            else:
                writer.add_document(tantivy.Document(pid=i, title=" ".join(title), body=" ".join(body)))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()
        self.tantivy = tantivy

    def search(self, q: list[str]) -> Hits:
        tv = self.tantivy
        subs = []
        for w in q:
            subs.append((tv.Occur.Should, tv.Query.term_query(self.schema, "body", w)))
            if not self.one_field:
                subs.append((tv.Occur.Should, tv.Query.boost_query(
                    tv.Query.term_query(self.schema, "title", w), FTS5.title_weight)))
        if not subs:
            return Hits([], [])
        res = self.searcher.search(tv.Query.boolean_query(subs), TOP, count=False)
        return Hits([self.searcher.doc(a)["pid"][0] for _, a in res.hits], [float(s) for s, _ in res.hits])

    def size(self) -> int:
        return _du(self.dir)


class TantivyOneField(TantivyEngine):
    name = "tantivy-1field"
    one_field = True


# -- measuring -------------------------------------------------------------------------------------------
@dataclass
class Timing:
    cpu: list[float] = field(default_factory=list)
    thread: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)


def timed(fn: Callable[[], Any]) -> tuple[float, float, float, Any]:
    c, th, w = time.process_time(), time.thread_time(), time.perf_counter()
    out = fn()
    return ((time.process_time() - c) * 1000, (time.thread_time() - th) * 1000, (time.perf_counter() - w) * 1000, out)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def agreement(a: Hits, b: Hits) -> tuple[float, bool]:
    """(share of ``b``'s top 10 that ``a`` returns, whether the two lists are the same ranking). Passages
    tied with the last one's score may be cut differently, and tied passages may swap: both count as the
    same ranking when the scores agree."""
    if not b.ids:
        return (1.0 if not a.ids else 0.0), not a.ids
    overlap = len(set(a.ids) & set(b.ids)) / len(b.ids)
    if a.ids == b.ids:
        return overlap, True
    if len(a.ids) != len(b.ids):
        return overlap, False
    same = all(abs(x - y) <= 1e-4 * max(1.0, abs(y)) for x, y in zip(a.scores, b.scores))
    return overlap, same


def run(n: int, n_questions: int, engines: Sequence[str], work: Path) -> dict[str, Any]:
    start = time.perf_counter()
    t = build_terms(n)
    log(f"{t.n} passages ({t.real} real), {len(t.vocab)} terms, {len(t.body) + len(t.title)} tokens "
        f"({time.perf_counter() - start:.0f}s)")
    c0, w0 = time.process_time(), time.perf_counter()
    for i in range(t.n):
        t.passage(i)
    feed = {"cpu_s": round(time.process_time() - c0, 1), "wall_s": round(time.perf_counter() - w0, 1)}
    log(f"feeding the term lists alone: {feed['cpu_s']} CPU s (included in every build but the reference's)")
    reference = ReferenceEngine()
    made: dict[str, Engine] = {}
    builds: dict[str, dict[str, float]] = {}
    for name in engines:
        engine = {"fts5": FTS5Engine, "reference": lambda: reference, "bm25s": lambda: BM25sEngine(reference),
                  "bm25s-numba": lambda: BM25sNumba(reference), "numpy-lazy": LazyEngine,
                  "bm25s-native": BM25sNativeEngine, "tantivy": TantivyEngine,
                  "tantivy-1field": TantivyOneField}[name]()
        if name.startswith("bm25s") and name != "bm25s-native" and "reference" not in made and not hasattr(reference, "m"):
            reference.build(t, work)
        gc.collect()
        c, w = time.process_time(), time.perf_counter()
        engine.build(t, work)
        builds[name] = {"build_cpu_s": round(time.process_time() - c, 1), "build_wall_s": round(time.perf_counter() - w, 1),
                        "size_mb": round(engine.size() / 1e6, 1)}
        made[name] = engine
        log(f"  {name}: built in {builds[name]['build_cpu_s']} CPU s, {builds[name]['size_mb']} MB")
    qs = [q for q in questions(n_questions) if q]
    for engine in made.values():  # warm-up: first-query effects (page cache, lazy loads)
        for q in qs[:5]:
            engine.search(q)
    timing = {name: Timing() for name in made}
    results: dict[str, list[Hits]] = {name: [] for name in made}
    names = list(made)
    for qi, q in enumerate(qs):
        for name in names[qi % len(names):] + names[:qi % len(names)]:  # rotating order
            cpu, thread, wall, hits = timed(lambda: made[name].search(q))
            timing[name].cpu.append(cpu)
            timing[name].thread.append(thread)
            timing[name].wall.append(wall)
            results[name].append(hits)
    used = int(np.count_nonzero(np.bincount(np.concatenate([t.title, t.body]), minlength=len(t.vocab))))
    out: dict[str, Any] = {"passages": t.n, "real_passages": t.real, "vocabulary": used,
                           "tokens": int(len(t.body) + len(t.title)), "questions": len(qs), "feed": feed, "engines": {}}
    for name in made:
        row: dict[str, Any] = dict(builds[name])
        tm = timing[name]
        row.update({"cpu_ms_p50": round(pct(tm.cpu, 50), 3), "cpu_ms_p95": round(pct(tm.cpu, 95), 3),
                    "thread_ms_p50": round(pct(tm.thread, 50), 3), "thread_ms_p95": round(pct(tm.thread, 95), 3),
                    "wall_ms_p50": round(pct(tm.wall, 50), 3), "wall_ms_p95": round(pct(tm.wall, 95), 3)})
        for against in ("fts5", "reference"):
            if against not in results:
                continue
            pairs = [agreement(a, b) for a, b in zip(results[name], results[against])]
            row[f"overlap_at_10_vs_{against}"] = round(statistics.fmean(p[0] for p in pairs), 4)
            row[f"same_ranking_vs_{against}"] = round(statistics.fmean(float(p[1]) for p in pairs), 4)
        out["engines"][name] = row
    for engine in made.values():
        engine.close()
    return out


def table(res: dict[str, Any]) -> str:
    lines = [f"{res['passages']:,} passages ({res['real_passages']:,} real), {res['questions']} questions",
             "| engine | build CPU s | index MB | query CPU ms p50 / p95 | top-10 overlap vs FTS5 | same top 10 vs FTS5 "
             "| overlap vs reference |", "|---|---|---|---|---|---|---|"]
    for name, r in res["engines"].items():
        lines.append(f"| {name} | {r['build_cpu_s']} | {r['size_mb']} | {r['cpu_ms_p50']:.2f} / {r['cpu_ms_p95']:.2f} | "
                     f"{r.get('overlap_at_10_vs_fts5', '-')} | {r.get('same_ranking_vs_fts5', '-')} | "
                     f"{r.get('overlap_at_10_vs_reference', '-')} |")
    return "\n".join(lines)


ENGINES = ("fts5", "reference", "numpy-lazy", "bm25s", "bm25s-numba", "bm25s-native", "tantivy", "tantivy-1field")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lexical_engines", description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated, of " + ", ".join(ENGINES))
    args = parser.parse_args(argv)
    engines = [e for e in args.engines.split(",") if e]
    for e in engines:
        if e not in ENGINES:
            parser.error(f"unknown engine {e!r}")
    work = Path(tempfile.mkdtemp(prefix="citebot-lexical-engines-"))
    try:
        random.seed(0)
        res = run(args.passages, args.questions, engines, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    publish(f"lexical_engines-{args.passages}", res, table(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
