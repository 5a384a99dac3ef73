"""The public entry point: a corpus in one index directory, with add / search / ask / remove.

Adding embeds outside any transaction (slow, cached by text hash), then writes each batch of documents
in one short transaction, so a killed process leaves every document wholly present or wholly absent and
a rerun embeds nothing twice. Reads re-sync the dense index whenever another process changed the store.
"""
from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import dataclass, field, replace
from datetime import date as _date
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from . import answer as answer_mod
from .dense import DenseIndex
from .embedder import Embedder, make_embedder
from .errors import UserError
from .ingest import IngestOptions, load_sources
from .lexical import terms
from .passages import make_passages
from .questions import strip_markup
from .search import MODES, hybrid_search
from .settings import Settings, load_settings
from .store import Store
from .types import AddResult, Answer, Document, DocumentInfo, Hit, text_hash

try:
    from . import neardup
except ImportError:  # pragma: no cover - optional module
    neardup = None  # type: ignore[assignment]

EMBED_BATCH = 256
_TERMINAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")  # passages gathered across documents before one encode call
# C0/C1 control characters other than tab and newline: a document's ESC sequences would otherwise reach
# the user's terminal through `citebot ask/search/show` (clear the screen, retitle the window, ...).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _embed_text(title: str, passage: str) -> str:
    """What the dense model sees: the title gives every passage its story's context."""
    return f"{title}\n{passage}" if title else passage


def _clean(value: str) -> str:
    """Lone surrogates (a file name that is not UTF-8, a "\\udce9" escape in JSON) made SQLite and stdout
    raise mid-add; they become visible backslash escapes instead."""
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _valid_date(value: str | None, what: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return _date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise UserError(f"{what}: {value!r} is not a date (use YYYY-MM-DD)") from None


class Corpus:
    """A searchable corpus stored in ``settings.home``. Methods are thread-safe and synchronous."""

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings or load_settings()
        self.store = Store(self.settings.home_path)
        self._embedder = embedder
        self.lock = threading.RLock()
        self._dense: DenseIndex | None = None
        self._signatures: tuple[np.ndarray, np.ndarray | None] = (np.zeros(0, dtype=np.int64), None)

    @classmethod
    def open(cls, settings: Settings | None = None, embedder: Embedder | None = None) -> "Corpus":
        return cls(settings, embedder)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Corpus":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- components, created lazily so `citebot list` never loads a model ------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = make_embedder(self.settings)
        return self._embedder

    @property
    def dense(self) -> DenseIndex:
        if self._dense is None:
            self._dense = DenseIndex(self.settings.home_path, self.embedder.name, self.settings.ann_threshold)
        return self._dense

    @property
    def min_score(self) -> float:
        """The answer threshold: the setting when given, else the one calibrated for the embedder."""
        if self.settings.min_score is not None:
            return float(self.settings.min_score)
        return float(getattr(self.embedder, "min_score", 0.40))

    # -- embeddings -----------------------------------------------------------------------------------
    def _vectors(self, texts: list[str], queries: bool = False, reading: bool = False) -> np.ndarray:
        """Embed texts through the (model, text hash) cache; only unseen texts reach the model.

        ``reading`` marks the question path, where caching new vectors is best-effort (never waits for
        a writer, never fails on a read-only index)."""
        model = self.embedder.name
        hashes = [text_hash(t) for t in texts]
        cached = self.store.cached_embeddings(model, hashes)
        todo = {h: t for h, t in zip(hashes, texts) if h not in cached}
        if todo:
            encode = self.embedder.encode_queries if queries else self.embedder.encode_passages
            vectors = encode(list(todo.values()))
            fresh = dict(zip(todo.keys(), vectors))
            self.store.put_embeddings(model, fresh, wait=not reading)
            cached.update(fresh)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([cached[h] for h in hashes]).astype(np.float32)

    # -- adding ---------------------------------------------------------------------------------------
    def add_document(self, doc: Document, force: bool = False) -> AddResult:
        return next(iter(self.add_documents([doc], force=force)))

    def add_documents(
        self, docs: Iterable[Document], force: bool = False,
        progress: Callable[[AddResult], None] | None = None,
    ) -> Iterator[AddResult]:
        """Add documents in batches; yields one AddResult per input document, in order."""
        pending: list = []  # prepared documents and ready results, in input order
        pending_hashes: set[str] = set()
        pending_signatures: list[tuple[bytes, str]] = []
        pending_passages = 0
        for doc in docs:
            result, prepared = self._prepare(doc, force, pending_hashes, pending_signatures)
            if result is not None:
                pending.append(result)
                continue
            pending.append(prepared)
            pending_hashes.add(prepared[0].content_hash)
            if prepared[3] is not None:
                pending_signatures.append((prepared[3], prepared[0].title or prepared[0].path))
            pending_passages += len(prepared[1])
            if pending_passages >= EMBED_BATCH:
                yield from self._flush(pending, progress)
                pending, pending_hashes, pending_signatures, pending_passages = [], set(), [], 0
        if pending:
            yield from self._flush(pending, progress)
        if self._embedder is not None and self.store.missing_embeddings(self.embedder.name):
            self.reindex()  # the index was built with another model: bring every passage to this one
        self._sync_dense()

    def _near_duplicate(self, signature: bytes, exclude: int | None,
                        pending: list[tuple[bytes, str]]) -> tuple[int | None, str] | None:
        """The stored (or pending) document this signature nearly duplicates, if any."""
        ids, matrix = self._signature_matrix()
        if len(ids):
            sims = (matrix == np.frombuffer(signature, dtype="<u4")[None, :]).mean(axis=1)
            for idx in np.flatnonzero(sims > neardup.THRESHOLD):
                if int(ids[idx]) != exclude:
                    info = self.store.document_info(int(ids[idx]))
                    if info is not None:
                        return info.doc_id, info.title
        for other_sig, other_title in pending:
            if neardup.similarity(signature, other_sig) > neardup.THRESHOLD:
                return None, other_title
        return None

    def _signature_matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """All stored signatures; after the first load only new rows are read (ids only grow)."""
        _, count = self.store.document_span()
        ids, matrix = self._signatures
        rows = self.store.signatures(after_id=int(ids[-1]) if len(ids) else 0)
        if rows:
            new = np.frombuffer(b"".join(r[1] for r in rows), dtype="<u4").reshape(len(rows), -1)
            ids = np.concatenate([ids, np.asarray([r[0] for r in rows], dtype=np.int64)])
            matrix = new if matrix is None else np.vstack([matrix, new])
        if len(ids) != count:  # documents were removed since the cache was filled: reload all
            rows = self.store.signatures()
            ids = np.asarray([r[0] for r in rows], dtype=np.int64)
            matrix = (np.frombuffer(b"".join(r[1] for r in rows), dtype="<u4").reshape(len(rows), -1)
                      if rows else None)
        self._signatures = (ids, matrix)
        return ids, (matrix if matrix is not None else np.zeros((0, 1), dtype="<u4"))

    def _prepare(self, doc: Document, force: bool, pending_hashes: set[str],
                 pending_signatures: list[tuple[bytes, str]]):
        doc = replace(doc, path=_clean(doc.path or ""))
        label = doc.path or doc.title or "document"
        text = doc.text.replace("\r\n", "\n").replace("\r", "\n") if doc.text else ""
        text = _SURROGATE.sub("\ufffd", _CONTROL.sub(" ", text))  # one for one: PDF page offsets stay valid
        if not text.strip():
            return AddResult("error", label, message="empty document: no text to index"), None
        doc = replace(doc, text=text, date=_valid_date(doc.date, f"{label}: date"),
                      **{k: _CONTROL.sub("", _clean(getattr(doc, k) or "")) for k in ("title", "source", "url", "place")})
        content_hash = doc.content_hash
        existing = self.store.find_document(content_hash=content_hash)
        if existing is not None or content_hash in pending_hashes:
            info = self.store.document_info(existing) if existing is not None else None
            return AddResult("duplicate", label, existing, info.title if info else doc.title,
                             info.date if info else doc.date, info.passages if info else 0,
                             f"already in the corpus as document {existing}" if existing else "repeated in this input"), None
        replaces = None
        if doc.path and doc.path != "-":
            replaces = self.store.find_document(path=doc.path)
        signature = None
        if neardup is not None:
            signature = neardup.signature(text)
            if not force:
                similar = self._near_duplicate(signature, exclude=replaces, pending=pending_signatures)
                if similar is not None:
                    other_id, other_title = similar
                    where = f"document {other_id} ({other_title})" if other_id else f"{other_title} earlier in this input"
                    return AddResult("near-duplicate", label, other_id, other_title, None, 0,
                                     f"nearly identical to {where}; use --force to add it anyway"), None
        passages = make_passages(text, doc.lang, self.settings.passage_min_words, self.settings.passage_max_words)
        if not passages:
            return AddResult("error", label, message="no sentences found in the document"), None
        return None, (doc, passages, replaces, signature)

    def _flush(self, pending: list, progress) -> Iterator[AddResult]:
        """Embed, then write every prepared document of ``pending`` in one transaction; yield in order."""
        prepared = [item for item in pending if not isinstance(item, AddResult)]
        texts = [_embed_text(doc.title, p.text) for doc, passages, _, _ in prepared for p in passages]
        written: dict[int, AddResult] = {}
        with self.lock:
            if prepared:
                self._vectors(texts)  # cached in their own transaction before the documents are written
                with self.store.write() as db:
                    for doc, passages, replaces, signature in prepared:
                        # checked again under the write lock: another process may have added the same
                        # text, or replaced the same path, since _prepare (the UNIQUE constraint failed)
                        existing = self.store.find_document(content_hash=doc.content_hash)
                        if existing is not None:
                            info = self.store.document_info(existing)
                            written[id(doc)] = AddResult(
                                "duplicate", doc.path or doc.title, existing, info.title if info else doc.title,
                                info.date if info else doc.date, info.passages if info else 0,
                                f"already in the corpus as document {existing}")
                            continue
                        if doc.path and doc.path != "-":
                            replaces = self.store.find_document(path=doc.path)
                        status = "added"
                        if replaces is not None and self.store.document_info(replaces) is not None:
                            self.store.delete_document(db, replaces)
                            status = "replaced"
                        rows = [
                            (p.ordinal, p.start, p.end, p.text, text_hash(_embed_text(doc.title, p.text)),
                             [list(s) for s in p.sentences], " ".join(terms(p.text)))
                            for p in passages
                        ]
                        doc_id = self.store.insert_document(
                            db, content_hash=doc.content_hash, title=doc.title, date=doc.date, source=doc.source,
                            url=doc.url, lang=doc.lang, path=doc.path, place=doc.place,
                            page_starts=doc.page_starts, signature=signature, text=doc.text, passages=rows,
                        )
                        written[id(doc)] = AddResult(status, doc.path or doc.title, doc_id, doc.title, doc.date,
                                                     len(passages))
        for item in pending:
            result = item if isinstance(item, AddResult) else written[id(item[0])]
            if progress:
                progress(result)
            yield result

    def add_paths(
        self, paths: Iterable[str | Path], overrides: dict[str, str] | None = None,
        progress: Callable[[AddResult], None] | None = None, force: bool = False, follow_links: bool = False,
    ) -> list[AddResult]:
        """Load files, directories, "-" (stdin) or URLs and add what they hold, one bad file never
        stopping the rest. ``overrides`` (title, date, source, url) apply to every loaded document;
        ``follow_links`` follows symbolic links that leave an added directory."""
        overrides = {k: v for k, v in (overrides or {}).items() if v not in (None, "")}
        if "date" in overrides:
            overrides["date"] = _valid_date(overrides["date"], "--date")
        results: list[AddResult] = []

        def documents() -> Iterator[Document]:
            options = IngestOptions.from_settings(self.settings, follow_links=follow_links)
            for label, loaded in load_sources([str(p) for p in paths], options=options):
                if isinstance(loaded, Exception):
                    error = AddResult("error", _clean(label), message=_clean(str(loaded)))
                    results.append(error)
                    if progress:
                        progress(error)
                    continue
                for i, doc in enumerate(loaded):
                    if len(loaded) > 1 and doc.path == label:
                        doc = replace(doc, path=f"{label}#{i + 1}")  # bulk files: one identity per record
                    yield replace(doc, **overrides) if overrides else doc

        for result in self.add_documents(documents(), force=force, progress=progress):
            results.append(result)
        return results

    # -- removing -------------------------------------------------------------------------------------
    def document(self, ref: str | int) -> DocumentInfo:
        """A document by id, or by the path/url it was added from."""
        info = None
        if isinstance(ref, int) or str(ref).strip().isdigit():
            info = self.store.document_info(int(ref))
        if info is None and isinstance(ref, str) and ref.strip():
            doc_id = self.store.find_document(path=ref) or self.store.find_document(path=str(Path(ref).resolve()))
            info = self.store.document_info(doc_id) if doc_id else None
        if info is None:
            raise UserError(f"no document {ref!r} (see `citebot list` for ids)", code="no_document", ref=str(ref))
        return info

    def remove(self, ref: str | int) -> DocumentInfo:
        info = self.document(ref)
        with self.lock:
            with self.store.write() as db:
                self.store.delete_document(db, info.doc_id)
        self._sync_dense()
        return info

    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentInfo]:
        return self.store.documents(offset, limit)

    def document_text(self, ref: str | int) -> str:
        return self.store.document_text(self.document(ref).doc_id)[0]

    # -- searching ------------------------------------------------------------------------------------
    def _check_question(self, question: str) -> str:
        if not isinstance(question, str):
            raise UserError("the question must be text")
        question = _TERMINAL_ESCAPE.sub(" ", question)  # pasted terminal colour codes are not words
        cleaned = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in question).strip()
        cleaned = strip_markup(cleaned)
        if not cleaned:
            raise UserError("the question is empty", code="question_empty")
        if len(cleaned) > self.settings.max_question_chars:
            raise UserError(
                f"the question is {len(cleaned):,} characters long; the limit is {self.settings.max_question_chars:,}",
                code="question_too_long", length=len(cleaned), limit=self.settings.max_question_chars,
            )
        return cleaned

    def _sync_dense(self) -> None:
        if self._embedder is None and self._dense is None:
            return  # nothing dense was used in this process; the next reader syncs
        with self.lock:
            self.dense.sync(self.store)

    def search(
        self, query: str, k: int = 10, offset: int = 0, since: str | None = None, until: str | None = None,
        source: str | None = None, mode: str = "hybrid",
    ) -> list[Hit]:
        query = self._check_question(query)
        if mode not in MODES:
            raise UserError(f"unknown search mode {mode!r}; choose one of: {', '.join(MODES)}")
        if k < 1 or offset < 0:
            raise UserError("k must be at least 1 and offset at least 0")
        since, until = _valid_date(since, "--since"), _valid_date(until, "--until")
        with self.lock:
            vector = None
            if mode != "lexical":
                vector = self._vectors([query], queries=True, reading=True)[0]
                self.dense.sync(self.store)
            scored = hybrid_search(
                self.store, self.dense, self.embedder.name, query, vector, offset + k, mode=mode,
                fusion=self.settings.fusion, lexical_weight=self.settings.lexical_weight,
                since=since, until=until, source=source,
            )[offset:]
            rows = self.store.passages([s.passage_id for s in scored])
        hits = []
        for s in scored:
            row = rows.get(s.passage_id)
            if row is None:  # removed by another process between the two reads
                continue
            page = None
            if row.page_starts:
                page = Document(text="", page_starts=row.page_starts).page_at(row.start)
            hits.append(Hit(s.passage_id, row.doc_id, s.score, s.dense, s.lexical, row.text, row.start, row.end,
                            row.title, row.date, row.source, row.url, page))
        return hits

    def ask(
        self, question: str, k: int | None = None, since: str | None = None, until: str | None = None,
        source: str | None = None,
    ) -> Answer:
        question = self._check_question(question)
        hits = self.search(question, k=k or self.settings.top_k, since=since, until=until, source=source)
        rows = self.store.passages([h.passage_id for h in hits])
        spans = [rows[h.passage_id].sentences if h.passage_id in rows else [] for h in hits]
        query_vector = self._vectors([question], queries=True, reading=True)[0]
        answer = answer_mod.compose(
            question, hits, spans, query_vector, lambda texts: self._vectors(texts, reading=True),
            self.min_score,
        )
        # A passage can straddle a page break: cite the page of the quoted sentence, not of the passage start.
        by_passage = {h.passage_id: h for h in hits}
        for citation in answer.citations:
            row, hit = rows.get(citation.passage_id), by_passage.get(citation.passage_id)
            if row is not None and hit is not None and row.page_starts and citation.quotes:
                citation.page = Document(text="", page_starts=row.page_starts).page_at(hit.start + citation.quotes[0][0])
        if self.settings.llm_url:  # optional LLM answer, verified sentence by sentence (retrieval/generate)
            from .generate import generative_answer

            answer = generative_answer(answer, self.settings, lambda texts: self._vectors(texts, reading=True))
        return answer

    # -- maintenance ----------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        counts = self.store.counts()
        counts.update(
            home=str(self.settings.home_path), store=str(self.store.path), generation=self.store.generation(),
            model=self.embedder.name,
        )
        return counts

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
        """Embed passages that lack a vector for the current model, then rebuild the dense index."""
        missing = self.store.missing_embeddings(self.embedder.name)
        rows = self.store.passages([pid for _, pid in missing])
        texts = [_embed_text(r.title, r.text) for r in rows.values()]
        done = 0
        for i in range(0, len(texts), EMBED_BATCH):
            self._vectors(texts[i:i + EMBED_BATCH])
            done += len(texts[i:i + EMBED_BATCH])
            if progress:
                progress(done, len(texts))
        with self.lock:
            self.dense.discard()
            self.dense.sync(self.store)
        return {"embedded": len(texts), "indexed": int(self.dense.index.ntotal if self.dense.index else 0)}


@dataclass
class VerifyReport:
    """What `citebot verify` found: ``problems`` make it fail, ``repairs`` say what was rebuilt."""

    problems: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    summary: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def _verify(corpus: Corpus, repair: bool = False) -> VerifyReport:
    """Check the store's integrity and that the lexical and dense indexes hold exactly its passages.
    A store too damaged to read is reported as a problem (never a traceback) and is not written to."""
    try:
        return _verify_store(corpus, repair)
    except sqlite3.DatabaseError as exc:
        report = VerifyReport(problems=[
            f"SQLite integrity check failed: {exc}; restore {corpus.store.path} from a backup, "
            f"or move it aside and add your documents again"])
        report.summary = f"the store {corpus.store.path} is damaged"
        return report


def _verify_store(corpus: Corpus, repair: bool) -> VerifyReport:
    report = VerifyReport()
    store = corpus.store
    with corpus.lock, store.lock:
        check = store.db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            report.problems.append(f"SQLite integrity check failed: {check}")
        empty_docs = store.db.execute(
            "SELECT COUNT(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM passages p WHERE p.doc_id = d.id)"
        ).fetchone()[0]
        if empty_docs:
            report.problems.append(f"{empty_docs} documents have no passages")
        orphans = store.db.execute(
            "SELECT COUNT(*) FROM passages p WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = p.doc_id)"
        ).fetchone()[0]
        if orphans:
            report.problems.append(f"{orphans} passages belong to no document")
        passage_ids = set(store.passage_ids().tolist())
        lexical_ids = {r[0] for r in store.db.execute("SELECT rowid FROM lexical")}
        if lexical_ids != passage_ids:
            report.problems.append(
                f"lexical index differs from the store: {len(passage_ids - lexical_ids)} passages missing, "
                f"{len(lexical_ids - passage_ids)} stale entries")
            if repair:
                with store.write() as db:
                    db.execute("DELETE FROM lexical")
                    for pid, title, ptext in db.execute(
                        "SELECT p.id, d.title, p.text FROM passages p JOIN documents d ON d.id = p.doc_id"
                    ).fetchall():
                        db.execute("INSERT INTO lexical(rowid, title, body) VALUES (?, ?, ?)",
                                   (pid, " ".join(terms(title)), " ".join(terms(ptext))))
                report.repairs.append("lexical index rebuilt from the store")
        missing = store.missing_embeddings(corpus.embedder.name)
        if missing:
            report.problems.append(f"{len(missing)} passage texts have no embedding for model {corpus.embedder.name}")
    if repair and missing:
        corpus.reindex()
        report.repairs.append(f"embedded {len(missing)} passage texts and rebuilt the dense index")
    elif repair:
        with corpus.lock:
            corpus.dense.discard()
        report.repairs.append("dense index rebuilt from the store")
    with corpus.lock:
        corpus.dense.sync(store)
        if corpus.dense.rebuilt and not repair:
            report.repairs.append("dense index was missing or unreadable: rebuilt from the store")
        with_vectors, _ = store.passage_vectors(corpus.embedder.name)
        dense_ids = set(corpus.dense.ids().tolist())
        if dense_ids != set(with_vectors.tolist()):
            report.problems.append("dense index differs from the store after syncing")
    report.problems = [p for p in report.problems if not (repair and ("lexical" in p or "embedding" in p))]
    counts = store.counts()
    report.summary = (f"{counts['documents']} documents, {counts['passages']} passages, "
                      f"{len(dense_ids)} dense vectors, generation {store.generation()}")
    return report


Corpus.verify = _verify  # type: ignore[attr-defined]
