"""`citebot serve` under load: requests per second and p50/p95 latency of POST /v1/ask at 1, 4 and 16
concurrent clients, against 1 and 2 server processes (`--workers`), on the bundled corpus.

Each configuration runs the real console script as a child process (real default embedder, SQLite in a
temp CITEBOT_HOME, the rate limit off) and closed-loop clients (each sends its next question when the
previous answer arrives) for a fixed time after a warm-up, twice: with 48 phrasings that repeat (their
vectors are cached after the warm-up, so this is the HTTP + search + answer path) and with questions
never asked before (each one embedded by the model, as a newsroom's questions mostly are).

    python -m bench.api_load [--seconds 10] [--clients 1,4,16] [--workers 1,2] [--passages 100000]

``--passages N`` adds N synthetic passages (texts and vectors from bench/scale.py) beside the article, so
search runs over a larger index; the bundled question is still answered from the real article.
"""
from __future__ import annotations

import argparse
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from retrieval.eval import percentile

from .common import ROOT, exit_on_sigterm, log, publish

SUBJECTS = ("talks", "the peace treaty talks", "negotiations with Tokyo", "the dialogue with Japan",
            "Russia's talks with Japan", "the treaty negotiations")
FORMS = ("why did {} stop?", "when did {} stop?", "who stopped {}?", "what ended {}?", "what did Rudenko say about {}?",
         "are {} possible now?", "what would resume {}?", "how are relations after {}?")
QUESTIONS = [form.format(subject) for form in FORMS for subject in SUBJECTS]
RUN = f"{time.time():.0f}"
FRESH = itertools.count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(*args: str, env: dict[str, str]) -> list[str]:
    return [sys.executable, "-m", "retrieval.cli", *args]


def start_server(home: Path, workers: int, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log_path = home.parent / f"serve-{workers}.log"  # a file, not a pipe: an undrained pipe would block the server
    with open(log_path, "w") as log_file:
        child = subprocess.Popen(cli("--home", str(home), "serve", "--port", str(port), "--workers", str(workers),
                                     env=env), env=env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    ready = 0
    while ready < 3 * workers:  # several answers in a row: every worker has finished starting
        if child.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"citebot serve did not start: {log_path.read_text()[-2000:]}")
        try:
            ready += httpx.get(url + "/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            time.sleep(0.3)
    return child, url


def load(url: str, clients: int, seconds: float, new: bool = False) -> dict[str, Any]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(index: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            n = index
            while time.monotonic() < stop_at:
                question = QUESTIONS[n % len(QUESTIONS)]
                if new:  # a text never asked before (in any configuration): the model embeds it
                    question = f"{question} ({RUN}-{next(FRESH)})"
                n += clients
                started = time.perf_counter()
                response = http.post("/v1/ask", json={"question": question})
                took = time.perf_counter() - started
                with lock:
                    if response.status_code == 200:
                        latencies.append(took)
                    else:
                        errors[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {"clients": clients, "requests": len(latencies), "errors": errors[0],
            "load_average_1m": round(os.getloadavg()[0], 1),
            "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
            "p95_ms": round(percentile(latencies, 95) * 1000, 1) if latencies else None}


def main(argv: list[str] | None = None) -> int:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench.api_load")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per configuration")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--passages", type=int, default=0,
                        help="add this many synthetic passages (bench/scale.py's generator) beside the bundled article")
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CITEBOT_API_RATE_LIMIT": "0",
           "HF_HUB_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("CITEBOT_DATABASE_URL", None)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="citebot-api-bench-") as tmp:
        home = Path(tmp) / "index"
        if args.passages:
            from retrieval import load_settings
            from retrieval.embed import make_embedder

            from .scale import build

            settings = load_settings(env={})
            embedder = make_embedder(settings)  # its name and size only: the synthetic vectors stand in for it
            log(f"building {args.passages:,} synthetic passages")
            build(home, args.passages, embedder.dim, embedder.name, log, settings.ann_threshold)
        log("indexing the bundled corpus")
        subprocess.run(cli("--home", str(home), "add", "-q", str(ROOT / "corpus"), env=env), env=env, check=True)
        for workers in [int(w) for w in args.workers.split(",")]:
            child, url = start_server(home, workers, env)
            try:
                load(url, 2, 2.0)  # warm-up: models loaded, question vectors cached in every worker
                for questions in ("repeated", "new"):
                    for clients in [int(c) for c in args.clients.split(",")]:
                        row = {"workers": workers, "questions": questions,
                               **load(url, clients, args.seconds, new=questions == "new")}
                        log(f"workers {workers}, {questions} questions, clients {clients}: {row['rps']} req/s, "
                            f"p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, {row['errors']} errors")
                        rows.append(row)
            finally:
                child.terminate()
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
    table = ["| workers | questions | clients | requests/s | p50 ms | p95 ms | requests | errors | load avg |",
             "|---|---|---|---|---|---|---|---|---|"]
    table += [f"| {r['workers']} | {r['questions']} | {r['clients']} | {r['rps']} | {r['p50_ms']} | {r['p95_ms']} | "
              f"{r['requests']} | {r['errors']} | {r['load_average_1m']} |" for r in rows]
    corpus = "corpus/ (bundled)" + (f" + {args.passages:,} synthetic passages" if args.passages else "")
    publish("api_load" + (f"_{args.passages // 1000}k" if args.passages else ""), {"corpus": corpus, "seconds": args.seconds, "cpus": os.cpu_count(), "rows": rows},
            "\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
