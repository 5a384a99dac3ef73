"""Offline fusion study on an index built by `citebot eval` (SciFact by default).

Why: trying a fusion recipe through `citebot eval` costs a full pass over the index per variant; here
every passage vector, every query vector and a BM25 matrix are loaded once, and each variant (fusion
method, weights, normalisation, document- vs passage-level lexical scoring, passage-to-document
aggregation) is a few matrix operations. What wins here is then implemented in retrieval/search/ and
confirmed with `citebot eval`.

    python -m bench.quality --home bench/results/idx/scifact-minilm
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from retrieval import Corpus, load_settings
from retrieval.eval import EVAL_URL_PREFIX, load_beir, score_rankings
from retrieval.storage.bm25 import BM25 as ProductBM25, FTS5
from retrieval.text.lexical import query_terms, terms

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "scifact"


@dataclass
class Index:
    pids: np.ndarray  # passage ids
    pdoc: np.ndarray  # passage -> document row
    doc_keys: list[str]
    vectors: np.ndarray  # passage vectors, rows aligned with pids
    passage_terms: list[list[str]]
    title_terms: list[list[str]]  # per document row
    doc_texts_terms: list[list[str]]  # whole document (title + text) terms per document row


def load_index(corpus: Corpus) -> Index:
    store = corpus.store
    stored = store.documents.passages(store.documents.passage_ids().tolist())
    rows = [(pid, r.doc_id, r.text, r.title, r.url) for pid, r in sorted(stored.items())]
    batch = store.vectors.passage_vectors(corpus.embedder.name)
    ids, vectors = batch.ids, batch.vectors
    order = {pid: i for i, pid in enumerate(ids.tolist())}
    doc_row: dict[int, int] = {}
    doc_keys: list[str] = []
    title_terms: list[list[str]] = []
    doc_terms: list[list[str]] = []
    pdoc, ptexts, keep = [], [], []
    for pid, doc_id, text, title, url in rows:
        if pid not in order or not url.startswith(EVAL_URL_PREFIX):
            continue
        if doc_id not in doc_row:
            doc_row[doc_id] = len(doc_keys)
            doc_keys.append(url[len(EVAL_URL_PREFIX):])
            title_terms.append(terms(title))
            doc_terms.append(terms(title))
        pdoc.append(doc_row[doc_id])
        t = terms(text)
        ptexts.append(t)
        doc_terms[doc_row[doc_id]].extend(t)
        keep.append(order[pid])
    return Index(np.asarray([r[0] for r in rows if r[0] in order and r[4].startswith(EVAL_URL_PREFIX)]),
                 np.asarray(pdoc), doc_keys, vectors[keep], ptexts, title_terms, doc_terms)


class BM25:
    """Okapi BM25 over pre-tokenised texts as a sparse (texts x vocabulary) weight matrix."""

    def __init__(self, texts: list[list[str]], k1: float = 0.9, b: float = 0.4, vocab: dict[str, int] | None = None):
        self.vocab = vocab if vocab is not None else {}
        rows, cols, vals = [], [], []
        for i, toks in enumerate(texts):
            counts: dict[int, int] = {}
            for t in toks:
                j = self.vocab.setdefault(t, len(self.vocab))
                counts[j] = counts.get(j, 0) + 1
            rows.extend([i] * len(counts))
            cols.extend(counts.keys())
            vals.extend(counts.values())
        tf = sparse.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)),
                               shape=(len(texts), len(self.vocab) + 1))
        dl = np.asarray([len(t) for t in texts], dtype=np.float32)
        avgdl = dl.mean() if len(dl) else 1.0
        df = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.float32)
        n = len(texts)
        self.idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        tf = tf.tocoo()
        denom = tf.data + k1 * (1 - b + b * dl[tf.row] / avgdl)
        w = tf.data * (k1 + 1) / denom * self.idf[tf.col]
        self.matrix = sparse.csr_matrix((w, (tf.row, tf.col)), shape=tf.shape).T.tocsr()  # vocab x texts

    def scores(self, query_terms: list[str]) -> np.ndarray:
        cols = [self.vocab[t] for t in dict.fromkeys(query_terms) if t in self.vocab]
        if not cols:
            return np.zeros(self.matrix.shape[1], dtype=np.float32)
        return np.asarray(self.matrix[cols].sum(axis=0)).ravel()


def doc_max(pscores: np.ndarray, pdoc: np.ndarray, ndocs: int) -> np.ndarray:
    out = np.full(ndocs, -np.inf, dtype=np.float32)
    np.maximum.at(out, pdoc, pscores)
    return out


def minmax_top(scores: np.ndarray, top: int) -> np.ndarray:
    """Min-max over the top ``top`` candidates; everything below the candidate cut-off counts as 0."""
    order = np.argpartition(-scores, min(top, len(scores) - 1))[:top]
    cand = scores[order]
    lo, hi = cand.min(), cand.max()
    out = np.zeros_like(scores)
    if hi - lo > 1e-9:
        out[order] = (cand - lo) / (hi - lo)
    return out


def zscore_top(scores: np.ndarray, top: int) -> np.ndarray:
    order = np.argpartition(-scores, min(top, len(scores) - 1))[:top]
    cand = scores[order]
    mu, sd = cand.mean(), cand.std() + 1e-9
    out = np.full_like(scores, (cand.min() - mu) / sd)
    out[order] = (cand - mu) / sd
    return out


def rrf(scores_list: list[np.ndarray], k: int = 60, top: int = 100) -> np.ndarray:
    out = np.zeros_like(scores_list[0])
    for s in scores_list:
        order = np.argsort(-s)[:top]
        out[order] += 1.0 / (k + np.arange(1, len(order) + 1))
    return out


def rank_keys(doc_scores: np.ndarray, keys: list[str], k: int = 100) -> list[str]:
    order = np.argsort(-doc_scores)[:k]
    return [keys[i] for i in order]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=Path("bench/results/quality-study.json"))
    parser.add_argument("--title-weight", type=float, default=FTS5.title_weight,
                        help="FTS5 bm25 weight of the title column")
    parser.add_argument("--second-home", help="an eval index of the same data built with another embedder")
    parser.add_argument("--second-embedder", default="use-multilingual", help="that index's CITEBOT_EMBEDDER")
    args = parser.parse_args(argv)
    evalset = load_beir(args.data / "corpus.jsonl", args.data / "queries.jsonl", args.data / "qrels" / "train.tsv")
    settings = load_settings().replace(home=args.home)
    corpus = Corpus.open(settings)
    t0 = time.time()
    ix = load_index(corpus)
    ndocs = len(ix.doc_keys)
    qtexts = [q.text for q in evalset.queries]
    qvecs = corpus.encoder.vectors(qtexts, queries=True)
    print(f"loaded {len(ix.pids)} passages of {ndocs} docs, {len(qtexts)} queries in {time.time() - t0:.0f}s",
          file=sys.stderr)

    dense_p = qvecs @ ix.vectors.T  # queries x passages
    dense_d = np.stack([doc_max(row, ix.pdoc, ndocs) for row in dense_p])
    # second-best passage per doc, for "max + a*second" aggregation
    qterms = [terms(q) for q in qtexts]

    # FTS5 (what the product uses today): passage BM25, title column weight --title-weight (default FTS5's)
    fts_p = np.zeros_like(dense_p)
    pos = {pid: i for i, pid in enumerate(ix.pids.tolist())}
    for qi, q in enumerate(qtexts):
        words = query_terms(q)
        if not words:
            continue
        for hit in corpus.store.lexical.search(words, 2000, bm25=ProductBM25(title_weight=args.title_weight)):
            if hit.passage_id in pos:
                fts_p[qi, pos[hit.passage_id]] = hit.score
    fts_d = np.stack([doc_max(row, ix.pdoc, ndocs) for row in fts_p])

    results: dict[str, dict[str, float]] = {}
    indexed = set(ix.doc_keys)
    qrels = {q: r for q, r in evalset.qrels.items() if set(r) <= indexed}  # all, once the index is complete
    print(f"{len(qrels)} of {len(evalset.qrels)} queries have every judged document indexed", file=sys.stderr)

    def record(name: str, doc_scores: np.ndarray) -> None:
        rankings = {q.qid: rank_keys(doc_scores[i], ix.doc_keys) for i, q in enumerate(evalset.queries)}
        s = score_rankings(rankings, qrels)
        results[name] = {"ndcg@10": round(s.ndcg_at_10, 4), "recall@100": round(s.recall_at_100, 4)}
        print(f"{name:<58} nDCG@10 {s.ndcg_at_10:.4f}  R@100 {s.recall_at_100:.4f}", flush=True)

    record("dense max-passage", dense_d)
    record("lexical FTS5 passage max", fts_d)
    lex = {}
    for k1, b in ((0.9, 0.4), (1.2, 0.75), (1.2, 0.4), (1.5, 0.5)):
        bm = BM25(ix.doc_texts_terms, k1, b)
        lex[(k1, b)] = np.stack([bm.scores(t) for t in qterms])
        record(f"lexical BM25 whole doc k1={k1} b={b}", lex[(k1, b)])
    bmp = BM25(ix.passage_terms, 0.9, 0.4)
    lex_p = np.stack([doc_max(bmp.scores(t), ix.pdoc, ndocs) for t in qterms])
    record("lexical BM25 passage max k1=0.9 b=0.4", lex_p)

    def product_like(w: float, lexical_p: np.ndarray, cands: int = 200, norm: str = "minmax",
                     doc_share: float = 0.0) -> np.ndarray:
        """What retrieval/search/ does: passage-level min-max over each list's candidates (the dense
        score of lexical candidates computed exactly, lexical missing = 0), then best passage per doc."""
        out = []
        for i in range(len(qtexts)):
            d_top = np.argpartition(-dense_p[i], cands)[:cands]
            l_pos = np.flatnonzero(lexical_p[i] > 0)
            l_top = l_pos[np.argsort(-lexical_p[i][l_pos])[:cands]]
            ids = np.union1d(d_top, l_top)
            dv = dense_p[i][ids]
            lv = lexical_p[i][ids]
            lmask = np.isin(ids, l_top)
            ln = np.zeros_like(lv)
            if norm == "minmax":
                dn = (dv - dv.min()) / max(dv.max() - dv.min(), 1e-9)
                if lmask.any():
                    lo, hi = lv[lmask].min(), lv[lmask].max()
                    ln[lmask] = (lv[lmask] - lo) / max(hi - lo, 1e-9)
            else:  # z-score over each list's own candidates; a missing lexical score is the list minimum
                dc = dense_p[i][d_top]
                dn = (dv - dc.mean()) / (dc.std() + 1e-9)
                if lmask.any():
                    lc = lexical_p[i][l_top]
                    z = (lv - lc.mean()) / (lc.std() + 1e-9)
                    ln = np.where(lmask, z, z[lmask].min())
            if doc_share:
                # each passage also gets its document's best normalised scores among the candidates
                docs = ix.pdoc[ids]
                best_l = np.full(ndocs, -np.inf, dtype=np.float32)
                np.maximum.at(best_l, docs, ln)
                best_d = np.full(ndocs, -np.inf, dtype=np.float32)
                np.maximum.at(best_d, docs, dn)
                ln = (1 - doc_share) * ln + doc_share * best_l[docs]
                dn = (1 - doc_share) * dn + doc_share * best_d[docs]
            fused = np.full(len(ix.pids), -np.inf, dtype=np.float32)
            fused[ids] = (1 - w) * dn + w * ln
            out.append(doc_max(fused, ix.pdoc, ndocs))
        return np.stack(out)

    for w in (0.2, 0.3, 0.4, 0.5):
        record(f"product-like passage convex w={w} (FTS5)", product_like(w, fts_p))
    for w in (0.3, 0.4, 0.5):
        record(f"product-like passage zscore w={w} (FTS5)", product_like(w, fts_p, norm="z"))
    for w in (0.3, 0.4):
        for share in (0.3, 0.5):
            record(f"product-like minmax w={w} doc_share={share}", product_like(w, fts_p, doc_share=share))
            record(f"product-like zscore w={w} doc_share={share}", product_like(w, fts_p, norm="z", doc_share=share))

    # dense aggregation: best passage plus a share of the document's second-best passage
    def doc_top2(pscores: np.ndarray, alpha: float) -> np.ndarray:
        best = doc_max(pscores, ix.pdoc, ndocs)
        is_best = pscores >= best[ix.pdoc] - 1e-7
        rest = np.where(is_best, -np.inf, pscores)
        second = doc_max(rest, ix.pdoc, ndocs)
        second = np.where(np.isfinite(second), second, best)
        return best + alpha * second

    for alpha in (0.2, 0.5):
        record(f"dense best + {alpha} * second passage", np.stack([doc_top2(r, alpha) for r in dense_p]))

    # dense pseudo-relevance feedback: move the query toward its top passages
    for beta, top in ((0.3, 3), (0.5, 5)):
        q2 = []
        for i in range(len(qtexts)):
            best = np.argsort(-dense_p[i])[:top]
            v = qvecs[i] + beta * ix.vectors[best].mean(axis=0)
            q2.append(v / np.linalg.norm(v))
        prf_p = np.stack(q2) @ ix.vectors.T
        record(f"dense PRF beta={beta} top={top}", np.stack([doc_max(r, ix.pdoc, ndocs) for r in prf_p]))

    best_lex = lex[(0.9, 0.4)]
    for wd, wp in ((0.2, 0.2), (0.25, 0.15), (0.15, 0.25), (0.3, 0.2)):
        fused = np.stack([(1 - wd - wp) * zscore_top(dense_d[i], 100) + wd * zscore_top(best_lex[i], 100)
                          + wp * zscore_top(fts_d[i], 100) for i in range(len(qtexts))])
        record(f"three-way zscore dense + {wd} bm25-doc + {wp} fts5-passage", fused)
    for lname, L in (("fts5-passage", fts_d), ("bm25-doc", best_lex), ("bm25-passage", lex_p)):
        for w in (0.3, 0.4, 0.5, 0.6):
            fused = np.stack([(1 - w) * minmax_top(dense_d[i], 100) + w * minmax_top(L[i], 100)
                              for i in range(len(qtexts))])
            record(f"convex minmax top100 w={w} dense+{lname}", fused)
        for w in (0.3, 0.4, 0.5):
            fused = np.stack([(1 - w) * zscore_top(dense_d[i], 100) + w * zscore_top(L[i], 100)
                              for i in range(len(qtexts))])
            record(f"convex zscore top100 w={w} dense+{lname}", fused)
        fused = np.stack([rrf([dense_d[i], L[i]]) for i in range(len(qtexts))])
        record(f"rrf k=60 dense+{lname}", fused)

    if args.second_home:
        # a second dense model: does it add information the first one lacks? (document level)
        other = Corpus.open(load_settings().replace(home=args.second_home, embedder=args.second_embedder))
        ix2 = load_index(other)
        q2 = other.encoder.vectors(qtexts, queries=True)
        row_of = {k: i for i, k in enumerate(ix2.doc_keys)}
        align = np.asarray([row_of.get(k, -1) for k in ix.doc_keys])
        dense2_d = np.stack([doc_max(r, ix2.pdoc, len(ix2.doc_keys))[align] for r in (q2 @ ix2.vectors.T)])
        dense2_d[:, align < 0] = -np.inf
        other.close()
        record(f"second model {args.second_embedder} dense max-passage", dense2_d)
        for w2 in (0.1, 0.2, 0.3):
            for wl in (0.3, 0.4):
                fused = np.stack([(1 - w2 - wl) * minmax_top(dense_d[i], 100) + w2 * minmax_top(dense2_d[i], 100)
                                  + wl * minmax_top(fts_d[i], 100) for i in range(len(qtexts))])
                record(f"minilm + {w2} {args.second_embedder} + {wl} fts5 (doc-level minmax)", fused)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    corpus.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
