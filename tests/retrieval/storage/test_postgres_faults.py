"""The PostgreSQL server stopped in the middle of an `add` (issue 23): one line saying what to do, not a
minute of connection-pool warnings (24-28 lines) before it. Runs its own server, since it stops it."""
from __future__ import annotations

import logging

import pytest

from retrieval.errors import UserError
from tests.fakes import postgres
from tests.reliability.conftest import write_docs

pytestmark = pytest.mark.skipif(not postgres.available(), reason="needs the postgres extra")


def test_server_stopped_mid_add_is_one_line_saying_what_to_do(make_corpus, tmp_path, capfd, caplog):
    server = postgres.start()
    try:
        corpus = make_corpus(home=tmp_path / "home", database_url=server.create_database("faults"))
        docs = write_docs(tmp_path / "docs", 30, seed=23)
        seen = []

        def stop_after_five(result):
            seen.append(result.status)
            if len(seen) == 5:
                server._run("pg_ctl", "-D", str(server.data_dir), "-m", "immediate", "stop")

        caplog.set_level(logging.DEBUG)
        with pytest.raises(UserError) as caught:
            corpus.add_paths(docs, progress=stop_after_five)
    finally:
        server.stop()
    message = str(caught.value)
    assert "\n" not in message and seen[:5] == ["added"] * 5
    assert message.startswith("lost or could not open the connection to PostgreSQL at postgresql://"), message
    assert "check that the server is running" in message and "run the command again" in message
    assert [r for r in caplog.records if r.name.startswith("psycopg") and r.levelno >= logging.WARNING] == []
    assert "error connecting" not in capfd.readouterr().err
