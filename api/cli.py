"""`citebot serve` and `citebot keys`, registered with the console script through ``register(app)``
(the library never imports this package: pyproject's ``citebot.apps`` entry point names it)."""
from __future__ import annotations

import argparse
import json
from typing import Any

from retrieval import UserError

from .settings import API_SETTINGS


def _port(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 65535:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a port number (1-65535)")
    return int(raw)


def _workers(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 64:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a worker count (1-64)")
    return int(raw)


def configure_serve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; another needs an API key to exist)")
    parser.add_argument("--port", type=_port, default=8080, help="port (default 8080)")
    parser.add_argument("--workers", type=_workers, default=1,
                        help="server processes sharing the port, 1-64 (default 1); each opens the corpus once")


def configure_keys(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="create a key and print it (shown once: only its hash is stored)",
                         description="Create a key and print it once (only its hash is stored).")
    add.add_argument("name", help="who or what the key is for, e.g. 'intranet search'")
    add.add_argument("--admin", action="store_true", help="an admin key: may also add and remove documents")
    add.add_argument("--json", action="store_true")
    listing = sub.add_parser("list", help="keys with their id, role, name, creation and revocation time",
                             description="Keys with their id, role, name, creation and revocation time "
                             "(never the keys themselves).")
    listing.add_argument("--json", action="store_true")
    revoke = sub.add_parser("revoke", help="revoke a key by its id (or the key itself)",
                            description="Revoke a key by its id (or the key itself); it stops working within "
                            "5 seconds on every server.")
    revoke.add_argument("key_id", metavar="ID")


def settings_for(args: argparse.Namespace) -> Any:
    """The settings the CLI loaded for an app command (every app's, with --home applied)."""
    settings = getattr(args, "settings", None)
    if settings is None:  # called directly, not through `citebot`
        from .app import all_settings

        settings = all_settings()
        if getattr(args, "home", None):
            settings = settings.replace(home=args.home)
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from .server import serve
    except ImportError as exc:  # the optional extra is not installed
        raise UserError(f"the HTTP API is not available ({exc.name or exc}); install it with "
                        f"`pip install 'citebot[api]'`") from None
    return serve(settings_for(args), args.host, args.port, args.workers)


def cmd_keys(args: argparse.Namespace) -> int:
    from retrieval import open_keys

    keys = open_keys(settings_for(args))
    try:
        if args.keys_command == "add":
            made = keys.create(args.name, "admin" if args.admin else "reader")
            if args.json:
                print(json.dumps({"key": made.token, **made.key.__dict__}))
            else:
                print(made.token)
                print(f"{made.key.role} key {made.key.key_id} ({made.key.name}): shown once, store it now")
        elif args.keys_command == "list":
            listed = keys.list()
            if args.json:
                print(json.dumps([k.__dict__ for k in listed], indent=2))
            for k in listed if not args.json else []:
                state = f"revoked {k.revoked}" if k.revoked else "active"
                print(f"{k.key_id}  {k.role:<6}  {k.created}  {state:<28}  {k.name}")
            if not listed and not args.json:
                print("No API keys: create one with `citebot keys add NAME` (reads are then open to this "
                      "machine only).")
        else:
            key = keys.revoke(args.key_id)
            print(f"revoked {key.role} key {key.key_id} ({key.name})")
    finally:
        keys.close()
    return 0


def register(app: Any) -> None:
    """Called by the console script with its registry: the API's settings and its two commands."""
    app.settings(API_SETTINGS)
    app.command("serve", cmd_serve, "Run the HTTP API: JSON endpoints under /v1, an OpenAI-compatible chat "
                "endpoint and a web page at / (see docs/api.md).", configure=configure_serve)
    app.command("keys", cmd_keys, "Create, list and revoke the HTTP API's keys (reader or admin).",
                configure=configure_keys)
