"""The ``bcastsim`` command line: ``inspect``, ``check``, ``review``, ``simulate``.

Each sub-command lives in ``bcastsim._commands.<name>`` and exposes ``HELP`` (one
line), ``configure(parser)`` and ``run(args) -> int``.

Exit status: 0 clean, 1 an error-level finding, 2 bad usage or input (an
:class:`~bcastsim.InputError`, printed as one line), 3 an internal error: a bug in
bcastsim, printed as one line; the traceback goes to a file (or, with ``--debug``,
to standard error).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

import bcastsim
from bcastsim._errors import InputError
from bcastsim._interrupt import interruptible

__all__ = ["EXIT_INTERNAL_ERROR", "main"]

EXIT_INTERNAL_ERROR = 3

# Order is the order ``--help`` lists them: the data flow, SQL first.
_COMMAND_NAMES = ("inspect", "check", "review", "simulate", "calibrate", "client", "sql", "schema")


def _available_commands() -> list[tuple[str, ModuleType]]:
    commands = []
    for name in _COMMAND_NAMES:
        module_name = f"bcastsim._commands.{name}"
        if importlib.util.find_spec(module_name) is not None:
            commands.append((name, importlib.import_module(module_name)))
    return commands


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other error, pointing at ``--help``."""

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split())
        self.exit(2, f"bcastsim: error: {text} (fix: see `{self.prog} --help`)\n")


class _Version(argparse.Action):
    """``--version``, read from the installed metadata only when asked (it costs a tenth of a second to load)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> NoReturn:
        sys.stdout.write(f"bcastsim {bcastsim.__version__}\n")
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bcastsim",
        description="Deterministic simulation and verification of database-driven realtime broadcast systems.",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    parser.add_argument("--debug", action="store_true", help="on an internal error, print the traceback")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in _available_commands():
        command_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        command_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        module.configure(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        print("bcastsim: error: name a command (fix: e.g. bcastsim check sql/)", file=sys.stderr)
        return 2
    try:
        with interruptible():
            status: int = args._run(args)
    except InputError as error:
        print(f"bcastsim: error: {error.one_line()}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `bcastsim inspect sql/ | head`
        return 0
    except KeyboardInterrupt:
        print("bcastsim: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # every other exception is a bug in bcastsim
        return _internal_error(error, debug=bool(getattr(args, "debug", False)))
    return status


def _internal_error(error: BaseException, *, debug: bool) -> int:
    """One line saying it is a bug in bcastsim; the traceback on request or in a file."""
    text = "".join(traceback.format_exception(error))
    summary = " ".join(f"{type(error).__name__}: {error}".split())[:300]
    if debug:
        sys.stderr.write(text)
        where = "the traceback above"
    else:
        try:
            fd, name = tempfile.mkstemp(prefix="bcastsim-crash-", suffix=".txt")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(f"bcastsim {bcastsim.__version__}\n{' '.join(sys.argv)}\n\n{text}")
            where = name
        except OSError:
            where = "the traceback (rerun with --debug to print it)"
    print(
        f"bcastsim: internal error (a bug in bcastsim, not in your input): {summary}; "
        f"please report it to the bcastsim maintainers with {where}",
        file=sys.stderr,
    )
    return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
