"""Telegram posts as plain text (entities, UTF-16 offsets), the Desktop export `result.json`, the short-post rule."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from retrieval import Corpus, load_settings
from retrieval.cli import main
from retrieval.ingest.telegram import (HEADLINE_WORDS, MIN_WORDS, Post, PlainText, bare_channel_id, export_text,
                                       own_words, plain_text, plan_post, post_link)
from tests.fakes.hash_embedder import HashEmbedder
from tests.fakes.telegram_posts import as_bot_api, raw_posts, utf16

LONG = ("Власти Белгородской области эвакуировали более пятисот жителей приграничных сёл после ночного обстрела, "
        "сообщил губернатор. Людей разместили в пунктах временного размещения в Белгороде и Старом Осколе.")


def entity(kind: str, text: str, part: str, nth: int = 0, **extra) -> dict:
    """The entity Telegram would attach to the ``nth`` occurrence of ``part`` in ``text`` (UTF-16 offsets)."""
    start = [m.start() for m in re.finditer(re.escape(part), text)][nth]
    return {"type": kind, "offset": utf16(text[:start]), "length": utf16(part), **extra}


# -- entities --------------------------------------------------------------------------------------------

def test_formatting_keeps_its_words_and_links_leave_the_text():
    text = "🔥🔥 Срочно: взрыв в центре города. Подробности на сайте https://ria.ru/20240501/vzryv.html и в @rian_ru #новости"
    entities = [entity("bold", text, "Срочно:"), entity("italic", text, "взрыв в центре"),
                entity("url", text, "https://ria.ru/20240501/vzryv.html"), entity("mention", text, "@rian_ru"),
                entity("hashtag", text, "#новости")]
    plain = plain_text(text, entities)
    assert plain.text == "🔥🔥 Срочно: взрыв в центре города. Подробности на сайте и в @rian_ru #новости"
    assert plain.links == ("https://ria.ru/20240501/vzryv.html",)


def test_offsets_are_utf16_units_so_emoji_before_a_link_do_not_shift_the_cut():
    # four astral-plane emoji = 8 UTF-16 units but 4 Python characters: a Python-index cut would eat words
    text = "🇷🇺🚀🚀 Запуск перенесли на завтра, пишет агентство: [ссылка] и ещё текст"
    link = "ссылка"
    entities = [entity("text_link", text, link, url="https://tass.ru/kosmos/1"), entity("bold", text, "Запуск")]
    plain = plain_text(text, entities)
    assert plain.text == text  # a text link keeps its words
    assert plain.links == ("https://tass.ru/kosmos/1",)
    bare = "🚀🚀🚀 Читайте https://t.me/rian_ru/1 дальше"
    assert plain_text(bare, [entity("url", bare, "https://t.me/rian_ru/1")]).text == "🚀🚀🚀 Читайте дальше"


def test_an_invisible_link_carrying_a_preview_image_is_dropped():
    text = "\u200bПомогите распространить!"
    plain = plain_text(text, [{"type": "text_link", "offset": 0, "length": 1, "url": "http://api.channely.co/file/1"}])
    assert plain.text == "Помогите распространить!" and plain.links == ("http://api.channely.co/file/1",)


def test_export_text_parts_read_by_the_same_rules():
    parts = ["🔥 ", {"type": "bold", "text": "Срочно:"}, " ставка ", {"type": "text_link", "text": "сохранена",
             "href": "https://cbr.ru/1"}, ". ", {"type": "link", "text": "cbr.ru/press"}, " ",
             {"type": "text_link", "text": "\u200b", "href": "http://img/1"}, {"type": "hashtag", "text": "#цб"},
             {"type": "custom_emoji", "text": "👍", "document_id": "5"}, 42, None]
    assert export_text(parts) == PlainText("🔥 Срочно: ставка сохранена. #цб👍",
                                           ("https://cbr.ru/1", "https://cbr.ru/press", "http://img/1"))
    assert export_text("  просто строка  ") == PlainText("просто строка")
    assert export_text({"unexpected": "shape"}) == PlainText("")


def test_broken_entities_are_ignored_not_fatal():
    text = "Короткий текст поста"
    junk = [{"type": "bold", "offset": 500, "length": 3}, {"type": "url", "offset": -1, "length": 2},
            {"type": "bold"}, "not an entity", {"type": "url", "offset": 9, "length": 500}]
    assert plain_text(text, junk).text == "Короткий"
    assert plain_text(None, None) == PlainText("")


def test_real_channel_posts_come_out_without_markdown_or_link_syntax():
    """Thousands of real posts from 24 channels, rebuilt as the Bot API sends them (text + entities)."""
    posts = raw_posts(limit=3000, min_chars=1)
    assert len(posts) == 3000
    with_links = 0
    for post in posts:
        text, entities = as_bot_api(post.markdown)
        plain = plain_text(text, entities)
        assert "**" not in plain.text and "](" not in plain.text and not re.search(r"(?<!\w)__\w", plain.text), post
        assert not re.search(r"https?://", plain.text) or "http" in re.sub(r"\[[^\]]*\]\([^)]*\)", "", post.markdown), post
        with_links += bool(plain.links)
        # every word of the post that is not an address is still there, in order
        source = re.sub(r"\]\([^)]*\)|\[|\*\*|__|~~", "", post.markdown)  # link targets and markers, not words
        words = re.findall(r"[А-Яа-яЁё]{4,}", re.sub(r"https?://\S+", " ", source))
        assert re.findall(r"[А-Яа-яЁё]{4,}", re.sub(r"https?://\S+", " ", plain.text)) == words, post
    assert with_links > 500  # the check above really saw links being taken out


# -- the short-post rule --------------------------------------------------------------------------------

def post(text: str, links: tuple[str, ...] = ()) -> Post:
    return Post(7, "Новости", PlainText(text, links), "2024-05-01", "news", -1001234567890)


def test_the_short_post_rule():
    assert plan_post(post(LONG)).action == "index"
    assert plan_post(post("🔥")).action == "skip"
    assert plan_post(post("Как вам идея? #кек")).action == "skip"  # 3 words of its own
    assert plan_post(post("")).action == "skip"
    headline = plan_post(post("Кофеин предотвратил алкоголизм", ("https://naked-science.ru/article/kofein",)))
    assert headline.action == "fetch" and headline.url == "https://naked-science.ru/article/kofein"
    assert headline.document is None  # 3 words: nothing to fall back on
    fallback = plan_post(post("В Китае нашли ударный кратер необычной формы", ("https://naked-science.ru/a",)))
    assert fallback.action == "fetch" and fallback.document is not None
    only_telegram = plan_post(post("Подписывайтесь на наш второй канал", ("https://t.me/other",)))
    assert only_telegram.action == "index"  # a Telegram link is no article
    assert plan_post(post(LONG, ("https://ria.ru/x",))).action == "index"  # long enough: the post itself
    assert own_words("🤔 Как вам идея? #кек @chan https://x.y") == 3
    assert MIN_WORDS < HEADLINE_WORDS


def test_post_identity_and_links():
    assert bare_channel_id(-1001101170442) == 1101170442 and bare_channel_id("1101170442") == 1101170442
    assert post_link(5, "rian_ru", -1001101170442) == "https://t.me/rian_ru/5"
    assert post_link(5, "", -1001101170442) == "https://t.me/c/1101170442/5"
    p = post(LONG)
    doc = plan_post(p).document
    assert doc.source == "Новости" and doc.url == "https://t.me/news/7" and doc.date == "2024-05-01"
    assert doc.path == "telegram:1234567890/7"  # the same post from the bot or an export is one document


# -- the Telegram Desktop export -------------------------------------------------------------------------

ARTICLE = ("<html><head><title>Кофеин предотвратил алкоголизм у мышей</title>"
           "<meta property=\"og:site_name\" content=\"Naked Science\"></head><body><article><h1>Кофеин "
           "предотвратил алкоголизм</h1><p>Исследователи из Университета Осаки выяснили, что кофеин снижает тягу "
           "мышей к алкоголю. В опыте участвовали сорок животных, половина которых получала кофеин ежедневно "
           "в течение шести недель.</p><p>Тяга к алкоголю у этой половины снизилась почти вдвое по сравнению с "
           "контрольной группой, сообщают авторы работы.</p></article></body></html>").encode()


class ArticleHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path != "/article/kofein":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(ARTICLE)))
        self.end_headers()
        self.wfile.write(ARTICLE)

    def log_message(self, *args):
        pass


@pytest.fixture
def article_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ArticleHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def export(server: str, username: str | None = None) -> dict:
    first = raw_posts(limit=1, channel_file="1001101170442_messages.json", min_chars=400)[0]
    text, entities = as_bot_api(first.markdown)
    data = {
        "name": "РИА Новости", "type": "public_channel", "id": 1101170442,
        "messages": [
            {"id": 1, "type": "service", "date": "2024-04-30T10:00:00", "date_unixtime": "1714471200",
             "actor": "РИА Новости", "action": "create_channel", "title": "РИА Новости", "text": ""},
            {"id": 2, "type": "message", "date": "2024-05-01T09:30:00", "date_unixtime": "1714555800",
             "from": "РИА Новости", "text": LONG},
            {"id": 3, "type": "message", "date": "2024-05-02T09:30:00", "date_unixtime": "1714642200",
             "from": "РИА Новости", "text": [
                 {"type": "bold", "text": "Срочно."}, " Центробанк сохранил ключевую ставку на уровне шестнадцати "
                 "процентов годовых, ", {"type": "text_link", "text": "говорится", "href": "https://cbr.ru/press/1"},
                 " в сообщении регулятора. ", {"type": "link", "text": "https://cbr.ru/press/1"},
                 " Аналитики ожидали такого решения."]},
            {"id": 4, "type": "message", "date": "2024-05-02T10:00:00", "date_unixtime": "1714644000",
             "from": "РИА Новости", "text": "🔥", "photo": "photos/photo_1.jpg"},
            {"id": 5, "type": "message", "date": "2024-05-03T08:00:00", "date_unixtime": "1714723200",
             "from": "РИА Новости", "text": ["Кофеин предотвратил алкоголизм\n\n",
                                             {"type": "link", "text": f"{server}/article/kofein"}]},
            {"id": 6, "type": "message", "date": "2024-05-03T09:00:00", "date_unixtime": "1714726800",
             "from": "РИА Новости", "text": text, "text_entities": entities},
        ],
    }
    if username:
        data["username"] = username
    return data


@pytest.fixture
def hashed_cli(monkeypatch, tmp_path):
    """``citebot`` run in-process over CITEBOT_HOME=tmp with the hash embedder (no model to load)."""
    monkeypatch.setenv("CITEBOT_HOME", str(tmp_path / "index"))
    monkeypatch.setenv("CITEBOT_ALLOW_PRIVATE_URLS", "true")  # the article server is on 127.0.0.1
    monkeypatch.setattr("retrieval.corpus.core.make_embedder", lambda settings: HashEmbedder())
    return tmp_path / "index"


def documents(home):
    with Corpus(load_settings(env={"CITEBOT_HOME": str(home)}), embedder=HashEmbedder()) as corpus:
        return {d.path: d for d in corpus.documents()}


def test_add_result_json_reads_the_exported_posts(tmp_path, article_server, hashed_cli, capsys):
    path = tmp_path / "result.json"
    path.write_text(json.dumps(export(article_server), ensure_ascii=False), encoding="utf-8")
    assert main(["add", str(path)]) == 0
    out, err = capsys.readouterr()
    docs = documents(hashed_cli)
    long = docs["telegram:1101170442/2"]
    assert long.source == "РИА Новости" and long.date == "2024-05-01"
    assert long.url == "https://t.me/c/1101170442/2"  # no username in the export: the members' link
    rate = docs["telegram:1101170442/3"]
    assert rate.date == "2024-05-02"
    with Corpus(load_settings(env={"CITEBOT_HOME": str(hashed_cli)}), embedder=HashEmbedder()) as corpus:
        text = corpus.document_text(rate.doc_id)
    assert text.startswith("Срочно. Центробанк сохранил") and "https://" not in text and "**" not in text
    assert "говорится в сообщении регулятора. Аналитики" in text
    assert "telegram:1101170442/4" not in docs  # "🔥" with a photo: skipped by the rule
    assert "telegram:1101170442/5" not in docs  # a headline with its link: the article instead
    article = docs[f"{article_server}/article/kofein"]
    assert article.source == "Naked Science"  # the page names itself
    assert article.date == "2024-05-03"  # the page has no date: the post's
    assert "4 added, 1 skipped;" in err
    assert "https://t.me/c/1101170442/4  (short post: 0 words of its own" in out  # named, with the reason
    assert len(docs) == 4


def test_the_username_gives_public_links_and_reimport_doubles_nothing(tmp_path, article_server, hashed_cli, capsys):
    path = tmp_path / "result.json"
    path.write_text(json.dumps(export(article_server, username="rian_ru"), ensure_ascii=False), encoding="utf-8")
    assert main(["add", str(path)]) == 0
    first = documents(hashed_cli)
    assert first["telegram:1101170442/6"].url == "https://t.me/rian_ru/6"
    capsys.readouterr()
    assert main(["add", str(path)]) == 0
    err = capsys.readouterr().err
    assert "added" not in err.split(";")[0]  # everything already there
    assert documents(hashed_cli).keys() == first.keys()


def test_a_json_file_that_is_no_export_is_one_clear_error(tmp_path, hashed_cli, capsys):
    other = tmp_path / "package.json"
    other.write_text('{"name": "x", "version": "1.0"}')
    broken = tmp_path / "result.json"
    broken.write_text('{"messages": [')
    assert main(["add", str(other), str(broken)]) == 1
    err = capsys.readouterr().err
    assert "package.json: not a Telegram Desktop export" in err
    assert "result.json: not valid JSON" in err


def test_a_whole_account_export_reads_every_chat(tmp_path):
    from retrieval.ingest.origin import Origin
    from retrieval.ingest.telegram import load_export

    data = {"about": "Here is the data you requested.", "chats": {"about": "…", "list": [
        {"name": "Новости", "type": "public_channel", "id": 1234567890, "messages": [
            {"id": 10, "type": "message", "date_unixtime": "1714555800", "text": LONG}]},
        {"name": "Заметки", "type": "private_group", "id": 555, "messages": [
            {"id": 3, "type": "message", "date": "2024-05-02T10:00:00", "text": ["Короткий текст"]},
            {"id": "x", "type": "message", "text": "сломанное сообщение без номера"}]}]}}
    loaded = load_export(json.dumps(data).encode(), Origin(path=str(tmp_path / "result.json"), label="result.json"))
    assert [(d.source, d.path, d.date) for d in loaded.documents] == [
        ("Новости", "telegram:1234567890/10", "2024-05-01")]
    assert [(s.label, s.reason.split(":")[0]) for s in loaded.skipped] == [("https://t.me/c/555/3", "short post")]
    assert [str(e.error) for e in loaded.errors] == ["result.json: message 2 has no id"]
