"""The ``xaio`` command: ``init``, ``ci github|gitlab``, ``doctor`` and ``cache clear``.

Each subcommand lives in its own module and registers its parser here. Bad input ends the command
with one line on stderr and exit status 2 (usage) or 1 (everything else), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from pytest_xaio.cli.inspect import CliError

__all__ = ["CliError", "build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse prints the whole usage on an error; one line that names the fix reads better."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from pytest_xaio import __version__
    from pytest_xaio.cli import ci, doctor, init

    parser = _Parser(
        prog="xaio",
        description="pytest-xaio's helper command: set up a FastAPI project's tests, "
        "CI workflows, and check what this machine offers.",
    )
    parser.add_argument("--version", action="version", version=f"pytest-xaio {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    init.add_parser(commands)
    ci.add_parser(commands)
    doctor.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args))
    except CliError as exc:
        print(f"xaio {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"xaio {args.command}: interrupted", file=sys.stderr)
        return 130
