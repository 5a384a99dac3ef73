"""`citebot eval`: retrieval quality on labelled data, so "answers you can trust" is a number.

Reads BEIR-format data (corpus.jsonl, queries.jsonl, qrels.tsv) or SQuAD-format data (each question's
relevant passage is the paragraph holding its answer), optionally mixed with distractor documents
(JSONL, Reuters-21578 SGML, Telegram JSON exports), indexes everything through the public
:class:`retrieval.Corpus` API into its own index directory, runs every query and reports nDCG@10,
Recall@10/100, MRR@10 and query latency. Passage hits are aggregated to documents (max score, i.e.
the first time a document appears in the ranking) because the labels are per document.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import html
import json
import math
import os
import random
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import UserError
from .search import MODES

EVAL_URL_PREFIX = "eval:"  # stored as each document's url so hits map back to dataset ids


# --------------------------------------------------------------------------- data types


@dataclass
class EvalDoc:
    """One document of an evaluation corpus; ``key`` is the dataset's id, used by the qrels."""

    key: str
    text: str
    title: str = ""
    date: str | None = None
    source: str = ""
    lang: str = ""


@dataclass
class EvalQuery:
    qid: str
    text: str


@dataclass
class EvalSet:
    """Documents, queries and graded relevance (qrels[qid][doc key] = grade > 0)."""

    name: str
    docs: list[EvalDoc]
    queries: list[EvalQuery]
    qrels: dict[str, dict[str, int]]


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


# --------------------------------------------------------------------------- metrics


def dcg_at_k(gains: Sequence[float], k: int) -> float:
    """Discounted cumulative gain with linear gains (trec_eval / BEIR convention)."""
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))


def ndcg_at_k(ranked: Sequence[str], qrels: dict[str, int], k: int) -> float:
    """nDCG@k of one ranking; 0 when the query has no relevant document."""
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)
    idcg = dcg_at_k(ideal, k)
    if idcg == 0:
        return 0.0
    gains = [max(qrels.get(key, 0), 0) for key in ranked[:k]]
    return dcg_at_k(gains, k) / idcg


def recall_at_k(ranked: Sequence[str], qrels: dict[str, int], k: int) -> float:
    """Share of the relevant documents found in the top k."""
    relevant = {key for key, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], qrels: dict[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the top k (0 if none)."""
    for i, key in enumerate(ranked[:k]):
        if qrels.get(key, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), without needing numpy."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def dedupe_ranking(keys: Iterable[str]) -> list[str]:
    """Passage-level ranking -> document ranking by each document's best passage (max aggregation)."""
    seen: set[str] = set()
    out: list[str] = []
    for key in keys:
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


@dataclass
class Scores:
    ndcg_at_10: float
    recall_at_5: float
    recall_at_10: float
    recall_at_100: float
    mrr_at_10: float


def score_rankings(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> Scores:
    """Mean metrics over every query that has judgements (a query with no ranking scores 0)."""
    qids = [qid for qid, rels in qrels.items() if any(g > 0 for g in rels.values())]
    if not qids:
        raise UserError("no query has a relevant document in the qrels: nothing to evaluate")
    n = len(qids)

    def mean(fn, k: int) -> float:
        return sum(fn(rankings.get(q, []), qrels[q], k) for q in qids) / n

    return Scores(
        ndcg_at_10=mean(ndcg_at_k, 10),
        recall_at_5=mean(recall_at_k, 5),
        recall_at_10=mean(recall_at_k, 10),
        recall_at_100=mean(recall_at_k, 100),
        mrr_at_10=mean(mrr_at_k, 10),
    )


# --------------------------------------------------------------------------- loaders


def _open_text(path: Path, encoding: str = "utf-8"):
    try:
        return path.open(encoding=encoding)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, expected a file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None


def _read_jsonl(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise UserError(f"{path}:{lineno}: expected a JSON object per line")
            yield lineno, obj


def _key(obj: dict[str, Any], path: Path, lineno: int) -> str:
    for name in ("_id", "id", "doc_id"):
        if obj.get(name) is not None and str(obj[name]) != "":
            return str(obj[name])
    raise UserError(f"{path}:{lineno}: missing \"_id\"")


def load_beir(corpus: Path, queries: Path, qrels: Path, name: str | None = None) -> EvalSet:
    """BEIR layout: corpus.jsonl (_id, title, text), queries.jsonl (_id, text), qrels TSV.

    Only queries with at least one judgement are kept (as BEIR does), so a queries file covering
    several splits evaluates just the split whose qrels were given.
    """
    docs: list[EvalDoc] = []
    seen: set[str] = set()
    for lineno, obj in _read_jsonl(Path(corpus)):
        key = _key(obj, Path(corpus), lineno)
        text = str(obj.get("text") or "")
        title = str(obj.get("title") or "")
        if not text.strip() and not title.strip():
            continue
        if key in seen:
            raise UserError(f"{corpus}:{lineno}: duplicate _id {key!r}")
        seen.add(key)
        docs.append(EvalDoc(key=key, text=text, title=title))
    judged = load_qrels(Path(qrels))
    query_list: list[EvalQuery] = []
    for lineno, obj in _read_jsonl(Path(queries)):
        qid = _key(obj, Path(queries), lineno)
        if qid in judged:
            query_list.append(EvalQuery(qid=qid, text=str(obj.get("text") or "")))
    if not query_list:
        raise UserError(f"{queries}: none of its queries appears in {qrels}")
    kept = {q.qid for q in query_list}
    judged = {qid: rels for qid, rels in judged.items() if qid in kept}
    unknown = {key for rels in judged.values() for key in rels} - seen
    if unknown and len(unknown) == sum(len(r) for r in judged.values()):
        raise UserError(f"{qrels}: no judged document id appears in {corpus}")
    return EvalSet(name=name or Path(corpus).parent.name or "beir", docs=docs, queries=query_list, qrels=judged)


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """TREC/BEIR qrels: ``query-id corpus-id score`` (tab-separated, optional header) or TREC
    ``qid 0 docid score`` (whitespace-separated)."""
    qrels: dict[str, dict[str, int]] = {}
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split("\t") if "\t" in line else line.split()
            parts = [p.strip() for p in parts]
            if not parts or not parts[0]:
                continue
            if lineno == 1 and not parts[-1].lstrip("-").isdigit():
                continue  # header
            if len(parts) == 3:
                qid, key, grade = parts
            elif len(parts) == 4:
                qid, _, key, grade = parts
            else:
                raise UserError(f"{path}:{lineno}: expected 'query-id<TAB>corpus-id<TAB>score'")
            try:
                value = int(float(grade))
            except ValueError:
                raise UserError(f"{path}:{lineno}: score {grade!r} is not a number") from None
            qrels.setdefault(qid, {})[key] = value
    if not qrels:
        raise UserError(f"{path}: no judgements")
    return qrels


def _load_json(path: Path) -> Any:
    with _open_text(path, encoding="utf-8-sig") as fh:
        try:
            return json.load(fh)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None


def load_squad(path: Path, questions: Path | None = None, lang: str = "") -> EvalSet:
    """SQuAD v1.1 JSON: every paragraph becomes a document, every question's relevant document is the
    paragraph holding it. With ``questions`` (another translation of the same file, e.g. XQuAD ru for
    an en corpus), the question texts come from that file, matched by question id: a cross-lingual test.
    """
    data = _load_json(Path(path))
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise UserError(f"{path}: not SQuAD format (expected {{\"data\": [...]}})")
    docs: list[EvalDoc] = []
    queries: list[EvalQuery] = []
    qrels: dict[str, dict[str, int]] = {}
    for a, article in enumerate(data["data"]):
        title = str(article.get("title") or "").replace("_", " ").strip()
        for p, para in enumerate(article.get("paragraphs") or []):
            context = str(para.get("context") or "").lstrip("\ufeff").strip()
            if not context:
                continue
            key = f"{a}.{p}"
            docs.append(EvalDoc(key=key, text=context, title=title, lang=lang))
            for qa in para.get("qas") or []:
                qid = str(qa.get("id") or f"{key}.{len(queries)}")
                text = str(qa.get("question") or "").strip()
                if not text:
                    continue
                queries.append(EvalQuery(qid=qid, text=text))
                qrels[qid] = {key: 1}
    if not queries:
        raise UserError(f"{path}: no questions found")
    name = Path(path).stem
    if questions is not None:
        other = load_squad(Path(questions))
        texts = {q.qid: q.text for q in other.queries}
        matched = [EvalQuery(q.qid, texts[q.qid]) for q in queries if q.qid in texts]
        if not matched:
            raise UserError(f"{questions}: no question id matches {path}")
        queries = matched
        qrels = {q.qid: qrels[q.qid] for q in matched}
        name = f"{Path(questions).stem}-over-{name}"
    return EvalSet(name=name, docs=docs, queries=queries, qrels=qrels)


_REUTERS_RE = re.compile(r"<REUTERS\b([^>]*)>(.*?)</REUTERS>", re.S)
_TAG_RE = {tag: re.compile(rf"<{tag}>(.*?)</{tag}>", re.S) for tag in ("DATE", "TITLE", "BODY", "DATELINE")}
_MONTHS = {m: i for i, m in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}


def _reuters_date(raw: str) -> str | None:
    m = re.match(r"\s*(\d{1,2})-([A-Z]{3})-(\d{4})", raw.upper())
    if not m or m.group(2) not in _MONTHS:
        return None
    return f"{int(m.group(3)):04d}-{_MONTHS[m.group(2)]:02d}-{int(m.group(1)):02d}"


def _sgml_text(raw: str) -> str:
    """Unescaped text with the wire's hard line wraps joined: paragraphs start with an indent."""
    text = html.unescape(raw)
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text)  # Reuters control characters (&#3; etc.)
    text = re.sub(r"\s*\bReuter\s*$", "", text.strip(), flags=re.I).strip()
    paragraphs = re.split(r"\n\s{2,}", text)
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def load_reuters(path: Path) -> list[EvalDoc]:
    """Reuters-21578 ``reut2-*.sgm`` (Latin-1): stories that have a body, with title and date."""
    with _open_text(Path(path), encoding="latin-1") as fh:
        raw = fh.read()
    docs: list[EvalDoc] = []
    for m in _REUTERS_RE.finditer(raw):
        attrs, inner = m.group(1), m.group(2)
        body = _TAG_RE["BODY"].search(inner)
        if not body:
            continue
        text = _sgml_text(body.group(1))
        if not text:
            continue
        newid = re.search(r'NEWID="(\d+)"', attrs)
        title = _TAG_RE["TITLE"].search(inner)
        date = _TAG_RE["DATE"].search(inner)
        docs.append(EvalDoc(
            key=f"reuters:{newid.group(1) if newid else len(docs)}",
            text=text,
            title=_sgml_text(title.group(1)).title() if title else "",
            date=_reuters_date(date.group(1)) if date else None,
            source="Reuters",
            lang="en",
        ))
    return docs


def load_telegram(path: Path) -> list[EvalDoc]:
    """A Telegram channel export as a JSON list of posts (``text``, ``date``, ``channel``)."""
    data = _load_json(Path(path))
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        data = data["messages"]  # Telegram Desktop export layout
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a JSON list of posts")
    docs: list[EvalDoc] = []
    for i, post in enumerate(data):
        if not isinstance(post, dict):
            continue
        text = post.get("text") or ""
        if isinstance(text, list):  # Telegram Desktop: mixed strings and entity objects
            text = "".join(t if isinstance(t, str) else str(t.get("text", "")) for t in text)
        text = str(text).strip()
        if not text:
            continue
        first_line = text.split("\n", 1)[0].strip()
        date = str(post.get("date") or "")[:10] or None
        docs.append(EvalDoc(
            key=f"tg:{Path(path).stem}:{post.get('message_id', post.get('id', i))}",
            text=text,
            title=first_line[:120],
            date=date if date and re.match(r"\d{4}-\d{2}-\d{2}$", date) else None,
            source=str(post.get("channel") or "Telegram"),
            lang="ru",
        ))
    return docs


def load_jsonl_docs(path: Path) -> list[EvalDoc]:
    """Distractors as JSONL: ``text`` required; ``title``, ``date``, ``source``, ``_id`` optional."""
    docs: list[EvalDoc] = []
    for lineno, obj in _read_jsonl(Path(path)):
        text = str(obj.get("text") or "").strip()
        if not text:
            continue
        key = next((str(obj[n]) for n in ("_id", "id") if obj.get(n) is not None), str(lineno))
        docs.append(EvalDoc(
            key=f"jsonl:{Path(path).stem}:{key}",
            text=text,
            title=str(obj.get("title") or ""),
            date=(str(obj["date"])[:10] if obj.get("date") else None),
            source=str(obj.get("source") or ""),
            lang=str(obj.get("lang") or ""),
        ))
    return docs


def _distractor_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in {".sgm", ".jsonl", ".json"})
        if not files:
            raise UserError(f"{path}: no .sgm, .json or .jsonl files in this directory")
        return files
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if path.suffix.lower() not in {".sgm", ".jsonl", ".json"}:
        raise UserError(f"{path}: distractors must be .jsonl, Reuters .sgm or Telegram .json")
    return [path]


def load_distractors(paths: Sequence[Path], limit: int | None = None, seed: int = 0) -> list[EvalDoc]:
    """Every distinct distractor document from ``paths``; with ``limit``, a seeded random sample of that
    size (seeded so reruns reuse the same index and the figures are reproducible)."""
    docs: list[EvalDoc] = []
    for path in paths:
        for file in _distractor_files(Path(path)):
            suffix = file.suffix.lower()
            if suffix == ".sgm":
                docs.extend(load_reuters(file))
            elif suffix == ".jsonl":
                docs.extend(load_jsonl_docs(file))
            else:
                docs.extend(load_telegram(file))
    seen: set[str] = set()
    unique = []
    for doc in docs:  # wire services repeat stories verbatim; a repeat adds nothing as a distractor
        if doc.text not in seen:
            seen.add(doc.text)
            unique.append(doc)
    if limit is not None and limit < len(unique):
        unique = random.Random(seed).sample(unique, limit)
    return unique


# --------------------------------------------------------------------------- runner


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
    parser.add_argument("--home", default=argparse.SUPPRESS,
                        help="index directory for the eval (default: a cache dir keyed by data and model, "
                             "never the CITEBOT_HOME index)")
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
        h.update(f"{name}={getattr(settings, name, '')}".encode())
    return _cache_root() / f"{evalset.name}-{h.hexdigest()[:12]}"


def _doc_key(url: str) -> str | None:
    return url[len(EVAL_URL_PREFIX):] if url.startswith(EVAL_URL_PREFIX) else None


def build_index(corpus: Any, docs: Sequence[EvalDoc], progress: bool = False) -> tuple[int, float]:
    """Add every document not already in the index (bulk, so embedding is batched); returns
    (documents added, seconds). Documents are forced in: near-duplicates are real corpus members here."""
    from .types import Document

    present = {_doc_key(info.url) for info in corpus.documents()}
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
    from . import Corpus

    if mode not in MODES:
        raise UserError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
    corpus = Corpus.open(settings, embedder=embedder)
    try:
        added, build_seconds = build_index(corpus, list(evalset.docs) + list(distractors), progress=progress)
        key_of = {}
        distractor_keys = {d.key for d in distractors}
        distractor_passages = 0
        for info in corpus.documents():
            key = _doc_key(info.url)
            if key is not None:
                key_of[info.doc_id] = key
                distractor_passages += info.passages if key in distractor_keys else 0
        rankings, latencies = run_queries(corpus, evalset, mode, depth, key_of)
        stats = corpus.stats()
        model = str(stats.get("model") or stats.get("embedder") or getattr(settings, "embedder", ""))
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
    explicit = getattr(args, "home", None)
    home = Path(explicit) if explicit else default_home(evalset, distractors, settings)
    settings = settings.replace(home=str(home))
    result = evaluate(evalset, distractors, settings, mode=args.mode, depth=args.depth,
                      embedder=embedder, progress=True)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print(format_table(result))
    return 0
