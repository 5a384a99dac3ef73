"""`python -m bench.lexical_copy`: the in-memory lexical copy against its engine, same questions, same store.

Each engine's store holds the real Reuters + Telegram passages (bench.ann.real_passages, cut by citebot's
splitter; above ~86,000, SciFact abstracts), written through the storage interface; vectors are not
needed (8 random numbers per passage). 400 XQuAD questions (half English, half Russian) are asked of the
engine and of the copy in alternating order. Reported: CPU per question for SQLite (everything runs in
this process), wall time for both (PostgreSQL's work happens in its server), p50 / p95; the copy's build
CPU and RAM (its arrays); and how many questions got other scores than the engine's (SQLite: bit for bit;
PostgreSQL: to 1e-12 relative, its SQL sums a passage's terms in its own order).
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from bench.common import RESULTS, exit_on_sigterm, log, publish


def build(home: Path | None, n: int, store: Any = None) -> float:
    """The passages of ``n`` through the storage interface (bench.peer_speed's writer), into SQLite in
    ``home`` or into ``store``; seconds."""
    from bench.ann import real_passages
    from bench.peer_speed import build_citebot

    docs = real_passages(n)
    count = sum(len(ps) for _, ps in docs)
    vectors = np.random.default_rng(0).standard_normal((count, 8)).astype(np.float32)
    return build_citebot(home, docs, vectors, "bench-random-8", store=store)


def copy_bytes(memory: Any) -> int:
    arrays = [memory.rows.ids, memory.rows.lengths, memory.rows.alive]
    for s in memory.segments:
        arrays += [s.terms, s.ptr, s.rows, s.title, s.body]
    return int(sum(a.nbytes for a in arrays))


def measure(store: Any, questions: list[list[str]], exact: bool) -> dict[str, Any]:
    """Engine and copy, alternating, on one open store whose copy is built."""
    from bench.peer_speed import summary, timed as clock
    lexical = store.lexical
    started = time.process_time()
    assert lexical.warm(), "the copy did not build"
    build_cpu = time.process_time() - started
    times: dict[str, dict[str, list[float]]] = {k: {"cpu": [], "wall": []} for k in ("engine", "copy")}
    differ = 0

    def timed(kind: str, fn: Callable[[], Any]) -> Any:
        cpu, wall, out = clock(fn)  # ms
        times[kind]["cpu"].append(cpu)
        times[kind]["wall"].append(wall)
        return out

    def engine(q: list[str]) -> Any:
        memory, lexical.memory = lexical.memory, None
        try:
            return lexical.search(q, 100)
        finally:
            lexical.memory = memory

    for i, q in enumerate(questions):
        if i % 2:
            theirs = timed("engine", lambda: engine(q))
            ours = timed("copy", lambda: lexical.search(q, 100))
        else:
            ours = timed("copy", lambda: lexical.search(q, 100))
            theirs = timed("engine", lambda: engine(q))
        a, b = [h.score for h in ours], [h.score for h in theirs]
        if len(a) != len(b) or any(abs(x - y) > (0 if exact else 1e-12 * max(1.0, abs(y))) for x, y in zip(a, b)):
            differ += 1
    out: dict[str, Any] = {"passages": int(lexical.memory.alive_count), "copy_build_cpu_s": round(build_cpu, 2),
                           "copy_mb": round(copy_bytes(lexical.memory) / 2 ** 20, 1), "questions": len(questions),
                           "questions_with_other_scores": differ}
    for kind, t in times.items():
        for which, values in t.items():
            out[f"{kind}_{which}_ms"] = summary(values)
    return out


def table(res: dict[str, Any]) -> str:
    lines = [f"Machine: {res['machine']}; load average {res['load_avg_start']:.1f} at start, "
             f"{res['load_avg_end']:.1f} at the end.", "",
             "| engine | passages | engine CPU ms p50/p95 | copy CPU ms p50/p95 | engine wall ms p50/p95 | "
             "copy wall ms p50/p95 | copy build CPU s | copy MB | questions with other scores |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in res["runs"]:
        f = lambda k: f"{r[k]['p50']}/{r[k]['p95']}"  # noqa: E731
        lines.append(f"| {r['engine']} | {r['passages']:,} | {f('engine_cpu_ms')} | {f('copy_cpu_ms')} | "
                     f"{f('engine_wall_ms')} | {f('copy_wall_ms')} | {r['copy_build_cpu_s']} | {r['copy_mb']} | "
                     f"{r['questions_with_other_scores']} of {r['questions']} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from bench.retrieval_speed import machine, questions
    from retrieval.storage import open_postgres, open_sqlite
    from retrieval.text.lexical import query_terms

    parser = argparse.ArgumentParser(prog="python -m bench.lexical_copy", description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    args = parser.parse_args(argv)
    exit_on_sigterm()
    qs = [query_terms(q) for q in questions(args.queries)]
    res: dict[str, Any] = {"machine": machine(), "load_avg_start": os.getloadavg()[0], "runs": []}
    for engine in args.engines:
        log(f"{engine}: {args.passages} passages ...")
        if engine == "sqlite":
            home = RESULTS / f"lexical-copy-{args.passages}"
            if not (home / "citebot.sqlite3").is_file():  # kept: the store is the slow part
                build(home, args.passages)
            store = open_sqlite(home)
            try:
                res["runs"].append({"engine": "sqlite", **measure(store, qs, exact=True)})
            finally:
                store.close()
        else:
            from tests.fakes import postgres as embedded

            server = embedded.start()
            try:
                url = server.create_database("lexical_copy")
                store = open_postgres(url)
                try:
                    built = build(None, args.passages, store)
                    res["runs"].append({"engine": "postgresql", "load_s": round(built, 1),
                                        **measure(store, qs, exact=False)})
                finally:
                    store.close()
            finally:
                server.stop()
        log(f"  {res['runs'][-1]}")
    res["load_avg_end"] = os.getloadavg()[0]
    publish("lexical_copy", res, table(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
