"""Allow-lists, admins and the per-user rate limit."""
from __future__ import annotations

import pytest

from bot.access import Access, RateLimiter, parse_ids
from retrieval.errors import UserError
from tests.bot.conftest import bot_settings


def test_empty_lists_are_open_for_users_and_closed_for_admins(tmp_path):
    access = Access.from_settings(bot_settings(tmp_path, CITEBOT_TELEGRAM_ADMINS=""))
    assert access.may_use(42, 42) and access.may_use(42, -100)
    assert not access.is_admin(42)


def test_both_lists_apply_in_private_and_group_chats(tmp_path):
    access = Access.from_settings(bot_settings(
        tmp_path, CITEBOT_TELEGRAM_ALLOWED_USERS="10, 11", CITEBOT_TELEGRAM_ALLOWED_CHATS="-500,10",
        CITEBOT_TELEGRAM_ADMINS="99"))
    assert access.may_use(10, 10)  # listed user in their listed private chat
    assert access.may_use(10, -500)  # listed user in the listed group
    assert not access.may_use(11, 11)  # listed user, private chat not listed
    assert not access.may_use(12, -500)  # unlisted user in the listed group
    assert not access.may_use(10, -600)  # listed user in an unlisted group
    assert access.may_use(99, -600) and access.is_admin(99)  # admins pass the lists
    assert not access.may_use(None, -500)


def test_a_non_numeric_id_is_a_clear_error_naming_the_variable():
    with pytest.raises(UserError, match="CITEBOT_TELEGRAM_ADMINS: '@alice' is not a numeric Telegram id"):
        parse_ids(["12", "@alice"], "CITEBOT_TELEGRAM_ADMINS")


def test_rate_limit_is_per_user_and_recovers_after_the_window():
    now = [0.0]
    limiter = RateLimiter(limit=3, window=60, clock=lambda: now[0])
    assert [limiter.check(1) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.check(1) == pytest.approx(60.0)
    assert limiter.check(2) == 0.0  # another user is not affected
    now[0] = 30.0
    assert limiter.check(1) == pytest.approx(30.0)
    now[0] = 60.5
    assert limiter.check(1) == 0.0


def test_rate_limit_zero_disables_it():
    limiter = RateLimiter(limit=0)
    assert all(limiter.check(1) == 0.0 for _ in range(1000))
