"""Evaluation data: BEIR and SQuAD sets, and distractor documents (JSONL, Reuters-21578 SGML, Telegram
JSON exports) that make the index look like a real, noisy corpus.
"""
from __future__ import annotations

import html
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..errors import UserError
from ..text.cleaning import plain_post


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
    """One question of an evaluation set; ``qid`` keys the qrels."""

    qid: str
    text: str


@dataclass
class EvalSet:
    """Documents, queries and graded relevance (qrels[qid][doc key] = grade > 0)."""

    name: str
    docs: list[EvalDoc]
    queries: list[EvalQuery]
    qrels: dict[str, dict[str, int]]


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
        text = plain_post(str(text))
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
