"""/v1/sources: the followed feeds, sitemaps, channels (and allowed folders), as `citebot sources` and
`citebot sync --source ID` manage them, over HTTP. Reads for reader keys; following, unfollowing and
syncing for admin keys only.

A URL passes the library's URL guard (``check_url``: private, loopback and metadata addresses refused
unless CITEBOT_ALLOW_PRIVATE_URLS) before it is stored, and again at every fetch of every sync. A folder
is a path on the server, so an API key may follow one only under CITEBOT_API_SOURCE_FOLDERS; the check
comes before the path is looked at, so the API never says whether some other path exists.
Store calls run in the service's pool; URL checks (DNS) and syncs in its ingest pool, beside the questions.
A sync that added or replaced documents asks the standing questions again (``check_watches``), as
`citebot sync` does, so the bot pushes what now answers them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request

from retrieval import (IngestOptions, Source, Sources, UserError, check_url, classify_source, fetcher_for, options_for,
                       Watches, check_watches, parse_every, sync_sources)

from .auth import Principal
from .deps import admin, reader
from .errors import ApiError
from .schemas import SourceList, SourceOut, SourceRemoved, SourceRequest, SyncOut

router = APIRouter(prefix="/v1", tags=["sources"])
_CHANNEL = re.compile(r"^(@|-?\d{1,20}$)|t\.me/", re.I)


@dataclass
class SourceDesk:
    """The process's sources store, and one fetcher kept for the process's life (its per-host turns and
    polite delay span the syncs an admin asks for)."""

    settings: Any
    store: Sources
    watches: Watches | None = None
    _fetcher: Any = field(default=None, repr=False)

    def fetcher(self) -> Any:
        if self._fetcher is None:
            self._fetcher = fetcher_for(self.settings)
        return self._fetcher

    def add(self, body: SourceRequest) -> Source:
        """Follow ``body.location`` once it passed the URL guard or the folder rule."""
        text = body.location.strip()
        lowered = text.lower()
        every = parse_every(body.every)  # a typo is told before any address is looked up
        if lowered.startswith(("http://", "https://")):
            kind, _ = classify_source(text)
            if kind in ("feed", "sitemap"):
                try:
                    check_url(text, IngestOptions.from_settings(self.settings))
                except UserError as exc:
                    raise ApiError(422, "url_refused", str(exc)) from None
        elif re.match(r"^[a-z][a-z0-9+.-]*://", lowered):
            raise ApiError(400, "bad_source", f"{text[:200]}: only http(s) feeds and sitemaps can be followed")
        elif not _CHANNEL.search(text):
            self.allowed_folder(text)
        kind, canonical = classify_source(text)
        if kind == "folder":
            self.allowed_folder(canonical)
        return self.store.add(text, every=every, name=body.name, prune=body.prune)

    def allowed_folder(self, text: str) -> None:
        roots = [Path(r).expanduser().resolve() for r in self.settings.api_source_folders if str(r).strip()]
        if not roots:
            raise ApiError(403, "folder_not_allowed", "following a folder on the server is off for API keys: "
                           "give a feed or sitemap URL or a @channel (or set CITEBOT_API_SOURCE_FOLDERS, or run "
                           "`citebot sources add DIR` on the server)")
        path = Path(text).expanduser()
        resolved = path.resolve() if path.is_absolute() else None
        if resolved is None or not any(resolved == root or root in resolved.parents for root in roots):
            raise ApiError(403, "folder_not_allowed", "an API key may follow only folders under "
                           "CITEBOT_API_SOURCE_FOLDERS (give an absolute path)")

    def require(self, raw: str) -> Source:
        try:
            return self.store.require(raw)
        except UserError as exc:
            if exc.code == "no_source":
                raise ApiError(404, "no_source", f"no source {raw[:40]!r} (see GET /v1/sources)") from None
            raise

    def remove(self, raw: str) -> Source:
        return self.store.remove(self.require(raw).id)

    def sync(self, corpus: Any, raw: str) -> dict[str, Any]:
        """Sync one source now (due or not), as `citebot sync --once --source ID` does."""
        source = self.require(raw)
        if source.kind == "telegram":
            raise ApiError(409, "not_synced_here", "a Telegram channel is followed live by the bot: its posts "
                           "arrive as they are published; there is nothing to fetch")
        report = sync_sources(corpus, self.store, only=[source.id], fetcher=self.fetcher(),
                              options=options_for(self.settings, workers=1))
        result = report.results[0] if report.results else None
        if result is None:
            raise ApiError(404, "no_source", f"source {source.id} was removed meanwhile")
        if result.status == "skipped":
            raise ApiError(409, "source_busy", f"source {source.id} is being synced by another process right now; "
                           "its new entries will be there when it finishes", {"Retry-After": "10"})
        now = self.store.get(source.id) or source
        queued = 0
        changed = result.new_doc_ids + result.replaced_doc_ids
        if changed and self.watches is not None:  # as `citebot sync` does: standing questions asked again
            queued = check_watches(corpus, self.watches, changed)
        return {"status": result.status, "new": len(result.new_doc_ids), "replaced": len(result.replaced_doc_ids),
                "removed": len(result.removed_doc_ids), "unchanged": result.unchanged, "entries": result.entries,
                "fallbacks": result.fallbacks, "new_doc_ids": result.new_doc_ids,
                "replaced_doc_ids": result.replaced_doc_ids, "removed_doc_ids": result.removed_doc_ids,
                "errors": result.errors[:50], "error": result.error, "seconds": round(result.seconds, 3),
                "watch_pushes": queued, "source": now.to_json()}


def _desk(request: Request) -> SourceDesk:
    return request.app.state.sources


@router.get("/sources", summary="Followed sources with their sync state", response_model=SourceList)
async def list_sources(request: Request, who: Principal = Depends(reader)) -> dict[str, Any]:
    rows = await request.app.state.service.run(_desk(request).store.list)
    return {"sources": [s.to_json() for s in rows]}


@router.get("/sources/{source_id}", summary="One source and its sync state", response_model=SourceOut)
async def get_source(source_id: str, request: Request, who: Principal = Depends(reader)) -> dict[str, Any]:
    source = await request.app.state.service.run(_desk(request).require, source_id)
    return source.to_json()


@router.post("/sources", status_code=201, response_model=SourceOut,
             summary="Follow a feed or sitemap URL, a @channel or an allowed folder; admin keys only")
async def add_source(body: SourceRequest, request: Request, who: Principal = Depends(admin)) -> dict[str, Any]:
    service = request.app.state.service
    source = await service.run_ingest(_desk(request).add, body)  # the URL guard resolves the host: not on the loop
    return source.to_json()


@router.delete("/sources/{source_id}", response_model=SourceRemoved,
               summary="Stop following a source (its documents stay); admin keys only")
async def remove_source(source_id: str, request: Request, who: Principal = Depends(admin)) -> dict[str, Any]:
    source = await request.app.state.service.run(_desk(request).remove, source_id)
    return {"removed": source.to_json()}


@router.post("/sources/{source_id}/sync", response_model=SyncOut,
             summary="Sync one source now, due or not, and say what it indexed; admin keys only")
async def sync_source(source_id: str, request: Request, who: Principal = Depends(admin)) -> dict[str, Any]:
    service = request.app.state.service
    data = await service.run_ingest(_desk(request).sync, service.corpus, source_id)
    for _ in range(data["new"]):
        service.metrics.ingest("added")
    for _ in range(data["replaced"]):
        service.metrics.ingest("replaced")
    return data
