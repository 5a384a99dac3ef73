"""Telegram posts reach the index as plain text: no link syntax, no emphasis markers, no link-only lines."""
from __future__ import annotations

import json

from retrieval.eval.datasets import load_telegram
from retrieval.text.cleaning import plain_post
from retrieval.text.lexical import terms


def test_markdown_links_and_markers_become_plain_words():
    post = "😒 Депутат [назвал](https://t.me/x/1) **странным** решение\n\nhttps://example.org/a/b"
    assert plain_post(post) == "😒 Депутат назвал странным решение"
    assert "https" not in terms(plain_post(post))


def test_plain_text_and_inline_urls_in_sentences_stay():
    text = "Полный текст: см. https://example.org/report в конце."
    assert plain_post(text) == text


def test_the_telegram_loader_indexes_posts_as_plain_text(tmp_path):
    path = tmp_path / "posts.json"
    path.write_text(json.dumps([{"text": "Власти [сообщили](https://t.me/a/2) о __решении__", "date": "2024-01-02",
                                 "channel": "news"}, {"text": "https://t.me/a/3", "date": "2024-01-02"}],
                               ensure_ascii=False), encoding="utf-8")
    docs = load_telegram(path)
    assert [d.text for d in docs] == ["Власти сообщили о решении"]  # the link-only post holds no text
