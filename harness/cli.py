"""`python -m harness COMMAND ...` and the `harness` console script.

Each command lives in its own module under harness/commands and registers itself with @command; this file only
builds the parser and turns a HarnessError into one message and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable

from harness.core import cache
from harness.core.errors import HarnessError
from harness.core.registry import Registry

# name -> (help, add_arguments(parser), run(args) -> int|None)
COMMANDS: Registry[tuple[str, Callable, Callable]] = Registry("command", "harness.commands")


def command(name: str, help: str):
    """Register `run(args)` as a subcommand; the decorated function gets `.arguments` set by @arguments."""
    def deco(run):
        COMMANDS.register(name)((help, getattr(run, "add_arguments", lambda p: None), run))
        return run
    return deco


def arguments(add: Callable[[argparse.ArgumentParser], None]):
    def deco(run):
        run.add_arguments = add
        return run
    return deco


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=None, help="cache root (default: $HARNESS_CACHE or ./.cache/harness)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS.names():
        help_, add, run = COMMANDS.get(name)
        p = sub.add_parser(name, help=help_, description=help_)
        add(p)
        p.set_defaults(_run=run)
    return parser


def _quiet_libraries() -> None:
    """Our own progress bars say what runs; the libraries' per-file bars and advisories only add noise."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if "transformers" in sys.modules:
        sys.modules["transformers"].utils.logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> int:
    _quiet_libraries()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.cache_dir:
        cache.set_root(args.cache_dir)
    try:
        rc = args._run(args)
    except HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted; finished work is cached and will be reused", file=sys.stderr)
        return 130
    return int(rc or 0)
