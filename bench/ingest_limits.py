"""Peak memory and time of ingest on hostile input: one huge CSV token, a DOCX bomb, a trickling server.

Each case runs in a fresh subprocess and prints its peak RSS (ru_maxrss) and wall time, so the effect
of the character cap on passages, the DOCX size check before inflating and the fetch deadline can be
seen in figures. Usage: .venv/bin/python -m bench.ingest_limits
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
started = time.perf_counter()
kind, arg = sys.argv[1], sys.argv[2]
outcome = ""
try:
    if kind == "add":
        from retrieval import Corpus, load_settings
        with Corpus.open(load_settings(env={}).replace(home=sys.argv[3])) as corpus:
            outcome = ", ".join(f"{r.status} {r.passages} passages" for r in corpus.add_paths([arg]))
    elif kind == "load":
        from retrieval.ingest import load_file
        outcome = f"{len(load_file(Path(arg), 50 << 20))} documents"
    else:
        from retrieval.ingest import IngestOptions, fetch_documents
        fetch_documents(arg, IngestOptions(allow_private_urls=True, fetch_deadline=float(sys.argv[3])))
except Exception as exc:
    outcome = f"refused: {exc}"
print(json.dumps({"outcome": outcome[:120], "seconds": round(time.perf_counter() - started, 1),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def run(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, timeout=900)
    return json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {"error": out.stderr[-300:]}


def trickle_server() -> tuple[socket.socket, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            try:
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"x" * 1000:
                    conn.sendall(bytes([byte]))
                    time.sleep(1.0)
            except OSError:
                pass
            finally:
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}/slow.txt"


def main(argv: list[str] | None = None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for size in (100_000, 1_000_000):
            csv = root / f"token-{size}.csv"
            csv.write_text(f'title,text\nToken dump,"The dump follows. {"x" * size} End."\n')
            print(f"CSV field of one {size:,}-character token, added:", run("add", str(csv), str(root / f"idx{size}")))
        bomb = root / "bomb.docx"
        chunk = b" " * (1 << 20)
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.writestr("[Content_Types].xml", "<Types/>")
            with z.open("word/document.xml", "w", force_zip64=True) as fh:
                for _ in range(1024):
                    fh.write(chunk)
        print(f"DOCX of {bomb.stat().st_size / 1e6:.1f} MB inflating to 1 GiB:", run("load", str(bomb)))
        sock, url = trickle_server()
        print("server sending one byte per second, deadline 10 s:", run("fetch", url, "10"))
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
