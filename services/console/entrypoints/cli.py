"""`python -m services.console [run | create-user | verify-proof]`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class StoreSettings(BaseSettings):
    """Where the console keeps its users: the same variables the console itself reads."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_", extra="ignore")

    mongo_uri: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongo_database: str | None = None
    console_port: int = Field(default=8000, description="the embedded runtime's console port")

    @property
    def database(self) -> str:
        """As `CommonSettings.database_for("console")`."""
        return self.mongo_database or "dsgov_console"


def _unreachable_help(settings: StoreSettings, error: str) -> str:
    return f"""error: cannot reach MongoDB at {settings.mongo_uri} ({error}).
The console keeps its users in the database {settings.database!r} of the MongoDB it runs against.

With the embedded runtime (`make run`): keep it running and, in a second terminal in the
repository, run (27017 is the default; use your DSGOV_MONGO_PORT if you set one; `make run`
prints the address in its ready table, on the `mongo` line):

  DSGOV_MONGO_URI='mongodb://127.0.0.1:27017/?directConnection=true' \\
    .venv/bin/python -m services.console create-user --username NAME --role admin

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


async def _store_user(settings: StoreSettings, username: str, role: str, password_hash: str) -> str | None:
    """Insert the user and its audit entry; an error message, or None when created."""
    from pymongo.errors import PyMongoError

    from services.console.adapters.mongo import AUDIT, USERS, MongoAuditLog, MongoUsers
    from services.console.ports import Actor, AuditEntry, User
    from shared.storage.aggregates import AggregateStore
    from shared.storage.mongo import create_client

    client = create_client(settings.mongo_uri, app_name="dsgov-console-cli")
    try:
        try:
            await client.admin.command("ping")
        except PyMongoError as exc:
            return _unreachable_help(settings, type(exc).__name__)
        db = client[settings.database]
        now = datetime.now(UTC)
        who = f"cli:{getpass.getuser()}"
        user = User(username, role, password_hash, True, int(now.timestamp() * 1000), who)  # type: ignore[arg-type]
        if not await MongoUsers(db[USERS]).add(user):
            return f"error: user {username!r} already exists in {settings.database!r}; nothing changed."
        entry = AuditEntry(
            "user_created", Actor(who, "cli"), now, client="cli", target=username, details={"role": role}
        )
        await MongoAuditLog(AggregateStore(db[AUDIT])).record(entry)
        return None
    finally:
        await client.close()


def create_user(args: argparse.Namespace) -> int:
    """Create a console user; the password never comes from the command line itself."""
    stdin, out = sys.stdin, sys.stdout
    settings = StoreSettings()
    username = normalize_username(args.username)
    try:
        check_username(username)
        password = _read_password(args, stdin)
        check_password(password, username)
    except PolicyViolation as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    problem = asyncio.run(_store_user(settings, username, args.role, Passwords().hash(password)))
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_FAILED
    print(
        f"created {args.role} {username!r} in database {settings.database!r} at {settings.mongo_uri}",
        file=out,
    )
    print(
        "sign in at the console's web address: `make run` prints it on its `console` line "
        f"(http://127.0.0.1:{settings.console_port}/ unless DSGOV_CONSOLE_PORT says otherwise)",
        file=out,
    )
    return EXIT_OK


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
