"""Library errors from the corpus are rendered from their codes, in the user's language, without CLI advice."""
from __future__ import annotations

from retrieval.errors import UserError
from tests.bot.conftest import ADMIN
from tests.bot.recording import message
from tests.fakes.bot_api import parse_telegram_html


def test_remove_of_a_missing_id_points_to_sources_in_the_users_language(harness):
    [en] = harness().feed(message(ADMIN, "/remove 5")).texts()
    assert en == "There is no document 5 in the library; the ids are in /sources."
    [ru] = harness().feed(message(ADMIN, "/remove 5", lang="ru")).texts()
    assert "Документа 5 в библиотеке нет" in ru and "/sources" in ru and "citebot" not in ru


def test_refused_url_is_one_clear_line(harness, corpus):
    """Whatever the fetch code refuses (internal addresses by default) reaches the admin as one line."""

    class Refusing:
        def add_paths(self, paths, **kwargs):
            raise UserError(f"{paths[0]}: refusing to fetch an internal address (127.0.0.1)",
                            code="url_blocked", url=str(paths[0]))

        def __getattr__(self, name):
            return getattr(corpus, name)

    [reply] = harness(Refusing()).feed(message(ADMIN, "/add http://127.0.0.1:8080/admin")).texts()
    shown = parse_telegram_html(reply)
    assert shown == "Not added: http://127.0.0.1:8080/admin: refusing to fetch an internal address (127.0.0.1)"


def test_add_results_with_reason_codes_are_described_in_the_users_language():
    from bot.handlers.library import describe
    from retrieval.types import AddResult

    near = AddResult(status="near-duplicate", path="x.txt", title="Talks", message="nearly identical to document 3")
    near.reason, near.duplicate_of = "near-duplicate", 3  # fields the library's AddResult carries
    assert describe(near, "ru") == ("Не добавлено: «Talks» уже есть в библиотеке (почти совпадает с документом 3). "
                                    "Чтобы всё равно добавить, пришлите его ещё раз с <code>/add --force</code>.")
    odd = AddResult(status="error", path="tool.exe", message="unsupported file type .exe")
    odd.reason = "unsupported-format"
    assert describe(odd, "ru") == "«tool.exe»: этот тип файлов не поддерживается."
