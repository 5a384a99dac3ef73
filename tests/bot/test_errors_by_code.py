"""The bot words library errors from their code, in the user's language, never from the English text."""
from __future__ import annotations

from retrieval import UserError

from bot.handlers.common import user_error_html


def test_library_errors_are_worded_by_code_in_the_users_language():
    switched = UserError("3 of 3 stored passages have no vector for the embedder m", code="reindex_needed",
                         model="m", missing=3, passages=3)
    assert "re-indexed" in user_error_html(switched, "en") and "3 of 3" not in user_error_html(switched, "en")
    assert "переиндексации" in user_error_html(switched, "ru")
    missing = UserError("no document '7'", code="no_document", ref="7")
    assert "/sources" in user_error_html(missing, "en") and "citebot list" not in user_error_html(missing, "en")


def test_an_error_without_a_known_code_is_shown_as_its_message_escaped():
    assert user_error_html(UserError("bad <input>"), "en") == "bad &lt;input&gt;"
