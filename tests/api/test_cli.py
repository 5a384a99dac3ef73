"""`citebot keys` and `citebot serve`'s refusals through the real console script (no model is loaded)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from retrieval import load_settings, open_keys
from tests.conftest import ROOT


def citebot(home, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    child_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    child_env.pop("CITEBOT_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "retrieval.cli", "--home", str(home), *args], env=child_env,
                          capture_output=True, text=True, timeout=120)


def test_keys_add_list_revoke(tmp_path):
    home = tmp_path / "index"
    made = citebot(home, "keys", "add", "--admin", "ingest job")
    assert made.returncode == 0, made.stderr
    token = made.stdout.splitlines()[0]
    assert token.startswith("cbk_") and "shown once" in made.stdout
    listed = citebot(home, "keys", "list", "--json")
    keys = json.loads(listed.stdout)
    assert [(k["name"], k["role"], k["revoked"]) for k in keys] == [("ingest job", "admin", None)]
    assert token not in listed.stdout and token.split("_", 2)[2] not in citebot(home, "keys", "list").stdout
    store = open_keys(load_settings(env={}).replace(home=str(home)))
    try:
        assert store.verify(token).role == "admin"
        revoked = citebot(home, "keys", "revoke", keys[0]["key_id"])
        assert revoked.returncode == 0 and "revoked admin key" in revoked.stdout
        assert store.verify(token) is None
    finally:
        store.close()
    unknown = citebot(home, "keys", "revoke", "0000000000")
    assert unknown.returncode == 2 and unknown.stderr.strip().startswith("citebot: error: no API key")
    assert len(unknown.stderr.strip().splitlines()) == 1


def test_serve_refuses_to_listen_beyond_loopback_without_a_key(tmp_path):
    refused = citebot(tmp_path / "index", "serve", "--host", "0.0.0.0", "--port", "1")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "citebot: error: no API key is configured, so the API may listen on loopback only (not 0.0.0.0); create one "
        "with `citebot keys add NAME` or set CITEBOT_API_KEYS"]
    bad_port = citebot(tmp_path / "index", "serve", "--port", "99999")
    assert bad_port.returncode == 2 and "not a port number" in bad_port.stderr
