"""The public entry point: a corpus in one store, with add / search / ask / remove.

Adding embeds outside any lock or transaction (slow, cached by text hash), then writes each batch of
documents in one short transaction, so a killed process leaves every document wholly present or wholly
absent, a rerun embeds nothing twice, and questions are answered while an upload is being embedded.
A large add embeds in worker processes (``CITEBOT_INGEST_WORKERS``, ``embed.pool``) while this process
prepares the next batch and writes the previous one: the same transactions, on every core.
The store (``retrieval.storage``) re-syncs the dense index whenever another process changed it.
"""
from __future__ import annotations

import os
import threading
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .. import answer as answer_mod
from ..embed import Embedder, make_embedder
from ..embed.pool import EmbedPool
from ..errors import UserError
from ..ingest import IngestOptions, load_sources
from ..ingest.sources import LeftOut
from ..search import MODES, Retrieval, hybrid_search
from ..settings import Settings, load_settings
from ..storage import NewDocument, NewPassage, SearchFilters, Storage, VerifyReport, open_storage
from ..generate.injection import ingest_note
from ..text.cleaning import clean_document, clean_filter, clean_question, escape_surrogates, valid_date
from ..text.lexical import terms
from ..text.passages import make_passages
from ..time import answer_in_time
from ..types import AddResult, Answer, AskProgress, Document, DocumentInfo, Hit, page_at, text_hash
from . import neardup
from .versions import Versions, is_newer_version, newer_than_pending
from .batching import Batch, Prepared
from .encoder import CachedEncoder, PendingVectors
from .verify import verify as check_and_repair

EMBED_BATCH = 256  # passages gathered across documents before one encode call
IN_FLIGHT = 2  # batches handed to the embedding workers and not yet written: bounds an add's memory


class _Read:
    """What one ``ask`` has read so far (its searches' passage rows and question vectors), so composing
    the answer reads and embeds nothing again; it lives for that call only, in its own thread."""

    def __init__(self) -> None:
        self.rows: dict[int, Any] = {}
        self.vectors: dict[str, Any] = {}


def _embed_text(title: str, passage: str) -> str:
    """What the dense model sees: the title gives every passage its story's context."""
    return f"{title}\n{passage}" if title else passage


class Corpus:
    """A searchable corpus stored in ``settings.home`` (or the database of CITEBOT_DATABASE_URL).

    Methods are thread-safe and synchronous. ``lock`` is held only while a change is written (never
    while embedding), so questions are answered during an upload."""

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None,
                 store: Storage | None = None) -> None:
        self.settings = settings or load_settings()
        self.store: Storage = store if store is not None else open_storage(self.settings)
        self.encoder = CachedEncoder(self.store, lambda: embedder or make_embedder(self.settings))
        self.lock = threading.RLock()
        self._near = neardup.NearDuplicates(self.store)
        self._asking = threading.local()  # per thread, what the current ask has read (rows, question vectors)
        self.versions = Versions(self.store)  # story versions: same source, same url or near-duplicate text

    @classmethod
    def open(cls, settings: Settings | None = None, embedder: Embedder | None = None) -> "Corpus":
        """The same as ``Corpus(settings, embedder)``."""
        return cls(settings, embedder)

    def close(self) -> None:
        """Close the store; the corpus cannot be used afterwards."""
        self.store.close()

    def warm(self) -> None:
        """Make a process that will answer many questions (the bot, the HTTP API) fast from its first
        one: load the model with one search, and start building the in-memory lexical copy in the
        background (FTS5 answers until it is ready; docs/speed.md). A one-shot command never calls it."""
        self.search("warm up", k=1)
        self.store.lexical.warm(background=True)

    def __enter__(self) -> "Corpus":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- components, created lazily so `citebot list` never loads a model ------------------------------
    @property
    def embedder(self) -> Embedder:
        return self.encoder.model

    @property
    def min_score(self) -> float:
        """The answer threshold: the setting when given, else the one calibrated for the embedder."""
        if self.settings.min_score is not None:
            return float(self.settings.min_score)
        return float(self.embedder.min_score)

    def forget_question_vectors(self, questions: Iterable[str]) -> int:
        """Drop these questions' cached vectors (the eval does, so its timings include embedding them)."""
        return self.encoder.forget_questions(questions)

    # -- adding ---------------------------------------------------------------------------------------
    def add_document(self, doc: Document, force: bool = False) -> AddResult:
        """Add one document (see :meth:`add_documents`)."""
        return next(iter(self.add_documents([doc], force=force)))

    def add_documents(
        self, docs: Iterable[Document], force: bool = False,
        progress: Callable[[AddResult], None] | None = None,
    ) -> Iterator[AddResult]:
        """Add documents in batches; yields one AddResult per input document, in order.

        A text already stored is a ``duplicate``; one nearly identical to a stored one (or to one earlier
        in the input) a ``near-duplicate`` unless ``force``; a document from a path already stored
        ``replaced`` the old one. ``progress`` is called with each result as it is decided.

        Raises UserError ``reindex_needed`` before adding anything when stored passages lack a vector
        for the current embedder (the index was built with another one): re-embedding a whole corpus is
        :meth:`reindex`'s job, never a side effect of adding one document."""
        self._check_embedded()
        workers = self._ingest_workers()
        if workers > 1:
            yield from self._add_pooled(docs, force, progress, workers)
        else:
            batch = Batch()
            for doc in docs:
                batch.add(self._prepare(doc, force, batch))
                if batch.passages >= EMBED_BATCH:
                    yield from self._flush(batch, progress)
                    batch = Batch()
            if batch:
                yield from self._flush(batch, progress)
        self._sync_dense()

    def _ingest_workers(self) -> int:
        """Embedding worker processes for a large add: CITEBOT_INGEST_WORKERS (empty: one per core), when
        the embedder can be built in another process (``worker_factory``); 0 embeds in this process."""
        workers = self.settings.ingest_workers
        if workers is None:
            workers = os.cpu_count() or 1
        return workers if workers > 1 and callable(getattr(self.embedder, "worker_factory", None)) else 0

    def _add_pooled(self, docs: Iterable[Document], force: bool, progress, workers: int) -> Iterator[AddResult]:
        """``add_documents`` on every core: each full batch is handed to the embedding workers, and while
        they embed it this process prepares the next batch and writes the one before (its vectors first,
        then its documents, in the same two transactions as one core would). At most ``IN_FLIGHT`` batches
        are with the workers. An add that never fills a batch embeds here and starts no process."""
        in_flight: deque[tuple[Batch, PendingVectors]] = deque()
        embedding: set[str] = set()  # text hashes handed to the workers, not yet stored
        pool: EmbedPool | None = None
        batch = Batch()
        try:
            for doc in docs:
                batch.add(self._prepare(doc, force, batch))
                if batch.passages >= EMBED_BATCH:
                    if pool is None:
                        pool = EmbedPool(self.embedder.worker_factory(), workers,  # type: ignore[attr-defined]
                                         self.embedder.encode_passages)
                    in_flight.append((batch, self.encoder.submit(self._embed_texts(batch), pool, embedding)))
                    batch = Batch()
                    if len(in_flight) >= IN_FLIGHT:
                        yield from self._commit(*in_flight.popleft(), progress)
            if batch and pool is None:
                yield from self._flush(batch, progress)
            elif batch:
                in_flight.append((batch, self.encoder.submit(self._embed_texts(batch), pool, embedding)))
            while in_flight:
                yield from self._commit(*in_flight.popleft(), progress)
        except BaseException:  # interrupted (Ctrl-C, an error, the caller stopped iterating): stop the workers now
            if pool is not None:
                pool.close(cancel=True)
            raise
        if pool is not None:
            pool.close()

    def _commit(self, batch: Batch, pending: PendingVectors, progress) -> Iterator[AddResult]:
        """Store a pooled batch's vectors once the workers are done, then write its documents."""
        pending.store(self.store)
        yield from self._write(batch, progress, recheck=True)

    def _check_embedded(self) -> None:
        missing = self.store.embeddings.missing(self.embedder.name)
        if missing:
            total = self.store.counts().passages
            raise UserError(
                f"{len(missing)} of {total} stored passages have no vector for the embedder {self.embedder.name} "
                "(the index was built with another one); reindex before adding",
                code="reindex_needed", model=self.embedder.name, missing=len(missing), passages=total)

    def _duplicate(self, label: str, existing: int | None, doc: Document) -> AddResult:
        info = self.store.documents.info(existing) if existing is not None else None
        return AddResult("duplicate", label, existing, info.title if info else doc.title,
                         info.date if info else doc.date, info.passages if info else 0,
                         f"already in the corpus as document {existing}" if existing else "repeated in this input",
                         reason="duplicate", duplicate_of=existing)

    def _prepare(self, doc: Document, force: bool, batch: Batch) -> Prepared | AddResult:
        doc = clean_document(doc)
        label = doc.path or doc.title or "document"
        if not doc.text.strip():
            return AddResult("error", label, message="empty document: no text to index", reason="empty")
        existing = self.store.documents.find(content_hash=doc.content_hash)
        if existing is not None or doc.content_hash in batch.hashes:
            return self._duplicate(label, existing, doc)
        replaces = None
        if doc.path and doc.path != "-":
            replaces = self.store.documents.find(path=doc.path)
        signature = neardup.signature(doc.text)
        seen = None
        if not force:
            refusal = self._near_refusal(doc, label, signature, replaces, batch)
            if refusal is not None:
                return refusal
            seen = self._near.last_id
        passages = make_passages(doc.text, doc.lang, self.settings.passage_min_words, self.settings.passage_max_words)
        if not passages:
            return AddResult("error", label, message="no sentences found in the document", reason="no-sentences")
        return Prepared(doc, passages, replaces, signature, seen)

    def _near_refusal(self, doc: Document, label: str, signature: bytes, replaces: int | None,
                      batch: Batch | None, after_id: int = 0) -> AddResult | None:
        """The ``near-duplicate`` result when ``doc`` nearly duplicates a stored document (newer than
        ``after_id``) or one earlier in ``batch``, unless it is a newer version of it."""
        similar = self._near.find(signature, exclude=replaces, pending=batch.signatures if batch else (),
                                  after_id=after_id)
        if similar is not None and (is_newer_version(self.store.documents.info(similar.doc_id), doc)
                                    if similar.doc_id is not None
                                    else batch is not None and newer_than_pending(doc, signature, batch.prepared)):
            similar = None  # a newer version of a stored story: linked (corpus/versions.py), not refused
        if similar is None:
            return None
        where = (f"document {similar.doc_id} ({similar.title})" if similar.doc_id
                 else f"{similar.title} earlier in this input")
        return AddResult("near-duplicate", label, similar.doc_id, similar.title, None, 0,
                         f"nearly identical to {where}",
                         reason="near-duplicate", duplicate_of=similar.doc_id)

    def _record(self, item: Prepared) -> NewDocument:
        doc = item.doc
        return NewDocument(
            doc, content_hash=doc.content_hash, signature=item.signature, title_terms=terms(doc.title),
            passages=[NewPassage(p.ordinal, p.start, p.end, p.text, text_hash(_embed_text(doc.title, p.text)),
                                 [tuple(s) for s in p.sentences], terms(p.text)) for p in item.passages],
        )

    @staticmethod
    def _embed_texts(batch: Batch) -> list[str]:
        """What a batch embeds: its passages (with their titles) and their answer sentences, so `ask` finds
        the sentences' vectors cached instead of embedding them per question."""
        prepared = batch.prepared
        texts = [_embed_text(item.doc.title, p.text) for item in prepared for p in item.passages]
        return texts + [t for item in prepared for p in item.passages
                        for t in answer_mod.sentence_texts(p.text, p.start, p.sentences)]

    def _flush(self, batch: Batch, progress) -> Iterator[AddResult]:
        """Embed (no lock held), then write ``batch`` (:meth:`_write`)."""
        if batch.prepared:
            self.encoder.passages(self._embed_texts(batch))  # cached in their own transaction before the documents
        yield from self._write(batch, progress)

    def _write(self, batch: Batch, progress, recheck: bool = False) -> Iterator[AddResult]:
        """Write every prepared document of ``batch`` in one transaction (the lock held only for that);
        yield the results in input order. ``recheck``: a batch prepared while earlier ones were still
        being embedded is checked again against the documents stored since (they were not there yet), so
        a near-duplicate is refused as if the batches had been written one after the other."""
        written: dict[int, AddResult] = {}
        prepared = batch.prepared
        if recheck:
            for item in prepared:
                doc, label = item.doc, item.doc.path or item.doc.title or "document"
                existing = self.store.documents.find(content_hash=doc.content_hash)
                if existing is not None:  # as in _prepare: the same text first, then a nearly identical one
                    written[id(item)] = self._duplicate(label, existing, doc)
                elif item.seen is not None and item.signature is not None:
                    refusal = self._near_refusal(doc, label, item.signature, item.replaces, None, after_id=item.seen)
                    if refusal is not None:
                        written[id(item)] = refusal
            prepared = [item for item in prepared if id(item) not in written]
        if prepared:
            records = [self._record(item) for item in prepared]
            with self.lock, self.store.transaction() as tx:
                for item, record in zip(prepared, records):
                    doc = item.doc
                    # checked again inside the transaction: another process may have added the same
                    # text, or replaced the same path, since _prepare (the UNIQUE constraint failed)
                    existing = tx.find_document(content_hash=doc.content_hash)
                    if existing is not None:
                        written[id(item)] = self._duplicate(doc.path or doc.title, existing, doc)
                        continue
                    replaces = tx.find_document(path=doc.path) if doc.path and doc.path != "-" else item.replaces
                    status = "added"
                    if replaces is not None and tx.document_info(replaces) is not None:
                        tx.delete_document(replaces)
                        status = "replaced"
                    doc_id = tx.insert_document(record)
                    written[id(item)] = AddResult(status, doc.path or doc.title, doc_id, doc.title, doc.date,
                                                  len(item.passages), ingest_note(doc.text))
        for item in batch.items:
            result = written[id(item)] if isinstance(item, Prepared) else item
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
            overrides["date"] = valid_date(overrides["date"], "--date", strict=True)
        results: list[AddResult] = []

        def documents() -> Iterator[Document]:
            options = IngestOptions.from_settings(self.settings, follow_links=follow_links)
            for label, loaded in load_sources([str(p) for p in paths], options=options):
                if isinstance(loaded, LeftOut):  # a record left out by a documented rule: not an error
                    skipped = AddResult("skipped", escape_surrogates(label), message=escape_surrogates(str(loaded)),
                                        reason="left-out")
                    results.append(skipped)
                    if progress:
                        progress(skipped)
                    continue
                if isinstance(loaded, Exception):
                    error = AddResult("error", escape_surrogates(label), message=escape_surrogates(str(loaded)),
                                      reason=str(getattr(loaded, "reason", "") or "unreadable"))
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
        """A document by id, or by the path/url it was added from; UserError when there is none."""
        info = None
        if isinstance(ref, int) or (str(ref).strip().isascii() and str(ref).strip().isdigit()):
            info = self.store.documents.info(int(ref))
        if info is None and isinstance(ref, str) and ref.strip():
            doc_id = self.store.documents.find(path=ref) or self.store.documents.find(path=str(Path(ref).resolve()))
            info = self.store.documents.info(doc_id) if doc_id else None
        if info is None:
            raise UserError(f"no document {ref!r}", code="no_document", ref=str(ref))
        return info

    def remove(self, ref: str | int) -> DocumentInfo:
        """Remove a document (by id, path or url) with its passages; returns what was removed. Its
        cached embeddings stay, so adding it again embeds nothing."""
        info = self.document(ref)
        with self.lock, self.store.transaction() as tx:
            tx.delete_document(info.doc_id)
        self._sync_dense()
        return info

    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentInfo]:
        """Stored documents by id (``limit`` None: all)."""
        return self.store.documents.list(offset, limit)

    def document_text(self, ref: str | int) -> str:
        """The full stored text of a document."""
        return self.store.documents.text(self.document(ref).doc_id).text

    # -- searching ------------------------------------------------------------------------------------
    def _check_question(self, question: str) -> str:
        return clean_question(question, self.settings.max_question_chars)

    def _sync_dense(self) -> None:
        if not self.encoder.loaded:
            return  # nothing dense was used in this process; the next reader syncs
        self.store.vectors.sync(self.embedder.name)

    def retrieve(
        self, question: str, k: int = 10, offset: int = 0, since: str | None = None, until: str | None = None,
        source: str | None = None, mode: str = "hybrid",
    ) -> Retrieval:
        """The way down for a question: cleaned once, embedded once (through the cache), ranked, and its
        passages read once. The result holds everything the answer needs (hits, their sentence spans and
        page starts, the question vector), so :meth:`ask` reads and embeds nothing again."""
        query = self._check_question(question)
        if mode not in MODES:
            raise UserError(f"unknown search mode {mode!r}; choose one of: {', '.join(MODES)}",
                            code="bad_mode", mode=mode)
        if k < 1 or offset < 0:
            raise UserError("k must be at least 1 and offset at least 0", code="bad_limit")
        filters = SearchFilters(valid_date(since, "--since", strict=True), valid_date(until, "--until", strict=True),
                                clean_filter(source))
        read = getattr(self._asking, "read", None)  # inside an ask: what its searches already read
        vector = None
        if mode != "lexical":
            vector = read.vectors.get(query) if read is not None else None
            if vector is None:
                vector = self.encoder.question(query)
            if read is not None:
                read.vectors[query] = vector
        scored = hybrid_search(
            self.store, self.embedder.name, query, vector, offset + k, mode=mode,
            fusion=self.settings.fusion, lexical_weight=self.settings.lexical_weight, filters=filters,
        )[offset:]
        rows = self.store.documents.passages([s.passage_id for s in scored])
        if read is not None:
            read.rows.update(rows)
        found = Retrieval(query, vector)
        for s in scored:
            row = rows.get(s.passage_id)
            if row is None:  # removed by another process between the two reads
                continue
            found.add(Hit(s.passage_id, row.doc_id, s.score, s.dense, s.lexical, row.text, row.start, row.end,
                          row.title, row.date, row.source, row.url, page_at(row.page_starts, row.start)),
                      row.sentences, row.page_starts)
        return found

    def search(
        self, query: str, k: int = 10, offset: int = 0, since: str | None = None, until: str | None = None,
        source: str | None = None, mode: str = "hybrid",
    ) -> list[Hit]:
        """The ``k`` best passages for ``query`` after skipping ``offset``, optionally only from documents
        dated ``since``..``until`` (inclusive ISO dates) or from ``source``. ``mode`` is one of MODES."""
        return self.retrieve(query, k, offset, since, until, source, mode).hits

    def ask(
        self, question: str, k: int | None = None, since: str | None = None, until: str | None = None,
        source: str | None = None, as_of: str | None = None,
        progress: Callable[[AskProgress], None] | None = None,
    ) -> Answer:
        """An answer quoting the best passages verbatim, with citations; ``answered`` is False (and the
        nearest passages are weak matches) when nothing scores above :attr:`min_score`. What the question
        says about time (recency, a period, a timeline) is applied by ``retrieval.time``; ``as_of`` (ISO
        date) is "today" for it, else the newest document date. ``progress`` hears when the search is
        done and, with an LLM, which generated sentences passed verification.

        One pass down and one back: each :meth:`retrieve` of this ask reads its passages and embeds the
        question once, and :meth:`answer_hits` composes from what they read (the rows and the vector
        kept for this ask), with the cached encoder for the candidate sentences."""
        question = self._check_question(question)
        as_of = valid_date(as_of, "--as-of")
        self._asking.read = _Read()
        try:
            return answer_in_time(self, question, k or self.settings.top_k, since, until, source, as_of, progress)
        finally:
            self._asking.read = None

    def passage_rows(self, ids: list[int]) -> dict[int, Any]:
        """Stored passages by id; inside an ``ask``, those its searches already read come from memory."""
        read = getattr(self._asking, "read", None)
        rows = {i: read.rows[i] for i in ids if i in read.rows} if read is not None else {}
        missing = [i for i in ids if i not in rows]
        if missing:
            rows.update(self.store.documents.passages(missing))
        return rows

    def ask_among(self, question: str, doc_ids: Iterable[int], k: int | None = None) -> Answer:
        """``ask`` over these documents' passages only: a standing question checked against what a sync
        just added (``retrieval.watch``). The same answer and the same gate as :meth:`ask`; the passages
        are ranked as hybrid search would weigh them, by cosine similarity and the share of the
        question's words they hold."""
        question = self._check_question(question)
        # the passage ids of each document, read through the store's export (one document per call)
        ids = [p.passage_id for d in sorted(set(int(i) for i in doc_ids))
               for stored in self.store.documents.export(after_id=d - 1, limit=1) if stored.record.doc_id == d
               for p in stored.record.passages if p.passage_id is not None]
        hits: list[Hit] = []
        if ids:
            query_vector = self.encoder.question(question)
            batch = self.store.vectors.passage_vectors(self.embedder.name, ids)
            rows = self.store.documents.passages([int(i) for i in batch.ids])
            q_terms = set(terms(question))
            weight = self.settings.lexical_weight
            for pid, vector in zip(batch.ids.tolist(), batch.vectors):
                row = rows.get(int(pid))
                if row is None:
                    continue
                dense = float(vector @ query_vector)
                shared = len(q_terms & set(terms(f"{row.title}\n{row.text}"))) / len(q_terms) if q_terms else 0.0
                hits.append(Hit(row.passage_id, row.doc_id, (1 - weight) * dense + weight * shared, dense, None,
                                row.text, row.start, row.end, row.title, row.date, row.source, row.url))
            hits = sorted(hits, key=lambda h: h.score, reverse=True)[: k or self.settings.top_k]
        return self.answer_hits(question, hits)

    @staticmethod
    def answer_depth(k: int) -> int:
        """Ranked passages an answer citing ``k`` of them is given: a few below the cut may be promoted
        into the cited ones (``answer.Rules.promote_translated``)."""
        return max(k, answer_mod.PROMOTE_DEPTH)

    def answer_hits(self, question: str, hits: list[Hit], hit_bonus: list[float] | None = None,
                    generate: bool = True, progress: Callable[[AskProgress], None] | None = None,
                    cite: int | None = None) -> Answer:
        """The answer composed from already ranked ``hits`` (``ask`` without the search); ``generate``
        False keeps it extractive even with an LLM configured (a probe, not the answer shown). Rows and
        the question vector this ask's searches already read are not read or embedded again. With
        ``cite``, that many passages are cited, chosen among ``hits`` by the answer (``compose``)."""
        read = getattr(self._asking, "read", None)
        rows = self.passage_rows([h.passage_id for h in hits])
        vector = read.vectors.get(question) if read is not None else None
        found = Retrieval(question, vector if vector is not None else self.encoder.question(question))
        for hit in hits:
            row = rows.get(hit.passage_id)
            found.add(hit, row.sentences if row else [], row.page_starts if row else [])
        answer = answer_mod.compose(found, self.encoder, self.min_score, answer_mod.rules_for(self.embedder),
                                    hit_bonus=hit_bonus, cite=cite)
        if self.settings.llm_url and generate:  # optional LLM answer, verified sentence by sentence (retrieval/generate)
            from ..generate import generative_answer

            answer = generative_answer(answer, self.settings, self.encoder.sentences)
            if progress is not None and answer.mode == "generative":
                progress(AskProgress("verified", sentences=[s.text for s in answer.sentences]))
        return answer

    # -- maintenance ----------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts of documents, passages and cached embeddings, where the store is, its generation."""
        counts = self.store.counts().as_dict()
        counts.update(
            home=str(self.settings.home_path), engine=self.store.engine, store=self.store.location,
            generation=self.store.generation(),
            model=self.embedder.name,
        )
        return counts

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
        """Embed passages that lack a vector for the current model (after a model switch), then the answer
        sentences that lack one (so `ask` embeds only the question), then rebuild the dense index."""
        texts = self._embed_missing(progress)
        sentences = self._embed_missing_sentences()
        with self.lock:
            indexed = self.store.vectors.rebuild(self.embedder.name)
        return {"embedded": texts, "sentences": sentences, "indexed": indexed}

    def _embed_missing_sentences(self, chunk: int = 1000) -> int:
        """Answer sentences of every passage without a vector for the current model, embedded now; the
        passages are read ``chunk`` at a time, so memory stays flat on a large corpus."""
        model = self.embedder.name
        ids = self.store.documents.passage_ids().tolist()
        embedded = 0
        for start in range(0, len(ids), chunk):
            rows = self.store.documents.passages(ids[start:start + chunk]).values()
            texts = list(dict.fromkeys(t for r in rows
                                       for t in answer_mod.sentence_texts(r.text, r.start, r.sentences)))
            cached = self.store.embeddings.cached(model, [text_hash(t) for t in texts])
            todo = [t for t in texts if text_hash(t) not in cached]
            for i in range(0, len(todo), EMBED_BATCH):
                self.encoder.passages(todo[i:i + EMBED_BATCH])
            embedded += len(todo)
        return embedded

    def _embed_missing(self, progress: Callable[[int, int], None] | None = None) -> int:
        missing = self.store.embeddings.missing(self.embedder.name)
        rows = self.store.documents.passages([m.passage_id for m in missing])
        texts = [_embed_text(r.title, r.text) for r in rows.values()]
        done = 0
        for i in range(0, len(texts), EMBED_BATCH):
            self.encoder.passages(texts[i:i + EMBED_BATCH])
            done += len(texts[i:i + EMBED_BATCH])
            if progress:
                progress(done, len(texts))
        return len(texts)

    def verify(self, repair: bool = False) -> VerifyReport:
        """Check that the store and its lexical and dense indexes agree (by content); with ``repair``
        rebuild what is derived and re-embed damaged or missing vectors. Never changes documents."""
        # the model's name only: no model is loaded unless the repair must embed
        return check_and_repair(self.store, self.embedder.name, self.lock, self._embed_missing, repair)

