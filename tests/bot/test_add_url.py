"""`/add URL` refuses internal addresses (the bot must not become a way into the server's own network)."""
from __future__ import annotations

import pytest

from tests.bot.conftest import ADMIN
from tests.bot.recording import message


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1:9/admin", "127.0.0.1 is a loopback address"),
    ("http://169.254.169.254/latest/meta-data/iam/", "169.254.169.254 is the cloud metadata address"),
    ("http://10.0.0.7/intranet", "10.0.0.7 is a private address"),
    ("http://localhost:9/", "is a loopback address"),
])
def test_admin_add_of_an_internal_url_is_refused_with_the_reason(harness, corpus, url, reason):
    before = len(corpus.documents())
    [reply] = harness().feed(message(ADMIN, f"/add {url}")).texts()
    assert reason in reply and "CITEBOT_ALLOW_PRIVATE_URLS" in reply, reply
    assert len(corpus.documents()) == before
