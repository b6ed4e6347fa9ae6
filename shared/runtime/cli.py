"""The `dsgov` command: `provision` (topics), `replay-deadletters` (operations; `make run` is devtools).

Every subcommand is one `Command` in `COMMANDS`: a name, a help line, a function that adds its
arguments and a handler that returns the exit code. Adding a subcommand is adding one entry.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


@dataclass(frozen=True, slots=True)
class Command:
    """One `dsgov` subcommand."""

    name: str
    help: str
    handler: Callable[[argparse.Namespace], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda _parser: None


def _provision_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap",
        default=os.environ.get("DSGOV_KAFKA_BOOTSTRAP") or DEFAULT_BOOTSTRAP,
        metavar="HOST:PORT",
        help="Kafka bootstrap server (default: $DSGOV_KAFKA_BOOTSTRAP or %(default)s)",
    )
    parser.add_argument("--prefix", default="", metavar="P", help="prefix for every topic name")


def _provision(args: argparse.Namespace) -> int:
    from shared.messaging.provisioning import provision_topics

    try:
        created = asyncio.run(provision_topics(args.bootstrap, prefix=args.prefix))
    except Exception as exc:  # the command line reports any failure in one line
        print(f"dsgov provision: error on {args.bootstrap}: {exc!r}", file=sys.stderr)
        return 1
    for name in created:
        print(f"created {name}")
    print(f"{len(created)} topic(s) created" if created else "all topics already exist")
    return 0


def _replay_arguments(parser: argparse.ArgumentParser) -> None:
    _provision_arguments(parser)
    parser.add_argument("--service", help="only dead letters recorded by this service")
    parser.add_argument("--error-code", help="only this error code, e.g. processing_failed")
    parser.add_argument("--topic", help="only dead letters from this original topic")
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed")


def _replay(args: argparse.Namespace) -> int:
    from shared.messaging.replay import ReplayFilter, replay_dead_letters

    which = ReplayFilter(service=args.service, error_code=args.error_code, original_topic=args.topic)

    def show(data: dict[str, object]) -> None:
        where = f"{data['original_topic']}[{data['partition']}]@{data['offset']}"
        print(f"{'would replay' if args.dry_run else 'replayed'} {where} ({data['error_code']})")

    report = asyncio.run(
        replay_dead_letters(
            args.bootstrap,
            which=which,
            secret=os.environ.get("DSGOV_DEADLETTER_KEY"),
            prefix=args.prefix,
            dry_run=args.dry_run,
            on_replay=show,
        )
    )
    for dead_id in report.skipped_truncated:
        print(f"skipped {dead_id}: oversized payload, only its head was kept", file=sys.stderr)
    print(f"{len(report.replayed)} dead letter(s) {'to replay' if args.dry_run else 'replayed'}")
    return 0


COMMANDS: tuple[Command, ...] = (
    Command("provision", "create missing Kafka topics", _provision, _provision_arguments),
    Command(
        "replay-deadletters",
        "republish dead letters to their original topics (after fixing the cause)",
        _replay,
        _replay_arguments,
    ),
)
"""Every `dsgov` subcommand."""


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    """Return the argument parser with one subparser per command."""
    parser = argparse.ArgumentParser(prog="dsgov", description="dsgov command line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in commands:
        command_parser = sub.add_parser(command.name, help=command.help)
        command.add_arguments(command_parser)
        command_parser.set_defaults(handler=command.handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the chosen command and return its exit code."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
