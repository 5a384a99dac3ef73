"""CITEBOT_DATABASE_URL is checked when the settings load (issue 23): a malformed value is one line naming
the variable, never the password, and exit 2, instead of a psycopg traceback and exit 1."""
from __future__ import annotations

import pytest

from retrieval.settings import SettingsError, load_settings
from tests.reliability.conftest import citebot

BAD = {
    "unclosed IPv6 bracket": ("postgresql://u:pw-s3cret@[::1/db", "an unclosed [ in the host"),
    "bad percent escape": ("postgresql://u:pw-s3cret%zz@db.example/news", "a bad percent escape"),
    "unknown query parameter": ("postgresql://u:pw-s3cret@db.example/news?colour=blue",
                                "unknown query parameter 'colour'"),
    "100,000-character host": ("postgresql://u:pw-s3cret@" + "h" * 100_000 + "/news", "the URL is 100,"),
    "300-character host": ("postgresql://u:pw-s3cret@" + "h" * 300 + "/news", "a host name of 300 characters"),
    "connect_timeout=abc": ("postgresql://u:pw-s3cret@db.example/news?connect_timeout=abc",
                            "connect_timeout must be a whole number, not 'abc'"),
    "port abc": ("postgresql://u:pw-s3cret@db.example:abc/news", "port must be a whole number"),
    "port 99999": ("postgresql://u:pw-s3cret@db.example:99999/news", "port must be between 1 and 65535"),
    "space inside": ("postgresql://u:pw-s3cret@db example/news", "spaces or control characters"),
    "not postgres": ("mysql://u:pw-s3cret@db.example/news", "unsupported database 'mysql'"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_a_malformed_database_url_is_refused_when_loaded(name):
    raw, reason = BAD[name]
    with pytest.raises(SettingsError) as caught:
        load_settings(env={"CITEBOT_DATABASE_URL": raw})
    message = str(caught.value)
    assert message.startswith("CITEBOT_DATABASE_URL=(hidden) is not valid: ") and reason in message, message
    assert "s3cret" not in message and "\n" not in message and len(message) < 300


@pytest.mark.parametrize("raw, loaded", [
    ("  postgresql://u@db.example/news  ", "postgresql://u@db.example/news"),  # spaces around: dropped
    ("postgresql:///news?host=/run/postgresql", "postgresql:///news?host=/run/postgresql"),
    ("postgresql://u@[::1]:5433/news?connect_timeout=5&sslmode=require", None),
    ("postgresql://u@h1:5432,h2:5433/news?target_session_attrs=read-write", None),
    ("postgres://u:p%40ss@db.example/news", None),
    ("   ", ""),
])
def test_good_database_urls_load(raw, loaded):
    assert load_settings(env={"CITEBOT_DATABASE_URL": raw}).database_url == (raw if loaded is None else loaded)


def test_the_cli_says_it_in_one_line_with_exit_2(tmp_path):
    result = citebot(tmp_path / "home", "list", CITEBOT_DATABASE_URL="postgresql://u:pw-s3cret@[::1/db", timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "citebot: error: CITEBOT_DATABASE_URL=(hidden) is not valid: an unclosed [ in the host "
        "(an IPv6 address is written [::1])"]
