"""Running an evaluation: index the data through the public ``Corpus`` API, run every query, report."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..errors import UserError
from ..search import MODES
from .datasets import EvalDoc, EvalSet, load_beir, load_distractors, load_squad
from .metrics import dedupe_ranking, percentile, score_rankings

EVAL_URL_PREFIX = "eval:"  # stored as each document's url so hits map back to dataset ids


@dataclass
class EvalResult:
    """What one eval run measured; ``to_json`` gives the stable ``eval --json`` shape."""

    ndcg_at_10: float
    recall_at_10: float
    recall_at_100: float
    mrr_at_10: float
    recall_at_5: float
    latency_ms_p50: float
    latency_ms_p95: float
    queries: int
    documents: int
    distractors: int
    passages: int
    build_seconds: float
    added: int
    mode: str
    model: str
    dataset: str
    home: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = {
            "ndcg@10": round(self.ndcg_at_10, 4),
            "recall@10": round(self.recall_at_10, 4),
            "recall@100": round(self.recall_at_100, 4),
            "mrr@10": round(self.mrr_at_10, 4),
            "recall@5": round(self.recall_at_5, 4),
            "latency_ms_p50": round(self.latency_ms_p50, 2),
            "latency_ms_p95": round(self.latency_ms_p95, 2),
        }
        rest = asdict(self)
        for key in ("ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10", "recall_at_5",
                    "latency_ms_p50", "latency_ms_p95", "extra"):
            rest.pop(key)
        rest["build_seconds"] = round(self.build_seconds, 2)
        out.update(rest)
        out.update(self.extra)
        return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``citebot eval`` (the CLI wires the subcommand to :func:`run`)."""
    src = parser.add_argument_group("data (BEIR or SQuAD)")
    src.add_argument("--corpus", type=Path, help="BEIR corpus.jsonl (_id, title, text)")
    src.add_argument("--queries", type=Path, help="BEIR queries.jsonl (_id, text)")
    src.add_argument("--qrels", type=Path, help="BEIR qrels TSV (query-id, corpus-id, score)")
    src.add_argument("--squad", type=Path, help="SQuAD v1.1 JSON: paragraphs are the corpus, questions the queries")
    src.add_argument("--questions", type=Path,
                     help="with --squad: take question texts from this translation of the same file (cross-lingual)")
    parser.add_argument("--distractors", type=Path, action="append", default=[],
                        help="extra documents: JSONL file, Reuters .sgm file/dir, Telegram JSON file/dir (repeatable)")
    parser.add_argument("--limit-distractors", type=int, default=None, metavar="N",
                        help="use a fixed random sample of N distractor documents")
    parser.add_argument("--limit-queries", type=int, default=None, metavar="N", help="evaluate only the first N queries")
    parser.add_argument("--mode", choices=MODES, default="hybrid", help="retrieval stage to evaluate (default hybrid)")
    # its own dest: the top-level `citebot --home` (the user's corpus) must never reach the eval
    parser.add_argument("--home", dest="eval_home", metavar="HOME", type=Path, default=None,
                        help="index directory for the eval (default: a cache dir keyed by data and model; "
                             "never the CITEBOT_HOME or --home index, never CITEBOT_DATABASE_URL)")
    parser.add_argument("--depth", type=int, default=200, help="passages retrieved per query (default 200)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def load_evalset(args: argparse.Namespace) -> EvalSet:
    """The evaluation data named by the arguments; one clear error when the combination is wrong."""
    beir = [args.corpus, args.queries, args.qrels]
    if args.squad is not None:
        if any(beir):
            raise UserError("use either --squad or --corpus/--queries/--qrels, not both")
        return load_squad(args.squad, questions=args.questions)
    if args.questions is not None:
        raise UserError("--questions only works with --squad")
    if not all(beir):
        raise UserError("give --corpus, --queries and --qrels (BEIR) or --squad FILE")
    return load_beir(args.corpus, args.queries, args.qrels)


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "citebot" / "eval"


def default_home(evalset: EvalSet, distractors: Sequence[EvalDoc], settings: Any) -> Path:
    """An index directory keyed by the data and everything that changes the index, so reruns reuse it."""
    h = hashlib.sha256()
    for doc in list(evalset.docs) + list(distractors):
        h.update(doc.key.encode())
        h.update(hashlib.sha256(doc.text.encode()).digest())
    for name in ("embedder", "model", "passage_min_words", "passage_max_words"):
        h.update(f"{name}={getattr(settings, name)}".encode())
    return _cache_root() / f"{evalset.name}-{h.hexdigest()[:12]}"


def eval_settings(settings: Any, home: Path) -> Any:
    """The settings the eval indexes with: its own SQLite index in ``home``, whatever the user's corpus is
    (CITEBOT_HOME, ``--home`` or a CITEBOT_DATABASE_URL), so evaluating never writes into it."""
    return settings.replace(home=str(home), database_url="")


def doc_key(url: str) -> str | None:
    """The dataset id of a document the eval added (its url is ``eval:<id>``); None for any other."""
    return url[len(EVAL_URL_PREFIX):] if url.startswith(EVAL_URL_PREFIX) else None


def build_index(corpus: Any, docs: Sequence[EvalDoc], progress: bool = False) -> tuple[int, float]:
    """Add every document not already in the index (bulk, so embedding is batched); returns
    (documents added, seconds). Documents are forced in: near-duplicates are real corpus members here."""
    from ..types import Document

    present = {doc_key(info.url) for info in corpus.documents()}
    todo = [d for d in docs if d.key not in present]
    start = time.perf_counter()
    added = 0
    if not todo:
        return 0, 0.0

    def stream():
        for doc in todo:
            yield Document(text=doc.text, title=doc.title, date=doc.date, source=doc.source,
                           url=EVAL_URL_PREFIX + doc.key, lang=doc.lang, path=EVAL_URL_PREFIX + doc.key)

    for i, result in enumerate(corpus.add_documents(stream(), force=True), 1):
        if result.status == "error" and result.reason == "no-sentences":
            # nothing to index (an emoji-only Telegram post): no query can find it, so the eval goes on
            if progress:
                print(f"skipped document {todo[i - 1].key}: {result.message}", file=sys.stderr, flush=True)
            continue
        if result.status == "error":
            raise UserError(f"could not index document {todo[i - 1].key}: {result.message}")
        added += result.status in ("added", "replaced")
        if progress and (i % 500 == 0 or i == len(todo)):
            print(f"indexed {i}/{len(todo)} documents ({time.perf_counter() - start:.0f}s)",
                  file=sys.stderr, flush=True)
    return added, time.perf_counter() - start


def forget_query_vectors(corpus: Any, texts: Sequence[str]) -> int:
    """Drop cached vectors of the query texts from the eval index, so a rerun's latency still includes
    embedding the question (as a user's new question does). Passage vectors are never dropped."""
    return corpus.forget_question_vectors(texts)


def run_queries(corpus: Any, evalset: EvalSet, mode: str, depth: int,
                key_of: dict[int, str]) -> tuple[dict[str, list[str]], list[float]]:
    """Rank documents for every query; returns (document rankings, per-query latency in ms)."""
    if mode != "lexical":
        forget_query_vectors(corpus, [q.text for q in evalset.queries])
    rankings: dict[str, list[str]] = {}
    latencies: list[float] = []
    for query in evalset.queries:
        start = time.perf_counter()
        hits = corpus.search(query.text, k=depth, mode=mode)
        latencies.append((time.perf_counter() - start) * 1000.0)
        rankings[query.qid] = dedupe_ranking(key_of[h.doc_id] for h in hits if h.doc_id in key_of)
    return rankings, latencies


def evaluate(evalset: EvalSet, distractors: Sequence[EvalDoc], settings: Any, mode: str = "hybrid",
             depth: int = 200, embedder: Any = None, progress: bool = False) -> EvalResult:
    """Index ``evalset.docs`` + ``distractors`` into ``settings.home`` and score ``mode`` retrieval."""
    from .. import Corpus

    if mode not in MODES:
        raise UserError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
    corpus = Corpus.open(settings, embedder=embedder)
    try:
        added, build_seconds = build_index(corpus, list(evalset.docs) + list(distractors), progress=progress)
        key_of = {}
        distractor_keys = {d.key for d in distractors}
        distractor_passages = 0
        for info in corpus.documents():
            key = doc_key(info.url)
            if key is not None:
                key_of[info.doc_id] = key
                distractor_passages += info.passages if key in distractor_keys else 0
        rankings, latencies = run_queries(corpus, evalset, mode, depth, key_of)
        stats = corpus.stats()
        model = str(stats.get("model") or settings.embedder)
        passages = int(stats.get("passages", 0) or 0)
    finally:
        corpus.close()
    scores = score_rankings(rankings, evalset.qrels)
    return EvalResult(
        ndcg_at_10=scores.ndcg_at_10, recall_at_10=scores.recall_at_10, recall_at_100=scores.recall_at_100,
        mrr_at_10=scores.mrr_at_10, recall_at_5=scores.recall_at_5,
        latency_ms_p50=percentile(latencies, 50), latency_ms_p95=percentile(latencies, 95),
        queries=len(evalset.queries), documents=len(evalset.docs), distractors=len(distractors),
        passages=passages, build_seconds=build_seconds, added=added, mode=mode, model=model,
        dataset=evalset.name, home=str(settings.home),
        extra={"distractor_passages": distractor_passages,
               **{name: getattr(settings, name) for name in
                  ("passage_min_words", "passage_max_words", "fusion", "lexical_weight") if hasattr(settings, name)}},
    )


def format_table(result: EvalResult) -> str:
    """The text report: one metric per line, aligned."""
    rows = [
        ("dataset", result.dataset),
        ("mode", result.mode),
        ("model", result.model),
        ("queries", str(result.queries)),
        ("documents", f"{result.documents} + {result.distractors} distractors ({result.passages} passages)"),
        ("nDCG@10", f"{result.ndcg_at_10:.4f}"),
        ("Recall@5", f"{result.recall_at_5:.4f}"),
        ("Recall@10", f"{result.recall_at_10:.4f}"),
        ("Recall@100", f"{result.recall_at_100:.4f}"),
        ("MRR@10", f"{result.mrr_at_10:.4f}"),
        ("latency p50", f"{result.latency_ms_p50:.1f} ms"),
        ("latency p95", f"{result.latency_ms_p95:.1f} ms"),
        ("build", f"{result.build_seconds:.1f} s ({result.added} documents added)"),
        ("index", result.home),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def run(args: argparse.Namespace, settings: Any, embedder: Any = None) -> int:
    """``citebot eval``: load, index (reusing the eval index dir), query, print; returns the exit code."""
    evalset = load_evalset(args)
    if args.limit_queries is not None:
        if args.limit_queries < 1:
            raise UserError("--limit-queries must be at least 1")
        evalset.queries = evalset.queries[: args.limit_queries]
        evalset.qrels = {q.qid: evalset.qrels[q.qid] for q in evalset.queries}
    if args.limit_distractors is not None and args.limit_distractors < 0:
        raise UserError("--limit-distractors must be 0 or more")
    if args.depth < 10:
        raise UserError("--depth must be at least 10")
    distractors = load_distractors(args.distractors, args.limit_distractors) if args.distractors else []
    settings = eval_settings(settings, args.eval_home or default_home(evalset, distractors, settings))
    result = evaluate(evalset, distractors, settings, mode=args.mode, depth=args.depth,
                      embedder=embedder, progress=True)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print(format_table(result))
    return 0
