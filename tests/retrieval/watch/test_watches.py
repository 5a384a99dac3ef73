"""Standing questions: the store on both engines, the bounds, one push per newly answering passage, sync -> push."""
from __future__ import annotations

import threading

import pytest

from retrieval import Corpus, Document, UserError, check_watches, load_settings, open_watches
from retrieval.cli import main
from retrieval.watch import CheckReport, answer_from_json, answer_to_json
from tests.fakes.hash_embedder import HashEmbedder

RATE = Document(
    "Банк России сохранил ключевую ставку на уровне шестнадцати процентов годовых. Регулятор объяснил решение "
    "устойчиво высокой инфляцией и ростом кредитования. Следующее заседание совета директоров пройдёт в июне.",
    title="ЦБ сохранил ключевую ставку", date="2024-04-26", source="РИА Новости", url="https://t.me/rian_ru/1",
    path="telegram:1101170442/1")
RATE_AGAIN = Document(
    "Совет директоров Банка России снова сохранил ключевую ставку на уровне шестнадцати процентов годовых, "
    "сообщила пресс-служба регулятора. Аналитики ожидали именно такого решения.",
    title="Ставка снова сохранена", date="2024-06-07", source="РИА Новости", url="https://t.me/rian_ru/2",
    path="telegram:1101170442/2")
WEATHER = Document(
    "В Москве в выходные ожидается сильный снегопад и гололедица, предупредили синоптики. Водителей просят "
    "пересесть на общественный транспорт и не выезжать без зимней резины.",
    title="Снегопад в Москве", date="2024-12-01", source="Москва Live", url="https://t.me/moscowlive/9",
    path="telegram:1747110091/9")
QUESTION = "Какую ключевую ставку сохранил Банк России?"


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tmp_path):
    """Settings over SQLite in a temp home, or a fresh PostgreSQL database (the session server)."""
    env = {"CITEBOT_HOME": str(tmp_path / "index"), "CITEBOT_WATCH_PUSH_MINUTES": "0"}
    if request.param == "postgresql":
        env["CITEBOT_DATABASE_URL"] = request.getfixturevalue("pg_url")
    return load_settings(env=env)


@pytest.fixture
def corpus(settings):
    with Corpus(settings, embedder=HashEmbedder()) as opened:
        yield opened


def add(corpus: Corpus, *docs: Document) -> list[int]:
    results = list(corpus.add_documents(docs))
    assert {r.status for r in results} == {"added"}, results
    return [r.doc_id for r in results]


def test_watch_store_contract(settings):
    with open_watches(settings) as watches:
        first = watches.add(42, "  Что с ключевой ставкой?  ", user_id=7)
        assert first.question == "Что с ключевой ставкой?" and first.chat_id == 42 and first.user_id == 7
        assert watches.add(42, "Что с ключевой ставкой?", user_id=7).id == first.id  # the same watch again
        other = watches.add(-100500, "Где снегопад?")
        assert [w.id for w in watches.list()] == [first.id, other.id]
        assert [w.id for w in watches.list(chat_id=42)] == [first.id]
        with pytest.raises(UserError) as refused:
            watches.remove(first.id, chat_id=-100500)  # another chat's watch
        assert refused.value.code == "no_watch"
        assert watches.remove(str(first.id), chat_id=42).id == first.id
        for junk in ("abc", "-1", "99999999999999999999999", first.id):
            with pytest.raises(UserError):
                watches.remove(junk)
        with pytest.raises(UserError):
            watches.add(42, "   ")
    with open_watches(settings) as again:  # a restart reads the same store
        assert [w.question for w in again.list()] == ["Где снегопад?"]


def test_at_most_n_watches_per_user(settings):
    limited = settings.replace(watch_max_per_user=3)
    with open_watches(limited) as watches:
        for i in range(3):
            watches.add(42, f"Вопрос номер {i}?", user_id=7)
        with pytest.raises(UserError) as refused:
            watches.add(-100500, "Ещё один вопрос?", user_id=7)  # the limit is per user, in any chat
        assert refused.value.code == "watch_limit" and "at most 3" in str(refused.value)
        assert watches.add(42, "Чужой вопрос?", user_id=8).user_id == 8  # another user is not affected
        assert watches.add(42, "Вопрос номер 0?", user_id=7)  # asking an existing one again is no new watch
        watches.remove(watches.list(42)[0].id)
        assert watches.add(42, "Теперь можно?", user_id=7)


def test_one_push_per_newly_answering_passage(settings, corpus):
    with open_watches(settings) as watches:
        watch = watches.add(42, QUESTION, user_id=7)
        unrelated = add(corpus, WEATHER)
        assert check_watches(corpus, watches, unrelated) == 0  # nothing new answers it
        new = add(corpus, RATE)
        report = CheckReport()
        assert check_watches(corpus, watches, new, report=report) == 1
        assert check_watches(corpus, watches, new) == 0  # the same passage again (a re-sync): no second push
        pending = watches.pending()
        assert len(pending) == 1 and pending[0].push.watch_id == watch.id and pending[0].push.chat_id == 42
        answer = pending[0].answer
        assert answer.answered and "шестнадцати процентов" in answer.answer
        assert answer.citations[0].url == "https://t.me/rian_ru/1"
        assert watches.delivered(pending[0].push.id) is True
        assert watches.delivered(pending[0].push.id) is False  # marked once
        assert watches.pending() == []
        later = add(corpus, RATE_AGAIN)
        assert check_watches(corpus, watches, later) == 1  # a new passage answering it: a new push
    with open_watches(settings) as restarted:  # across a restart: only the undelivered one is pending
        assert [p.answer.citations[0].url for p in restarted.pending()] == ["https://t.me/rian_ru/2"]


def test_at_most_one_push_every_m_minutes(settings, corpus):
    with open_watches(settings.replace(watch_push_minutes=30)) as watches:
        watches.add(42, QUESTION)
        first, second = add(corpus, RATE), add(corpus, RATE_AGAIN)
        now = 1_800_000_000.0
        assert check_watches(corpus, watches, first, now=now) == 1
        report = CheckReport()
        assert check_watches(corpus, watches, second, now=now + 29 * 60, report=report) == 0
        assert report.throttled == 1
        assert check_watches(corpus, watches, second, now=now + 31 * 60) == 1


def test_a_removed_watch_drops_its_pending_push(settings, corpus):
    with open_watches(settings) as watches:
        watch = watches.add(42, QUESTION)
        check_watches(corpus, watches, add(corpus, RATE))
        watches.remove(watch.id)
        assert watches.pending() == []


def test_concurrent_checks_queue_each_passage_once(settings, corpus):
    """Two processes' checks at once (here: threads with their own store handles) push once."""
    with open_watches(settings) as watches:
        watches.add(42, QUESTION)
    new = add(corpus, RATE)
    counts: list[int] = []

    def check() -> None:
        with open_watches(settings) as mine:
            counts.append(check_watches(corpus, mine, new))

    threads = [threading.Thread(target=check) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(counts) == [0, 0, 0, 1]


def test_answer_round_trip_keeps_quotes_and_highlights(corpus):
    add(corpus, RATE)
    answer = corpus.ask(QUESTION)
    assert answer.answered and answer.citations[0].quotes
    back = answer_from_json(answer_to_json(answer))
    assert back.answer == answer.answer and back.citations[0].quotes == answer.citations[0].quotes
    assert back.highlights == answer.highlights and back.sentences[0].text == answer.sentences[0].text


def test_ask_among_answers_only_from_the_given_documents(corpus):
    rate, weather = add(corpus, RATE, WEATHER)
    assert corpus.ask_among(QUESTION, [rate]).answered
    assert not corpus.ask_among(QUESTION, [weather]).answered  # the rate post exists, but is not new
    assert not corpus.ask_among(QUESTION, []).answered
    assert not corpus.ask_among(QUESTION, [999]).answered


def test_sync_queues_pushes_for_standing_questions(tmp_path, monkeypatch, capsys):
    """`citebot sync --once` over a followed folder: a new file that answers a watch queues one push."""
    home, folder = tmp_path / "index", tmp_path / "news"
    folder.mkdir()
    monkeypatch.setenv("CITEBOT_HOME", str(home))
    monkeypatch.setattr("retrieval.corpus.core.make_embedder", lambda settings: HashEmbedder())
    assert main(["sources", "add", str(folder), "--every", "1m"]) == 0
    assert main(["watch", "add", "--chat", "42", QUESTION]) == 0
    (folder / "weather.txt").write_text(WEATHER.text, encoding="utf-8")
    assert main(["sync", "--once"]) == 0
    assert "queued for standing questions" not in capsys.readouterr().out
    (folder / "rate.txt").write_text(RATE.text, encoding="utf-8")
    assert main(["sync", "--once", "--source", "1"]) == 0
    assert "1 new answer queued for standing questions" in capsys.readouterr().out
    with open_watches(load_settings(env={"CITEBOT_HOME": str(home)})) as watches:
        pending = watches.pending()
    assert len(pending) == 1 and pending[0].push.chat_id == 42
    assert "шестнадцати процентов" in pending[0].answer.answer  # from rate.txt, the only file that answers


def test_citebot_watch_add_list_remove(tmp_path, monkeypatch, capsys):
    import json

    monkeypatch.setenv("CITEBOT_HOME", str(tmp_path / "index"))
    monkeypatch.setenv("CITEBOT_WATCH_MAX_PER_USER", "1")
    assert main(["watch", "add", "--chat", "-1001234567890", QUESTION]) == 0
    assert capsys.readouterr().out == f"watching 1 for chat -1001234567890: {QUESTION}\n"
    assert main(["watch", "add", "--chat", "-1001234567890", "Где снегопад?"]) == 2  # one per chat without --user
    assert "at most 1 standing questions per user" in capsys.readouterr().err
    assert main(["watch", "add", "--chat", "42", "--user", "7", "Где снегопад?", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["chat_id"] == 42 and added["user_id"] == 7 and added["last_push"] is None
    assert main(["watch", "list", "--json"]) == 0
    assert [w["question"] for w in json.loads(capsys.readouterr().out)] == [QUESTION, "Где снегопад?"]
    assert main(["watch", "remove", "2", "--chat", "43"]) == 2  # another chat's watch
    assert "no standing question '2'" in capsys.readouterr().err
    assert main(["watch", "remove", "2"]) == 0
    assert main(["watch", "list", "--chat", "42"]) == 0
    assert "no standing questions" in capsys.readouterr().out.splitlines()[-1]
    assert main(["watch", "add", "--chat", "abc", QUESTION]) == 2
    assert "'abc' is not a numeric Telegram chat id" in capsys.readouterr().err
