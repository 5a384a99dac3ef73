"""The real API on 127.0.0.1: uvicorn in a thread of the test process, over a corpus holding the bundled
article, with the hash embedder (model-free) unless a test asks for the real one."""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

import httpx
import pytest

from api.app import all_settings, create_app
from api.server import config
from retrieval import Corpus
from tests.conftest import SEED_ARTICLE
from tests.fakes.hash_embedder import HashEmbedder

import uvicorn


@dataclass
class Running:
    """A started server: its base URL, the app (its state holds the service) and the settings."""

    url: str
    app: Any
    settings: Any
    server: uvicorn.Server
    thread: threading.Thread

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def start(settings: Any, corpus: Corpus | None = None, embedder: Any = None) -> Running:
    app = create_app(settings, corpus=corpus, embedder=embedder if corpus is None else None, warm_up=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(config(settings, "127.0.0.1", port, 1, app=app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    app.state.auth.cache_seconds = 0.0  # a revoked key stops working at once in tests
    return Running(f"http://127.0.0.1:{port}", app, settings, server, thread)


def api_settings(tmp_path, **env: str) -> Any:
    return all_settings({"CITEBOT_HOME": str(tmp_path / "index"), **env})


@pytest.fixture
def serve_api(tmp_path) -> Iterator[Any]:
    """Factory: ``serve_api(corpus=None, **env)`` starts the API with these CITEBOT_* variables over a corpus
    holding the bundled article (hash embedder); stopped after the test."""
    started: list[Running] = []
    opened: list[Corpus] = []

    def factory(corpus: Corpus | None = None, **env: str) -> Running:
        settings = api_settings(tmp_path, **env)
        if corpus is None:
            corpus = Corpus.open(settings, embedder=HashEmbedder())
            corpus.add_paths([SEED_ARTICLE])
            opened.append(corpus)
        running = start(settings, corpus)
        started.append(running)
        return running

    yield factory
    for running in started:
        running.stop()
    for corpus in opened:
        corpus.close()


@dataclass
class Served:
    """`citebot serve` as a child process (the real console script and uvicorn, the real embedder)."""

    url: str
    process: Any
    home: Any
    log_path: Any


def serve_cli(home, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Served:
    """Start ``python -m retrieval.cli --home HOME serve --port P ARGS`` and wait until /readyz answers."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    port = free_port()
    child_env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE",
                 **(env or {})}
    child_env.pop("CITEBOT_DATABASE_URL", None)
    log_path = home.parent / f"serve-{port}.log"  # a file: an undrained pipe would block the server
    with open(log_path, "w") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "retrieval.cli", "--home", str(home), "serve", "--port",
                                    str(port), *args], env=child_env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"citebot serve exited {process.returncode}: {log_path.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("citebot serve did not become ready")
        try:
            if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                return Served(url, process, home, log_path)
        except httpx.HTTPError:
            time.sleep(0.2)


def stop_cli(served: Served) -> str:
    """Stop the child with SIGTERM (as a supervisor would) and return what it printed."""
    import subprocess

    served.process.terminate()
    try:
        served.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()
    return served.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served_corpus(tmp_path_factory, real_embedder) -> Iterator[Served]:
    """The bundled corpus/ indexed with the real default embedder, served by `citebot serve`."""
    from retrieval import load_settings

    home = tmp_path_factory.mktemp("served") / "index"
    with Corpus.open(load_settings(env={}).replace(home=str(home)), embedder=real_embedder) as corpus:
        assert [r.status for r in corpus.add_paths([SEED_ARTICLE])] == ["added"]
    served = serve_cli(home)
    yield served
    stop_cli(served)
