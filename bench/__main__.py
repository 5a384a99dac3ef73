"""`make bench` runs `python -m bench`: every benchmark that prints figures, one after another.

Benchmarks are slow (minutes each on two cores) and live outside `make test` on purpose. Run one alone
with `python -m bench.NAME`, or some by name with `python -m bench NAME ...` (`make bench BENCH=NAME`).
Results are also written under bench/results/ (not committed). The ``OPT_IN`` ones take up to an hour
each and run only when named.
"""
from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = (
    ("retrieval_speed", "ingest rate vs raw encode, ask latency and RSS at 10k/100k passages, IVF recall"),
    ("ingest_speed", "`add` with embedding in worker processes vs in the adding process: passages/s, CPU, peak RSS and PSS, load"),
    ("answer_quality", "XQuAD per language pair: gold answer quoted, citation [1], answered, unanswerable refused"),
    ("answer_latency", "the cross-script word bridge's cost per ask, with vs without, interleaved (ru->en, en->en)"),
    ("ann", "flat vs HNSW faiss index on real USE vectors: search CPU per question, recall@10 against exact"),
    ("peer_speed", "search CPU per question, citebot vs txtai interleaved on the same vectors; ask vs the sum of its parts"),
    ("time_quality", "temporal questions (Reuters 1987, Telegram): latest, period, timeline, corroboration, time on vs off"),
    ("peer_txtai", "citebot vs txtai Embeddings(hybrid=True), same model and passages: quality, latency, build"),
    ("embedders", "passages/s and question latency per embedding backend"),
    ("bot_load", "Telegram bot: 50 users x 20 questions through the fake Bot API server; SIGKILL during sends"),
    ("api_load", "citebot serve: POST /v1/ask requests/s and p50/p95 at 1, 4, 16 clients against 1 and 2 workers"),
    ("storage", "SQLite vs PostgreSQL + pgvector at 100k synthetic passages: ingest, recall@10, search/ask, RSS, disk"),
    ("scale", "SQLite engine at 100k and 1M synthetic passages: compressed faiss index recall@10, search/ask, RSS"),
    ("storage_lexical", "PostgreSQL lexical rankings against FTS5 BM25 on XQuAD en/ru and SciFact"),
    ("lexical_copy", "the in-memory lexical copy against FTS5 and PostgreSQL at 100k real passages: p50/p95, same scores"),
    ("after_add", "the first question after an add in a serving process (plain and \"latest\"), against nothing added, at 100k"),
    ("ingest_limits", "peak memory and time on hostile input: huge CSV token, DOCX bomb, trickling server"),
    ("llm_quality", "LLM answers (llama.cpp + Gemma 3 270M): sentences kept by verification, gold, latency"),
    ("llm_hostile", "citebot ask against hostile LLM servers: wall time vs CITEBOT_LLM_TIMEOUT + 2 s, key never elsewhere"),
    ("freshness", "followed feeds: publication to `ask` citing it (p50/p95, 100 feeds, every 1m), sync entries/s"),
    ("channel_freshness", "followed Telegram channel: post to indexed (p50/p95), post to watch push, 40 real posts"),
)

OPT_IN = (
    ("million", "1M passages (real texts, synthetic vectors) on PostgreSQL and SQLite: bulk load, ask p50/p95 vs "
                "the sum of its parts, client and server RSS, disk (about an hour; `make bench BENCH=million`)"),
)


def main(argv: list[str] | None = None) -> int:
    names = argv if argv else [name for name, _ in BENCHMARKS]
    failed = []
    for name in names:
        about = dict(BENCHMARKS + OPT_IN).get(name, "")
        print(f"\n=== bench.{name}: {about}", flush=True)
        started = time.perf_counter()
        rc = importlib.import_module(f"bench.{name}").main([])
        print(f"=== bench.{name} finished in {time.perf_counter() - started:.0f} s (exit {rc})", flush=True)
        if rc:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
