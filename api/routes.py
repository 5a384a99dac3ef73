"""The JSON endpoints under /v1: ask, search, documents (list, read, add, remove), and the probes.

Every corpus call runs in the service's thread pool; answers have the ``ask --json`` shape.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError

from retrieval import AddResult, Answer, Hit

from .auth import Principal
from .deps import admin, reader
from .errors import ApiError, error_response
from .schemas import AskRequest, UrlRequest
from .service import AskFilters, effective_until, safe_filename

MAX_ID = 2**63 - 1
v1 = APIRouter(prefix="/v1")
probes = APIRouter()


def answer_json(answer: Answer, settings: Any, **extra: Any) -> dict[str, Any]:
    """The ``ask --json`` shape (with ``mode``/``sentences`` when an LLM is configured, as the CLI does),
    each citation also with ``quotes``: the spans of its passage the answer quotes."""
    detail = True if settings.llm_url else None
    data = answer.to_json(detail)
    for cited, citation in zip(data["citations"], answer.citations):
        cited["quotes"] = [list(span) for span in citation.quotes]  # the answering sentence(s) in the passage
    return {**data, **extra}


def hit_json(hit: Hit) -> dict[str, Any]:
    data = asdict(hit)
    for key in ("score", "dense", "lexical"):
        if data[key] is not None:
            data[key] = round(float(data[key]), 4)
    return data


def result_json(result: AddResult) -> dict[str, Any]:
    return {"status": result.status, "doc_id": result.doc_id, "title": result.title, "date": result.date,
            "passages": result.passages, "path": result.path, "message": result.message, "reason": result.reason,
            "duplicate_of": result.duplicate_of}


def _doc_id(raw: str) -> int:
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > MAX_ID:
        raise ApiError(404, "no_document", f"no document {raw[:40]!r}: ids are whole numbers (see GET /v1/documents)")
    return int(text)


@v1.post("/ask", summary="Answer a question with quoted sentences and cited passages")
async def ask(body: AskRequest, request: Request, who: Principal = Depends(reader)) -> dict[str, Any]:
    service = request.app.state.service
    filters = AskFilters(body.k, body.since, effective_until(body.until, body.as_of), body.source)
    answer, conversation = await service.run(service.ask, body.question, filters, who.ident, body.conversation_id,
                                             body.history)
    return answer_json(answer, request.app.state.settings, conversation_id=conversation, as_of=body.as_of)


@v1.get("/search", summary="Ranked passages for a query, with scores")
async def search(request: Request, q: str = Query(max_length=100_000, description="the query"),
                 k: int = Query(10, ge=1, le=1000), offset: int = Query(0, ge=0, le=100_000),
                 since: str | None = Query(None, max_length=10), until: str | None = Query(None, max_length=10),
                 source: str | None = Query(None, max_length=200),
                 mode: str = Query("hybrid", pattern="^(hybrid|dense|lexical)$"),
                 who: Principal = Depends(reader)) -> dict[str, Any]:
    service = request.app.state.service
    hits = await service.run(service.corpus.search, q, k=k, offset=offset, since=since, until=until, source=source,
                             mode=mode)
    return {"query": q, "hits": [hit_json(h) for h in hits]}


@v1.get("/documents", summary="The documents in the corpus, by id")
async def documents(request: Request, offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000),
                    who: Principal = Depends(reader)) -> dict[str, Any]:
    service = request.app.state.service
    docs = await service.run(service.corpus.documents, offset, limit + 1)
    return {"documents": [asdict(d) for d in docs[:limit]], "offset": offset,
            "next_offset": offset + limit if len(docs) > limit else None}


@v1.get("/documents/{doc_id}", summary="One document's metadata and text")
async def document(doc_id: str, request: Request, text: bool = True,
                   who: Principal = Depends(reader)) -> dict[str, Any]:
    service = request.app.state.service
    ident = _doc_id(doc_id)
    info = await service.run(service.corpus.document, ident)
    data = asdict(info)
    if text:
        data["text"] = await service.run(service.corpus.document_text, ident)
    return data


@v1.post("/documents", status_code=201, summary="Add a document: a file upload (multipart `file`) or a URL "
         "(JSON `{\"url\": ...}`); admin keys only",
         openapi_extra={"requestBody": {"content": {
             "multipart/form-data": {"schema": {"type": "object", "properties": {
                 "file": {"type": "string", "format": "binary"}, "title": {"type": "string"},
                 "date": {"type": "string"}, "source": {"type": "string"}, "url": {"type": "string"},
                 "force": {"type": "boolean"}}, "required": ["file"]}},
             "application/json": {"schema": UrlRequest.model_json_schema()}}}})
async def add_document(request: Request, who: Principal = Depends(admin)) -> JSONResponse:
    service = request.app.state.service
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(422, "invalid_request", "send the document as the multipart field `file`")
        data = await upload.read()
        fields = {name: str(form.get(name) or "")[:1000] for name in ("title", "date", "source", "url")}
        force = str(form.get("force") or "").lower() in ("1", "true", "yes", "on")
        results = await service.run_ingest(service.add_upload, safe_filename(upload.filename), data,
                                    {k: v for k, v in fields.items() if v}, force)
    elif kind == "application/json":
        try:
            body = UrlRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            invalid = any(e.get("type") == "json_invalid" for e in exc.errors())
            raise ApiError(400 if invalid else 422, "invalid_json" if invalid else "invalid_request",
                           "the request body is not valid JSON" if invalid else
                           "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])) from None
        results = await service.run_ingest(service.add_url, body.url, body.force)
    else:
        raise ApiError(415, "unsupported_media_type", "send multipart/form-data with a `file`, or JSON with a `url`")
    if results and all(r.status == "error" for r in results):
        first = results[0]
        code = (first.reason or "unreadable").replace("-", "_")
        return error_response(422, code, first.message or "the document could not be added")
    added = any(r.status in ("added", "replaced") for r in results)
    return JSONResponse({"results": [result_json(r) for r in results]}, status_code=201 if added else 200)


@v1.delete("/documents/{doc_id}", summary="Remove a document and its passages; admin keys only")
async def remove_document(doc_id: str, request: Request, who: Principal = Depends(admin)) -> dict[str, Any]:
    service = request.app.state.service
    info = await service.run(service.corpus.remove, _doc_id(doc_id))
    return {"removed": asdict(info)}


@probes.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@probes.get("/readyz", summary="Storage reachable; the index generation")
async def readyz(request: Request) -> JSONResponse:
    service = request.app.state.service
    try:
        stats = await service.run_probe(service.corpus.stats)
    except Exception as exc:  # any failure to reach the store means "not ready", said without details
        request.app.state.metrics.error("not_ready")
        return error_response(503, "not_ready", f"the store is not reachable ({type(exc).__name__})")
    return JSONResponse({"status": "ready", "engine": stats.get("engine"), "generation": stats.get("generation"),
                         "documents": stats.get("documents"), "passages": stats.get("passages"),
                         "model": stats.get("model")})


@probes.get("/metrics", summary="Counters in the Prometheus text format", response_class=PlainTextResponse)
async def metrics(request: Request, who: Principal = Depends(reader)) -> PlainTextResponse:
    return PlainTextResponse(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")
