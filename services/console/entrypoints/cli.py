"""`python -m services.console [run | create-user | reset-password | verify-proof]`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.console.config import create_admin_command
from services.console.domain.passwords import (
    Passwords,
    PolicyViolation,
    check_password,
    check_username,
    normalize_username,
)
from services.console.domain.proof import verify_proof
from services.console.domain.roles import ROLES

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_URI = "mongodb://127.0.0.1:27017/?directConnection=true"


class StoreSettings(BaseSettings):
    """Where the console keeps its users: the same variables the console itself reads."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_", extra="ignore")

    mongo_uri: str = DEFAULT_URI
    mongo_database: str | None = None
    console_port: int = Field(default=8000, description="the embedded runtime's console port")

    @property
    def database(self) -> str:
        """As `CommonSettings.database_for("console")`."""
        return self.mongo_database or "dsgov_console"


def _unreachable_help(settings: StoreSettings, error: str) -> str:
    return f"""error: cannot reach MongoDB at {settings.mongo_uri} ({error}).
The console keeps its users in the database {settings.database!r} of the MongoDB it runs against.

With the embedded runtime (`make run`): keep it running; its ready table prints the exact
command (and the store on its `mongo` line). With the default port it is:

  {create_admin_command(StoreSettings.model_construct(mongo_uri=DEFAULT_URI, mongo_database=None))}

Against another deployment: set DSGOV_MONGO_URI (and DSGOV_MONGO_DATABASE if the console uses
one) to the console's store, then run the same command."""


def _read_password(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.password_stdin:
        return stdin.readline().rstrip("\r\n")
    if not stdin.isatty():
        raise PolicyViolation("no terminal to ask for the password; pipe it in with --password-stdin")
    first = getpass.getpass(f"Password for {args.username} (at least 12 characters): ")
    if getpass.getpass("Again: ") != first:
        raise PolicyViolation("the passwords do not match")
    return first


async def _in_store(settings: StoreSettings, work: Callable[[Any], Awaitable[str]]) -> tuple[bool, str]:
    """Run `work(db)` against the console's database: (done, its message) or (False, why not)."""
    from pymongo.errors import PyMongoError

    from shared.storage.mongo import create_client

    client = create_client(settings.mongo_uri, app_name="dsgov-console-cli")
    try:
        try:
            await client.admin.command("ping")
        except PyMongoError as exc:
            return False, _unreachable_help(settings, type(exc).__name__)
        return True, await work(client[settings.database])
    finally:
        await client.close()


class _Refused(Exception):
    """Nothing changed; the message says why."""


def _cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


async def _record(db: Any, action: str, target: str, **details: Any) -> None:
    from services.console.adapters.mongo import AUDIT, MongoAuditLog
    from services.console.ports import Actor, AuditEntry
    from shared.storage.aggregates import AggregateStore

    who = _cli_actor()
    entry = AuditEntry(
        action, Actor(who, "cli"), datetime.now(UTC), client="cli", target=target, details=details
    )
    await MongoAuditLog(AggregateStore(db[AUDIT])).record(entry)


async def _signin_url(db: Any, settings: StoreSettings) -> str:
    """Where to sign in: the URL the console recorded when it started against this store."""
    from services.console.adapters.mongo import SITE, MongoSite

    url = await MongoSite(db[SITE]).url()
    if url:
        return f"sign in at {url}"
    return (
        "the console has not started against this store yet; once it runs, sign in at its web address "
        f"(`make run` prints it on its `console` line: http://127.0.0.1:{settings.console_port}/ by default)"
    )


def _store_user(
    settings: StoreSettings, username: str, role: str, password_hash: str
) -> Callable[[Any], Awaitable[str]]:
    async def work(db: Any) -> str:
        from services.console.adapters.mongo import USERS, MongoUsers
        from services.console.ports import User

        who = _cli_actor()
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        user = User(
            username,
            role,  # type: ignore[arg-type]
            password_hash,
            True,
            now_ms,
            who,
            role_by=who,
            password_set_by=who,
        )
        if not await MongoUsers(db[USERS]).add(user):
            raise _Refused(
                f"error: user {username!r} already exists in {settings.database!r}; nothing changed."
            )
        await _record(db, "user_created", username, role=role)
        where = f"created {role} {username!r} in database {settings.database!r} at {settings.mongo_uri}"
        return where + "\n" + await _signin_url(db, settings)

    return work


def _reset(settings: StoreSettings, username: str, password_hash: str) -> Callable[[Any], Awaitable[str]]:
    async def work(db: Any) -> str:
        from services.console.adapters.mongo import SESSIONS, USERS, MongoSessions, MongoUsers

        users = MongoUsers(db[USERS])
        user = await users.get(username)
        if user is None:
            raise _Refused(f"error: no user {username!r} in {settings.database!r}; nothing changed.")
        if not await users.replace(replace(user, password_hash=password_hash, password_set_by=_cli_actor())):
            raise _Refused(f"error: user {username!r} changed meanwhile; nothing changed. Try again.")
        await MongoSessions(db[SESSIONS]).delete_for_user(username)
        await _record(db, "password_reset", username)
        done = f"password of {username!r} set in database {settings.database!r}; their sessions ended"
        return done + "\n" + await _signin_url(db, settings)

    return work


def _run_in_store(settings: StoreSettings, work: Callable[[Any], Awaitable[str]]) -> int:
    try:
        done, message = asyncio.run(_in_store(settings, work))
    except _Refused as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED
    print(message, file=sys.stdout if done else sys.stderr)
    return EXIT_OK if done else EXIT_FAILED


def _new_password(args: argparse.Namespace, username: str) -> str | None:
    """The checked password, or None after saying what is wrong."""
    try:
        check_username(username)
        password = _read_password(args, sys.stdin)
        check_password(password, username)
    except PolicyViolation as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    return password


def create_user(args: argparse.Namespace) -> int:
    """Create a console user; the password never comes from the command line itself."""
    settings = StoreSettings()
    username = normalize_username(args.username)
    password = _new_password(args, username)
    if password is None:
        return EXIT_USAGE
    return _run_in_store(settings, _store_user(settings, username, args.role, Passwords().hash(password)))


def reset_password(args: argparse.Namespace) -> int:
    """Set a user's password (a forgotten one, the last admin's); their sessions end. Audited."""
    settings = StoreSettings()
    username = normalize_username(args.username)
    password = _new_password(args, username)
    if password is None:
        return EXIT_USAGE
    return _run_in_store(settings, _reset(settings, username, Passwords().hash(password)))


def verify(args: argparse.Namespace) -> int:
    """Check an exported consent proof."""
    out = sys.stdout
    try:
        proof: Any = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    result = verify_proof(proof if isinstance(proof, dict) else {})
    if result.ok:
        print(f"OK: {result.entries} entries, head hash {result.head_hash}", file=out)
        return EXIT_OK
    print("NOT VALID:\n" + "\n".join(f"  - {p}" for p in result.problems), file=out)
    return EXIT_FAILED


def run(_args: argparse.Namespace) -> int:
    """The console service."""
    from services.console.entrypoints.app import main

    return asyncio.run(main())


def build_parser() -> argparse.ArgumentParser:
    """`run` is the default command."""
    parser = argparse.ArgumentParser(prog="python -m services.console", description="dsgov admin console")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="run the console (the default)").set_defaults(handler=run)
    create = sub.add_parser(
        "create-user",
        help="create a console user (the first admin, say) in the store named by DSGOV_MONGO_URI",
    )
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    create.set_defaults(handler=create_user)
    reset = sub.add_parser(
        "reset-password",
        help="set a console user's password (ends their sessions) in the store named by DSGOV_MONGO_URI",
    )
    reset.add_argument("--username", required=True)
    reset.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    reset.set_defaults(handler=reset_password)
    check = sub.add_parser("verify-proof", help="check an exported consent proof (JSON file)")
    check.add_argument("file")
    check.set_defaults(handler=verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse and dispatch; no command means `run`."""
    args = build_parser().parse_args(argv)
    handler = getattr(args, "handler", run)
    code: int = handler(args)
    return code
