"""tox's reward-model envs, read from the harness's recipes (harness.paper.recipes.tox_envs) instead of a list kept
in tox.ini: one env per reward model with a paper row (`tox -e implicit_ce`), and `baselines`. A new adapter that
declares a `paper_row` is a tox env without an edit here or in tox.ini.

tox (4.29 or later) loads this file as its in-tree plugin. It reads the registry from the checkout beside it, which
imports numpy but no model library.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tox.config.loader.memory import MemoryLoader
from tox.config.types import Command
from tox.plugin import impl

ROOT = Path(__file__).resolve().parent


def env_specs() -> dict[str, tuple[str, list[list[str]]]]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from harness.paper.recipes import tox_envs
    return tox_envs()


@impl
def tox_extend_envs():
    return tuple(env_specs())


@impl
def tox_add_core_config(core_conf, state) -> None:
    posargs = list(state.conf.pos_args(None) or ())
    for name, (description, commands) in env_specs().items():
        cmds = [Command([a for arg in cmd for a in (posargs if arg == "{posargs}" else [arg])]) for cmd in commands]
        state.conf.memory_seed_loaders[name].append(MemoryLoader(description=description, commands=cmds))
