"""``bcastsim client install``: the pinned @supabase/realtime-js for ``check --client PATH.js``."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "install the pinned @supabase/realtime-js (npm ci of bcastsim's lockfile) for check --client PATH.js"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="client_command", metavar="ACTION", required=True)
    install = sub.add_parser("install", help="npm ci the pinned packages into the user cache (or --target DIR)")
    install.add_argument("--target", type=Path, help="directory to install into (default: the user cache)")


def run(args: argparse.Namespace) -> int:
    from bcastsim.client._node import install_client

    modules = install_client(args.target)
    print(f"installed @supabase/realtime-js into {modules}")
    if args.target is not None:
        print(f"point bcastsim at it with BCASTSIM_NODE_MODULES={modules}")
    return 0
