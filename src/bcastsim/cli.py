"""The ``bcastsim`` command line: ``inspect``, ``check``, ``review``, ``simulate``.

Each sub-command lives in ``bcastsim._commands.<name>`` and exposes ``HELP`` (one
line), ``configure(parser)`` and ``run(args) -> int``. Bad input surfaces as an
:class:`~bcastsim.InputError`, printed as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

from bcastsim import __version__
from bcastsim._errors import InputError

__all__ = ["main"]

# Order is the order ``--help`` lists them: the data flow, SQL first.
_COMMAND_NAMES = ("inspect", "check", "review", "simulate", "calibrate", "client")


def _available_commands() -> list[tuple[str, ModuleType]]:
    commands = []
    for name in _COMMAND_NAMES:
        module_name = f"bcastsim._commands.{name}"
        if importlib.util.find_spec(module_name) is not None:
            commands.append((name, importlib.import_module(module_name)))
    return commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bcastsim",
        description="Deterministic simulation and verification of database-driven realtime broadcast systems.",
    )
    parser.add_argument("--version", action="version", version=f"bcastsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in _available_commands():
        command_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    try:
        status: int = args._run(args)
    except InputError as error:
        print(f"bcastsim: error: {error.one_line()}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `bcastsim inspect sql/ | head`
        return 0
    return status


if __name__ == "__main__":
    raise SystemExit(main())
