"""Markdown tables for docs/quality.md from the `citebot eval --json` outputs in bench/results/.

The numbers in the README are copied from here, never typed by hand:

    python -m bench.report
"""
from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = (("sentence-transformers", "all-MiniLM-L6-v2"), ("use-multilingual", "USE multilingual v3"),
          ("e5-small", "multilingual-e5-small (4-bit)"))


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def scifact(prefix: str, label: str) -> list[str]:
    rows = []
    for mode in ("lexical", "dense", "hybrid"):
        r = load(f"{prefix}-{mode}")
        if r:
            rows.append(f"| {label} | {mode} | {r['ndcg@10']:.4f} | {r['recall@100']:.4f} | {r['recall@10']:.4f} | "
                        f"{r['mrr@10']:.4f} | {r['latency_ms_p50']:.0f} / {r['latency_ms_p95']:.0f} |")
    return rows


def main() -> int:
    print("| model | mode | nDCG@10 | Recall@100 | Recall@10 | MRR@10 | query ms p50 / p95 |")
    print("|---|---|---|---|---|---|---|")
    for prefix, label in (("scifact-minilm-p60", "all-MiniLM-L6-v2"), ("scifact-use-p60", "USE multilingual v3")):
        for row in scifact(prefix, label):
            print(row)
    print()
    for title, prefix, backends in (
        ("about 5,000 distractor passages", "", MODELS),
        ("about 1,100 distractor passages (the e5 budget)", "small-", MODELS),
    ):
        print(f"XQuAD, {title}")
        print()
        print("| model | mode | en→en R@5 | ru→ru R@5 | ru→en R@5 | distractor passages en / ru | query ms p50 / p95 (en→en) |")
        print("|---|---|---|---|---|---|---|")
        rows = ((("", "lexical only (BM25)"),) if not prefix else ()) + tuple(backends)
        for backend, label in rows:
            for mode in (("lexical",) if not backend else ("dense", "hybrid")):
                suffix = f"{backend}-{mode}" if backend else "lexical"
                # e5 was measured at the small budget first (its own files), at 5k later ("full-")
                pre = ("full-" if not prefix else "") if backend == "e5-small" else prefix
                en, ru, x = (load(f"{pre}xquad-{p}-{suffix}") for p in ("en-en", "ru-ru", "ru-en"))
                if not (en or ru or x):
                    continue

                def r5(r):
                    return f"{r['recall@5']:.4f}" if r else "n/a"

                def passages(r):
                    return f"{r['distractor_passages']:,}" if r and "distractor_passages" in r else "?"

                lat = f"{en['latency_ms_p50']:.0f} / {en['latency_ms_p95']:.0f}" if en else "n/a"
                print(f"| {label} | {mode} | {r5(en)} | {r5(ru)} | {r5(x)} | {passages(en)} / {passages(ru)} | {lat} |")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
