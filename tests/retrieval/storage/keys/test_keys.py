"""The API keys part on both engines: a key verifies until revoked, only its hash is stored, another
process (a second server, `citebot keys revoke`) sees the same keys."""
from __future__ import annotations

import sqlite3

import pytest

from retrieval import load_settings, open_keys
from retrieval.errors import UserError


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tmp_path):
    values = {"home": str(tmp_path / "index")}
    if request.param == "postgresql":
        values["database_url"] = request.getfixturevalue("pg_url")
    return load_settings(env={}).replace(**values)


def test_a_created_key_verifies_with_its_role_until_revoked(settings):
    keys = open_keys(settings)
    try:
        reader = keys.create("newsroom intranet", "reader")
        admin = keys.create("ingest job", "admin")
        assert reader.token.startswith("cbk_") and reader.token != admin.token
        assert keys.verify(reader.token).role == "reader"
        assert keys.verify(admin.token).role == "admin"
        assert keys.verify(reader.token[:-1] + ("A" if reader.token[-1] != "A" else "B")) is None
        assert keys.verify("not a key") is None and keys.verify("") is None
        assert [k.name for k in keys.list()] == ["newsroom intranet", "ingest job"]
        revoked = keys.revoke(reader.key.key_id)
        assert revoked.revoked is not None
        assert keys.verify(reader.token) is None
        assert keys.verify(admin.token) is not None
        assert keys.count_active() == 1
        assert [k.key_id for k in keys.list(include_revoked=False)] == [admin.key.key_id]
    finally:
        keys.close()


def test_another_process_sees_a_revocation_and_unknown_ids_are_user_errors(settings):
    first, second = open_keys(settings), open_keys(settings)
    try:
        made = first.create("cms", "admin")
        assert second.verify(made.token).key_id == made.key.key_id
        second.revoke(made.token)  # the whole token names its key too
        assert first.verify(made.token) is None
        with pytest.raises(UserError) as caught:
            first.revoke("0123456789")
        assert caught.value.code == "no_key"
        with pytest.raises(UserError):
            first.create("x", "root")
    finally:
        first.close()
        second.close()


def test_only_a_hash_of_the_key_is_stored(tmp_path):
    settings = load_settings(env={}).replace(home=str(tmp_path / "index"))
    keys = open_keys(settings)
    made = keys.create("bench", "reader")
    keys.close()
    raw = (tmp_path / "index" / "citebot.sqlite3").read_bytes()
    wal = tmp_path / "index" / "citebot.sqlite3-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    secret = made.token.split("_", 2)[2]
    assert secret.encode() not in raw
    with sqlite3.connect(tmp_path / "index" / "citebot.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM api_keys").fetchone()[0] == 1
