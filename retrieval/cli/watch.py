"""`citebot watch add|list|remove`: standing questions for a Telegram chat, from the shell.

The same store the bot's ``/watch`` writes (``retrieval.watch``): an operator can set up or clear a
newsroom chat's standing questions without Telegram, and `citebot sync` queues their pushes, which the
running bot delivers. Kept apart from ``commands`` so the watch commands live with one owner.
"""
from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from typing import Any, Callable

from .output import printable

WATCH_EPILOG = ("watch add --chat ID QUESTION [--user ID]: ask QUESTION again after every sync that adds "
                "documents; an answer is pushed to the chat by the running bot\n\n"
                "watch list [--chat ID] [--json]: the standing questions (of one chat)\n\n"
                "watch remove ID [--chat ID]: stop watching\n\n"
                "exit status: 0 done; 2 a user error (an unknown id, the per-user limit, an empty question), "
                "told in one line on stderr")


def _chat_id(raw: str) -> int:
    text = raw.strip()
    if not (text.lstrip("-").isascii() and text.lstrip("-").isdigit()) or len(text) > 20:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a numeric Telegram chat id")
    return int(text)


_chat_id.__name__ = "chat id"


def add_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Declare `watch` with the CLI's ``command(name, func, help, exit_codes)`` helper."""
    p = command("watch", cmd_watch, "Standing questions for a Telegram chat: add, list, remove.",
                exit_codes=WATCH_EPILOG)
    sub = p.add_subparsers(dest="watch_command", metavar="ACTION", required=True)
    a = sub.add_parser("add", help="watch a question for a chat")
    a.add_argument("question", help="the question (one starting with '-' goes after --)")
    a.add_argument("--chat", type=_chat_id, required=True, help="the Telegram chat id to push answers to")
    a.add_argument("--user", type=_chat_id, default=None,
                   help="the user it counts against (CITEBOT_WATCH_MAX_PER_USER; default: the chat)")
    a.add_argument("--json", action="store_true", help="print the watch as JSON")
    listing = sub.add_parser("list", help="the standing questions")
    listing.add_argument("--chat", type=_chat_id, default=None, help="only this chat's")
    listing.add_argument("--json", action="store_true", help="print them as JSON")
    r = sub.add_parser("remove", help="stop watching a question")
    r.add_argument("id", metavar="ID")
    r.add_argument("--chat", type=_chat_id, default=None, help="only if it belongs to this chat")


def watch_json(watch: Any) -> dict[str, Any]:
    """The stable ``watch list --json`` shape: times as ISO 8601 UTC strings."""
    def iso(ts: float | None) -> str | None:
        return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {"id": watch.id, "chat_id": watch.chat_id, "user_id": watch.user_id, "question": watch.question,
            "created": iso(watch.created), "last_push": iso(watch.last_push)}


def cmd_watch(args: argparse.Namespace) -> int:
    from ..watch import open_watches
    from .commands import cli_settings

    watches = open_watches(cli_settings(args))
    try:
        action = args.watch_command
        if action == "add":
            watch = watches.add(args.chat, args.question, user_id=args.user)
            if args.json:
                print(json.dumps(watch_json(watch), ensure_ascii=False))
            else:
                print(printable(f"watching {watch.id} for chat {watch.chat_id}: {watch.question}"))
        elif action == "list":
            rows = watches.list(args.chat)
            if args.json:
                print(json.dumps([watch_json(w) for w in rows], ensure_ascii=False, indent=2))
            elif not rows:
                print("no standing questions: add one with `citebot watch add --chat ID QUESTION`")
            else:
                for w in rows:
                    pushed = watch_json(w)["last_push"] or "never"
                    print(printable(f"{w.id:>4}  chat {w.chat_id:<15} last push {pushed:<20}  {w.question}")[:400])
        elif action == "remove":
            watch = watches.remove(args.id, chat_id=args.chat)
            print(printable(f"stopped watching {watch.id}: {watch.question}"))
        return 0
    finally:
        watches.close()


__all__ = ["add_commands", "cmd_watch", "watch_json"]
