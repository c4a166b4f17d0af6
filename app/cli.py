"""`powerpermit`: serve, migrate, seed-demo, backup, restore, keys, user, client."""

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

from app.services.clients import ClientAdminError
from app.services.keyring import KeyringError
from app.services.user_admin import UserAdminError
from app.settings import Settings
from app.store.database import DatabaseFileError
from device.protocol.keys import KeyFileError

if TYPE_CHECKING:
    from app.services.permit_keys import KeyStatus
    from app.store.oauth import ClientRow
    from app.store.user_admin import UserRow

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def migrate(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings.database_url), "head")


def seed_demo(settings: Settings) -> dict[str, object]:
    from app.services.container import build_services
    from app.services.demo import seed_demo as seed

    services = build_services(settings)
    try:
        return seed(services, settings.data_dir)
    finally:
        services.db.engine.dispose()


def serve(
    settings: Settings,
    host: str,
    port: int,
    log_format: str = "json",
    ws: str = "auto",
    rate_limit_factor: float = 1.0,
) -> None:
    import gc

    import uvicorn

    from app.main import create_app
    from app.observability.logs import configure, logging_config
    from app.schema.limits import MAX_BODY_BYTES
    from app.services.container import build_services
    from app.services.rate_limits import RateLimiter, Rules

    configure(log_format)  # before the app is built, so its start-up lines are formatted too
    services = build_services(settings)
    services.limits = RateLimiter(
        Rules().scaled(rate_limit_factor or 1), enabled=rate_limit_factor > 0
    )
    app = create_app(settings, services)
    # What start-up built lives as long as the process: keep it out of the collector's full
    # passes. With 1,000 subscribers one took ~400 ms (~90 ms frozen), and the pauses in
    # fanning an event out halved, a pause every subscriber's next message waited for.
    gc.collect()
    gc.freeze()
    # A websocket message is read whole before the schema sees it: stop at the body limit
    # instead of the library's 16 MiB.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        log_config=logging_config(log_format),
        access_log=False,  # RequestIdMiddleware writes the access line, with the request id
        ws_max_size=MAX_BODY_BYTES,
        # Subscription messages are a few hundred bytes: per-message deflate cost a fifth of
        # the server's CPU per event at 1,000 subscribers, and two zlib contexts per socket.
        ws_per_message_deflate=False,
        ws=ws,  # one of uvicorn's names, checked by argparse
    )


def backup_or_restore(args: argparse.Namespace, settings: Settings) -> int:
    """SQLite only (app/store/backup.py); for PostgreSQL it prints the pg_dump path."""
    from alembic.script import ScriptDirectory

    from app.store.backup import BACKUP_NICENESS, BackupError, backup, restore

    path = Path(args.path)
    try:
        if args.command == "backup":
            os.nice(BACKUP_NICENESS)  # background work: the server's answers come first
            backup(settings.database_url, path, force=args.force)
            return 0
        copied = restore(settings.database_url, path, force=args.force)
    except BackupError as err:
        print(f"powerpermit: {err}", file=sys.stderr)
        return 2
    heads = ScriptDirectory.from_config(alembic_config(settings.database_url)).get_heads()
    if copied.revision not in heads:
        print(f"the restored store is at {copied.revision}: run `powerpermit migrate` next")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="powerpermit")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the management server")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument(
        "--log-format",
        choices=["json", "text"],
        default="json",
        help="json (default): one object per line, for a log shipper; text: for a terminal",
    )
    serve_cmd.add_argument(
        "--ws",
        choices=["auto", "websockets", "websockets-sansio", "wsproto"],
        default="auto",
        help="uvicorn's websocket implementation (bench/fanout.py --ws compares their cost)",
    )
    serve_cmd.add_argument(
        "--rate-limit-factor",
        type=float,
        default=1.0,
        help="multiply every rate limit (rate and burst) by this; 0 turns them off "
        "(benches and tests that flood one user on purpose)",
    )
    commands.add_parser("migrate", help="apply database migrations (alembic upgrade head)")
    backup_cmd = commands.add_parser("backup", help="copy the SQLite store to PATH, live")
    restore_cmd = commands.add_parser("restore", help="put a backup in place of the store")
    for sub, what in ((backup_cmd, "the backup file to write"), (restore_cmd, "a backup file")):
        sub.add_argument("path", metavar="PATH", help=what)
        sub.add_argument("--force", action="store_true", help="replace what is there")
    seed_cmd = commands.add_parser("seed-demo", help="create the demo site (idempotent)")
    seed_cmd.add_argument("--json", action="store_true", help="print the demo accounts as JSON")
    keys_cmd = commands.add_parser("keys", help="permit-signing keys: list, add, rotate, prune")
    keys_cmd.add_argument("action", choices=["list", "add", "rotate", "prune"])
    keys_cmd.add_argument(
        "kid", nargs="?", help="prune: only this key, refused with the reason while needed"
    )
    keys_cmd.add_argument("--json", action="store_true", help="print the keys as JSON")
    add_user_commands(commands)
    add_client_commands(commands)
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    try:
        return _run(args, settings)
    except (
        KeyFileError,
        DatabaseFileError,
        KeyringError,
        UserAdminError,
        ClientAdminError,
    ) as err:
        print(f"powerpermit: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        serve(settings, args.host, args.port, args.log_format, args.ws, args.rate_limit_factor)
    elif args.command in ("backup", "restore"):
        return backup_or_restore(args, settings)
    elif args.command == "migrate":
        migrate(settings)
    elif args.command == "seed-demo":
        summary = seed_demo(settings)
        if args.json:
            print(json.dumps(summary))
        else:
            for key in ("manager", "user", "user2"):
                account = summary[key]
                assert isinstance(account, dict)
                login, password, token = account["login"], account["password"], account["token"]
                print(f"{key:8} login={login} password={password} token={token}")
    elif args.command == "keys":
        keys(settings, args.action, args.kid, as_json=args.json)
    elif args.command == "user":
        user_command(settings, args)
    elif args.command == "client":
        client_command(settings, args)
    return 0


def keys(settings: Settings, action: str, kid: str | None, *, as_json: bool) -> None:
    """add publishes a next key that signs nothing yet; rotate makes the next key (that one,
    or a new one) current; prune drops retired keys no permit needs any more."""
    from app.services import permit_keys
    from app.services.container import build_services

    if kid is not None and action != "prune":
        raise KeyringError(f"keys {action} takes no key id (only prune does)")

    async def change_and_list() -> "list[KeyStatus]":
        services = build_services(settings)
        now = datetime.now(UTC)
        try:
            if action == "add":
                ring = permit_keys.add_key(services, now)
                print(f"next key {ring.staged[-1].kid} published; it signs from `keys rotate` on")
            elif action == "rotate":
                ring = permit_keys.rotate_keys(services, now)
                print(f"new current key {ring.current_kid}; {len(ring.entries)} keys published")
            elif action == "prune":
                dropped = await permit_keys.prune_keys(services, now, kid)
                print(f"pruned {', '.join(dropped)}" if dropped else "nothing to prune")
            return await permit_keys.list_keys(services, now)
        finally:
            await services.db.dispose()

    statuses = asyncio.run(change_and_list())
    if as_json:
        print(json.dumps([_key_json(s) for s in statuses]))
        return
    print(f"{'kid':8} {'created':20} {'current':7} {'retired':20} {'last permit expires':20}")
    for s in statuses:
        print(
            f"{s.kid:8} {_when(s.created):20} {_current(s):7} "
            f"{_when(s.retired):20} {_when(s.last_permit_expires) or 'no permits':20}"
            + ("  (prunable)" if s.prunable else "")
        )


def _current(status: "KeyStatus") -> str:
    return "yes" if status.current else "next" if status.staged else ""


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _key_json(status: "KeyStatus") -> dict[str, object]:
    return {
        "kid": status.kid,
        "created": _when(status.created),
        "current": status.current,
        "staged": status.staged,
        "retired": _when(status.retired) or None,
        "last_permit_expires": _when(status.last_permit_expires) or None,
        "prunable": status.prunable,
        "kept_because": status.kept_because,
    }


def add_user_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    user_cmd = commands.add_parser("user", help="accounts: create, list, disable, ...")
    actions = user_cmd.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a new account with a password")
    create.add_argument("--login", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=["driver", "manager", "admin"], default="driver")
    listing = actions.add_parser("list", help="every account, its role and sites")
    listing.add_argument("--json", action="store_true")
    disable = actions.add_parser("disable", help="no more sign-in; tokens and sessions end")
    disable.add_argument("login")
    enable = actions.add_parser("enable", help="may sign in again (with the same password)")
    enable.add_argument("login")
    set_password = actions.add_parser("set-password", help="a new password")
    set_password.add_argument("login")
    grant = actions.add_parser("grant", help="make the user a manager of a site")
    grant.add_argument("login")
    grant.add_argument("--site", required=True)
    for sub in (create, set_password):
        # Never on the command line, where `ps` shows it to everyone on the machine.
        sub.add_argument(
            "--password-stdin", action="store_true", help="read the password from stdin"
        )


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise UserAdminError("the passwords differ")
    return first


def user_command(settings: Settings, args: argparse.Namespace) -> None:
    from app.services import user_admin
    from app.services.container import build_services

    password = (
        _read_password(args.password_stdin) if args.action in ("create", "set-password") else ""
    )

    async def run() -> None:
        services = build_services(settings)
        try:
            if args.action == "create":
                user = await user_admin.create_user(
                    services, args.login, args.name, args.role, password
                )
                print(f"created {user.login} ({args.role})")
            elif args.action == "list":
                rows = await user_admin.list_users(services)
                if args.json:
                    print(json.dumps([_user_json(r) for r in rows]))
                for r in rows if not args.json else []:
                    state = "  (disabled)" if r.disabled else ""
                    sites = ",".join(r.manages)
                    print(f"{r.login:20} {r.role:8} {r.display_name:30} {sites}{state}")
            elif args.action == "disable":
                ended = await user_admin.disable_user(services, args.login)
                print(f"disabled {args.login}; {ended} tokens ended")
            elif args.action == "enable":
                await user_admin.enable_user(services, args.login)
                print(f"enabled {args.login}")
            elif args.action == "set-password":
                await user_admin.set_password(services, args.login, password)
                print(f"password set for {args.login}")
            elif args.action == "grant":
                await user_admin.grant_site(services, args.login, args.site)
                print(f"{args.login} manages {args.site}")
        finally:
            await services.db.dispose()

    asyncio.run(run())


def _user_json(row: "UserRow") -> dict[str, object]:
    role = "driver" if row.role == "user" else row.role
    return {
        "id": row.id,
        "login": row.login,
        "name": row.display_name,
        "role": role,
        "disabled": row.disabled,
        "manages": list(row.manages),
    }


def add_client_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    client_cmd = commands.add_parser("client", help="OAuth2 clients: create, list, revoke")
    actions = client_cmd.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a client of one site; prints its secret once")
    create.add_argument("--name", required=True)
    create.add_argument("--site", required=True)
    create.add_argument("--scopes", required=True, help='e.g. "requests:read requests:write"')
    create.add_argument(
        "--redirect-uri", action="append", default=[], help="for the authorization code grant"
    )
    create.add_argument("--public", action="store_true", help="no secret (PKCE only)")
    create.add_argument("--json", action="store_true")
    listing = actions.add_parser("list", help="every client (never a secret)")
    listing.add_argument("--json", action="store_true")
    revoke = actions.add_parser("revoke", help="no new tokens; its tokens end at once")
    revoke.add_argument("client_id")


def client_command(settings: Settings, args: argparse.Namespace) -> None:
    from app.services import clients
    from app.services.container import build_services

    async def run() -> None:
        services = build_services(settings)
        try:
            if args.action == "create":
                row, secret = await clients.create_client(
                    services, args.name, args.site, args.scopes, args.redirect_uri, args.public
                )
                if args.json:
                    print(json.dumps({"client_id": row.client_id, "client_secret": secret}))
                else:
                    print(f"client_id={row.client_id}")
                    if secret is not None:
                        print(f"client_secret={secret}  (shown only now)")
            elif args.action == "list":
                rows = await clients.list_clients(services)
                if args.json:
                    print(json.dumps([_client_json(r) for r in rows]))
                for r in rows if not args.json else []:
                    state = "  (revoked)" if r.revoked_at else ""
                    kind = "public" if r.secret_hash is None else "secret"
                    print(f"{r.client_id:28} {r.site_id:12} {kind:6} {r.name:24} {r.scopes}{state}")
            elif args.action == "revoke":
                ended = await clients.revoke_client(services, args.client_id)
                print(f"revoked {args.client_id}; {ended} refresh tokens ended")
        finally:
            await services.db.dispose()

    asyncio.run(run())


def _client_json(row: "ClientRow") -> dict[str, object]:
    return {
        "client_id": row.client_id,
        "name": row.name,
        "site": row.site_id,
        "scopes": row.scopes.split(),
        "redirect_uris": list(row.redirect_uris),
        "public": row.secret_hash is None,
        "created": _when(row.created_at),
        "revoked": _when(row.revoked_at) or None,
    }


if __name__ == "__main__":
    sys.exit(main())
