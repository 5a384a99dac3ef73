"""`citebot ask` with an LLM configured against hostile servers: wall time per case with
CITEBOT_LLM_TIMEOUT=6 (the acceptance bound is the timeout + 2 s over the extractive ask), the fallback
given, and whether the key reached another origin. Uses the fake OpenAI-compatible server of the tests.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, log, publish
from tests.fakes.openai_server import SUPPORTED, FakeOpenAI, Reply, drip, hang, redirect

TIMEOUT = 6.0
QUESTION = "why did talks stop?"
SEED = ROOT / "corpus" / "tass-2024-02-08-russia-japan-peace-treaty.txt"
CASES = {
    "drip, non-streamed (1 byte / 0.2 s)": lambda other: drip(SUPPORTED * 4, every=0.2),
    "drip, streamed (1 byte / 0.2 s)": lambda other: drip(SUPPORTED * 4, every=0.2, stream=True),
    "stream without newlines, 50 ms per word": lambda other: Reply("word " * 10_000, stream=True, newlines=False,
                                                                   chunk_delay=0.05),
    "10 MB streamed answer": lambda other: Reply("Talks stopped in March 2022 [1]. " * 300_000, stream=True),
    "3 MB non-streamed answer": lambda other: Reply("Talks stopped in March 2022 [1]. " * 90_000),
    "hangs 60 s": lambda other: hang(60),
    "302 to another origin": lambda other: redirect(f"{other.url}/chat/completions"),
}


def run(home: Path, env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "retrieval.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "CITEBOT_HOME": str(home), "PYTHONPATH": str(ROOT), **env},
                          cwd=ROOT, timeout=600)
    return time.monotonic() - started, done


def main(argv: list[str] | None = None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "index"
        run(home, {}, "add", str(SEED))
        run(home, {}, "ask", QUESTION, "--json")  # warm the caches
        rows, baselines = [], []
        for name, make in CASES.items():
            baseline, _ = run(home, {}, "ask", QUESTION, "--json")  # paired: the machine is shared
            baselines.append(baseline)
            with FakeOpenAI() as llm, FakeOpenAI() as other:
                llm.script(make(other))
                env = {**llm.env(timeout=TIMEOUT), "CITEBOT_LLM_STREAM": "true" if "stream" in name else "false",
                       "CITEBOT_LLM_API_KEY": "sk-bench-key"}
                seconds, done = run(home, env, "ask", QUESTION, "--json")
                try:
                    fallback = json.loads(done.stdout).get("fallback", "")
                except ValueError:
                    fallback = f"exit {done.returncode}: {done.stderr.strip()[-80:]}"
                rows.append({"case": name, "seconds": round(seconds, 2), "over_extractive": round(seconds - baseline, 2),
                             "fallback": fallback, "key_elsewhere": len(other.requests)})
                log(f"{name}: {seconds:.1f} s ({fallback})")
    table = ["| case | ask, s | over the extractive ask, s | fallback | requests to the other origin |",
             "|---|---|---|---|---|"]
    table += [f"| {r['case']} | {r['seconds']} | {r['over_extractive']} | {r['fallback']} | {r['key_elsewhere']} |"
              for r in rows]
    table.append(f"\nthe extractive ask run just before each case: {min(baselines):.2f}-{max(baselines):.2f} s; "
                 f"CITEBOT_LLM_TIMEOUT={TIMEOUT:g}")
    publish("llm_hostile", {"timeout": TIMEOUT, "extractive_seconds": [round(b, 2) for b in baselines], "cases": rows},
            "\n".join(table))
    return 0 if all(r["over_extractive"] <= TIMEOUT + 2 and r["key_elsewhere"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
