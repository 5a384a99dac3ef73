"""The web page without JavaScript: the form POST answers, sources grouped by article with the answering
sentence marked, follow-ups ride along as hidden fields, the "nothing answers this" state, and every
corpus string escaped."""
from __future__ import annotations

import re

from retrieval import Document

READER = "reader-key-for-tests-0001"


def test_the_page_has_a_question_box_and_its_script(serve_api):
    api = serve_api()
    with api.client() as http:
        page = http.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<form id="ask" method="post" action="/">' in page.text and 'name="question"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "fetch(\"/v1/ask\"" in http.get("/static/page.js").text
        assert http.get("/static/page.css").status_code == 200


def test_the_form_post_answers_with_sources_grouped_and_the_sentence_marked(serve_api):
    api = serve_api()
    with api.client() as http:
        page = http.post("/", data={"question": "why did talks stop?"}).text
    assert '<h2 class="question">why did talks stop?</h2>' in page
    assert page.count('<article class="source">') == 1  # three passages of one article: one group
    assert page.count("<blockquote>") >= 2 and "<mark>" in page
    assert "2024-02-07 · TASS" in page
    assert '<input type="hidden" name="history" value="why did talks stop?">' in page


def test_a_follow_up_without_javascript_carries_the_earlier_question(serve_api):
    api = serve_api()
    with api.client() as http:
        page = http.post("/", data={"question": "when was that?", "history": ["why did talks stop?"]}).text
    assert '<h2 class="question">when was that?</h2>' in page
    assert re.findall(r'name="history" value="([^"]*)"', page) == ["why did talks stop?", "when was that?"]


def test_nothing_answers_this_is_said_plainly(serve_api):
    api = serve_api()
    with api.client() as http:
        page = http.get("/", params={"q": "what is the boiling point of tungsten in kelvin?"}).text
    assert 'class="answer nothing"' in page


def test_every_corpus_string_is_escaped(serve_api):
    api = serve_api()
    corpus = api.app.state.service.corpus
    corpus.add_document(Document(
        text='The <b>harbour</b> of Kholmsk & "Nevelsk" closed <script>alert(1)</script> after the storm of May 2.',
        title="<img src=x onerror=alert(1)> Storm", source="<i>Sakhalin</i>", url="javascript:alert(1)",
        date="2024-05-02", path="evil.txt"))
    with api.client() as http:
        page = http.post("/", data={"question": "why did the harbour of Kholmsk close?"}).text
    assert "<img src=x" not in page and "<script>alert" not in page and "<i>Sakhalin" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; Storm" in page and "&lt;i&gt;Sakhalin&lt;/i&gt;" in page
    assert 'href="javascript:' not in page


def test_with_keys_the_page_asks_for_one(serve_api):
    api = serve_api(CITEBOT_API_KEYS=READER)
    with api.client() as http:
        assert 'name="key"' in http.get("/").text
        refused = http.post("/", data={"question": "why did talks stop?"})
        assert refused.status_code == 401 and "send an API key" in refused.text
        answered = http.post("/", data={"question": "why did talks stop?", "key": READER})
        assert answered.status_code == 200 and "<mark>" in answered.text
