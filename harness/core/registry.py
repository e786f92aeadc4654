"""Registries that let tasks, reward models, importers and commands add themselves by name.

Adding a new one is one new module with a decorator; nothing central is edited. Each registry imports the
modules of its package lazily, the first time it is asked for a name, so modules must import torch and other heavy
libraries inside functions, not at the top (the CLI imports every command module to build its parser).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Generic, TypeVar

from harness.core.errors import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str | None = None):
        self.kind = kind
        self.package = package  # modules of this package are imported to populate the registry
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} '{name}' registered twice")
            self._items[name] = obj
            return obj
        return deco

    def _load(self) -> None:
        if self._loaded or self.package is None:
            return
        self._loaded = True
        pkg = importlib.import_module(self.package)
        # Direct children only: a sub-package registers from its __init__ and keeps its heavy modules lazy.
        for mod in pkgutil.iter_modules(pkg.__path__, prefix=self.package + "."):
            if not mod.name.rsplit(".", 1)[-1].startswith("_"):
                importlib.import_module(mod.name)

    def get(self, name: str) -> T:
        self._load()
        if name not in self._items:
            raise InputError(f"unknown {self.kind} '{name}'", expected="one of " + ", ".join(sorted(self._items)))
        return self._items[name]

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._items
