"""The kill-during-send loop, shared by tests/bot/test_crash.py and bench/bot_load.py (like bot_api.py).

A burst of questions from several users reaches the real bot process (``tests/bot/crash_bot.py``: real
Application, journal and SQLite storage over a stub library whose answers take 0.4 s and more, so they
leave one after another); once the first answer of the burst has reached the fake Bot API server the
bot is SIGKILLed at a random moment of the next ``kill_span`` seconds, while the others are being
prepared and sent; then it is restarted, and it answers what was left (journal replay, redelivery). After
the last round every question must have an answer: ``lost`` counts those with none, ``doubled`` the
extra copies (a reply sent, the process killed before the journal marked it done, the question
answered again after the restart).
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakes.bot_api import FakeBotAPI, parse_telegram_html

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "7000000001:AAH-crash-loop-token-value_XYZ123"


@dataclass
class KillLoop:
    """What one run of the loop saw."""

    questions: int = 0
    lost: int = 0
    doubled: int = 0
    kills: int = 0
    pending_at_kill: list[int] = field(default_factory=list)  # burst questions not yet answered, per kill
    kill_gaps: list[float] = field(default_factory=list)  # per doubled reply: seconds from its first copy to the kill
    rejected: list = field(default_factory=list)

    def per_thousand(self) -> float:
        return 1000.0 * self.doubled / self.questions if self.questions else 0.0


def spawn(home: Path, api: FakeBotAPI, *, delay: float, step: float, mark: str) -> subprocess.Popen:
    env = dict(os.environ, CITEBOT_HOME=str(home), TELEGRAM_BOT_TOKEN=TOKEN, CITEBOT_TELEGRAM_API_URL=api.url,
               CITEBOT_TELEGRAM_RATE_LIMIT="0", CITEBOT_TELEGRAM_STARTUP_RETRIES="5", CRASH_BOT_DELAY=str(delay),
               CRASH_BOT_STEP=str(step), CRASH_BOT_MARK=mark, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "tests.bot.crash_bot"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_polling(api: FakeBotAPI, proc: subprocess.Popen, since: int, timeout: float = 90) -> None:
    """Until the new bot process has sent its first getUpdates (the dead one sends none); its stderr if it
    exited instead."""
    api.wait_for(lambda: len(api.calls_to("getUpdates")) > since or proc.poll() is not None, timeout=timeout)
    if proc.poll() is not None:
        raise AssertionError(proc.stderr.read() if proc.stderr else "the bot exited")


def _count(api: FakeBotAPI, chat: int, question: str) -> int:
    return sum(f"Answer to: {question}" in parse_telegram_html(m["text"]) for m in api.bot_messages(chat))


def kill_loop(home: Path, rounds: int, seed: int, *, users: int = 5, per_user: int = 2, mark: str = "eager",
              delay: float = 0.4, step: float = 0.15, kill_span: float = 1.2) -> KillLoop:
    """``rounds`` bursts of ``users`` x ``per_user`` questions, one SIGKILL during each burst's sending."""
    rng = random.Random(seed)
    result = KillLoop()
    asked: list[tuple[int, str]] = []
    kills: list[float] = []
    with FakeBotAPI(TOKEN) as api:
        proc = spawn(home, api, delay=delay, step=step, mark=mark)
        try:
            wait_polling(api, proc, 0)
            for r in range(rounds):
                burst = [(10_000 + n % users, f"Round {r} question {n} from user {n % users}?")
                         for n in range(users * per_user)]
                for chat, question in burst:
                    api.send_text(chat, question)
                asked += burst
                result.questions += len(burst)
                api.wait_for(lambda: any(_count(api, c, q) for c, q in burst), timeout=60)
                time.sleep(rng.uniform(0.0, kill_span))
                killed_at = time.time()
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                kills.append(killed_at)
                result.kills += 1
                result.pending_at_kill.append(sum(not _count(api, c, q) for c, q in burst))
                since = len(api.calls_to("getUpdates"))
                proc = spawn(home, api, delay=delay, step=step, mark=mark)
                wait_polling(api, proc, since)
            deadline = 60 + len(asked) * (delay + step * users * per_user)
            try:
                api.wait_for(lambda: all(_count(api, c, q) for c, q in asked), timeout=deadline)
            except AssertionError:
                pass  # counted as lost below
            time.sleep(delay + step * users * per_user + 1.0)  # a duplicate would arrive now
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        counts = [_count(api, c, q) for c, q in asked]
        result.lost = sum(n == 0 for n in counts)
        result.doubled = sum(max(0, n - 1) for n in counts)
        for (chat, question), n in zip(asked, counts):
            if n > 1:
                first = min(m["sent_wall"] for m in api.bot_messages(chat)
                            if f"Answer to: {question}" in parse_telegram_html(m["text"]))
                result.kill_gaps.append(min((k - first for k in kills if k >= first), default=float("nan")))
        result.rejected = list(api.rejected)
    return result
