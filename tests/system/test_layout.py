"""The floors of the layout (README.md, Layout: The floors), read statically from every import of the project's
modules (module-level and function-local, `import x` and `from x import y`, relative or absolute): each module
imports only its own floor or the floors below, no modules import each other in a circle, no module grows past
~400 lines and no function or method (benchmarks' too) past 80, so that each is read in one sitting. The tests
mirror the tree: tests/<path>/test_<module>.py tests <path>/<module>.py. The design is
described inside the repository: no file cites a design document that is not in it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from _paths import REPO as ROOT

PACKAGES = ("harness", "tasks", "reward_models")

# Lowest first. A module belongs to the floor of the longest prefix that names it.
FLOORS = [
    ("core", ["harness.core", "harness"]),
    ("stages", ["harness.grading", "harness.generation", "harness.scoring", "harness.selection",
                "harness.evaluation", "harness.importers"]),
    ("tasks", ["tasks"]),
    ("reward models", ["reward_models"]),
    ("flow", ["harness.flow"]),
    ("paper", ["harness.paper"]),
    ("application", ["harness.commands", "harness.cli", "harness.__main__"]),
]
MAX_LINES = 400
MAX_FUNCTION_LINES = 80
FUNCTION_DIRS = PACKAGES + ("benchmarks",)
# Functions allowed past MAX_FUNCTION_LINES for now, "path::name": each with why. Empty: none is.
LONG_FUNCTIONS_ALLOWED: set[str] = set()


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for f in sorted((root / pkg).rglob("*.py")):
            parts = f.relative_to(root).with_suffix("").parts
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return mods


def imports_of(name: str, path: Path, mods: dict[str, Path]) -> dict[str, int]:
    """{imported project module: first line}, every import statement of the file, wherever it sits."""
    def resolve(dotted: str) -> str | None:
        while dotted and dotted not in mods:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            # `from pkg import mod` imports pkg.mod; `from mod import name` imports mod
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
        for t in targets:
            r = resolve(t)
            if r and r != name:
                out.setdefault(r, node.lineno)
    return out


def floor_of(module: str) -> int:
    best, floor = -1, None
    for i, (_, prefixes) in enumerate(FLOORS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, floor = len(p), i
    return floor


def graph(root: Path = ROOT) -> tuple[dict[str, dict[str, int]], dict[str, Path]]:
    mods = project_modules(root)
    return {m: imports_of(m, f, mods) for m, f in mods.items()}, mods


def upward_imports(edges, mods, root: Path = ROOT) -> list[str]:
    bad = []
    for a, targets in edges.items():
        for b, line in targets.items():
            if floor_of(b) > floor_of(a):
                bad.append(f"{mods[a].relative_to(root)}:{line}: {a} ({FLOORS[floor_of(a)][0]}) imports {b} "
                           f"({FLOORS[floor_of(b)][0]})")
    return bad


def circles(edges) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_every_module_has_a_floor():
    assert [m for m in project_modules() if floor_of(m) is None] == []


def test_no_module_imports_a_higher_floor():
    edges, mods = graph()
    assert upward_imports(edges, mods) == []


def test_no_import_circles():
    edges, _ = graph()
    assert circles(edges) == []


def task_internal_imports(edges, mods, root: Path = ROOT, task: str = "tasks.arith") -> list[str]:
    """Imports of a task's own modules (`task` or below) by package modules outside tasks/: they reach a task
    through the registry and the Task protocol only (tasks/__init__.py, tasks/base.py). tests/ and benchmarks/
    are not package modules: they test and measure the world itself."""
    bad = []
    for a, targets in edges.items():
        if a.split(".")[0] == "tasks":
            continue
        for b, line in targets.items():
            if b == task or b.startswith(task + "."):
                bad.append(f"{mods[a].relative_to(root)}:{line}: {a} imports {b}")
    return bad


def test_no_package_module_outside_tasks_imports_the_arith_world():
    edges, mods = graph()
    assert task_internal_imports(edges, mods) == []


def package_of(module: str) -> str:
    """The unit of the package-level check: harness's sub-packages, reward_models' lm/ and training/, tasks' arith/,
    and the rest of each top-level package (its adapters or task files) as one."""
    p = module.split(".")
    if p[0] == "harness":
        return ".".join(p[:2])
    return ".".join(p[:2]) if len(p) > 1 and p[1] in ("lm", "training", "arith") else p[0]


def test_no_package_circles():
    """Within a floor too, packages import one way: e.g. reward_models/training/ never imports an adapter."""
    edges, _ = graph()
    packages: dict[str, dict[str, int]] = {}
    for a, targets in edges.items():
        packages.setdefault(package_of(a), {})
        for b, line in targets.items():
            if package_of(a) != package_of(b):
                packages[package_of(a)][package_of(b)] = line
    assert circles(packages) == []


# Imports of the project's modules that stay inside a function, "path::function" -> why (a method or nested function
# is named by its class or function: "path::Class.method"). Every other one sits at the top of its module, where a
# reader sees what the module depends on. One stays in a function only where hoisting it would make a circle at
# import, or would load a heavy library (torch, sympy) in a light command's start-up: the CLI imports every command
# module, and through them most of the package, to build its parser (`harness list`, `harness --help`).
TORCH = "the module it imports loads torch at import (~2 s); light commands must not pay that"
GRADING = ("harness.grading loads sympy and math_verify at import (~0.5 s); the task registry, which every command "
           "loads, must not")
FUNCTION_IMPORTS_ALLOWED = {
    "harness/flow/search/guides.py::IncrementalGuide.__init__": TORCH,
    "harness/flow/search/guides.py::_IncrementalState.__init__": TORCH,
    "harness/flow/search/guides.py::_IncrementalState.advance": TORCH,
    "harness/generation/pools.py::generate_pool": TORCH,
    "harness/generation/search/tree.py::_search": TORCH,
    "reward_models/training/mc_labels.py::policy_sampler.sample": TORCH,
    "tasks/arith/world.py::_train_generators": TORCH + " (and transformers, for the tokenizer)",
    "tasks/arith/world_sampling.py::_sample_chunk": TORCH,
    "tasks/arith/problems.py::grade_pool": GRADING,
    "tasks/base.py::Task.extract_answer": GRADING,
    "tasks/base.py::Task.answer_key": GRADING,
    "tasks/base.py::Task.is_correct": GRADING,
    "tasks/base.py::Task.grade_pool": GRADING,
}


def function_imports(root: Path = ROOT) -> dict[str, list[str]]:
    """{"path::function": ["line: module", ...]} of every import of a project module (absolute or relative) inside
    a function or method, nested ones too, under PACKAGES."""
    out: dict[str, list[str]] = {}

    def visit(node, path: str, names: list[str], in_function: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, path, names + [child.name], True)
            elif isinstance(child, ast.ClassDef):
                visit(child, path, names + [child.name], in_function)
            elif isinstance(child, (ast.Import, ast.ImportFrom)) and in_function:
                modules = [a.name for a in child.names] if isinstance(child, ast.Import) else \
                    ["." * child.level + (child.module or "")]
                for m in modules:
                    if m.startswith(".") or m.split(".")[0] in PACKAGES:
                        out.setdefault(f"{path}::{'.'.join(names)}", []).append(f"{child.lineno}: {m}")
            else:
                visit(child, path, names, in_function)

    for pkg in PACKAGES:
        for f in sorted((root / pkg).rglob("*.py")):
            visit(ast.parse(f.read_text(encoding="utf-8"), str(f)), f.relative_to(root).as_posix(), [], False)
    return out


def test_project_imports_sit_at_the_top_of_their_module():
    """A function imports a module of the project only where FUNCTION_IMPORTS_ALLOWED says why; no entry is stale."""
    found = function_imports()
    assert {k: v for k, v in found.items() if k not in FUNCTION_IMPORTS_ALLOWED} == {}
    assert [k for k in FUNCTION_IMPORTS_ALLOWED if k not in found] == []


def test_the_import_check_sees_project_imports_inside_functions(tmp_path):
    """The check itself: absolute and relative project imports in a function, a method and a nested function are
    caught; module-level ones, `if TYPE_CHECKING` ones and a function's import of another library are not."""
    package_tree(tmp_path)
    (tmp_path / "harness" / "run.py").write_text(
        "import json\nfrom typing import TYPE_CHECKING\n\nfrom harness import core\n\nif TYPE_CHECKING:\n"
        "    from tasks import base\n\n\ndef f():\n    import numpy\n    from reward_models import orm\n\n\n"
        "class A:\n    def m(self):\n        def inner():\n            from . import cache\n        import tasks.base\n")
    assert function_imports(tmp_path) == {"harness/run.py::f": ["12: reward_models"],
                                          "harness/run.py::A.m.inner": ["18: ."],
                                          "harness/run.py::A.m": ["19: tasks.base"]}


def test_no_module_is_a_giant():
    long = {str(f.relative_to(ROOT)): n for f in project_modules().values()
            if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def long_functions(root: Path = ROOT, limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """{"path::name": lines} of every function or method (nested ones too) longer than `limit` lines, from its `def`
    line to its last line, under FUNCTION_DIRS."""
    out = {}
    for folder in FUNCTION_DIRS:
        for f in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"), str(f))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    n = node.end_lineno - node.lineno + 1
                    if n > limit:
                        out[f"{f.relative_to(root).as_posix()}::{node.name}"] = n
    return out


def test_no_function_is_a_giant():
    """Every function and method is readable in one sitting (at most 80 lines), as the training loop is."""
    assert {k: n for k, n in long_functions().items() if k not in LONG_FUNCTIONS_ALLOWED} == {}


def test_the_function_check_sees_long_functions_and_methods(tmp_path):
    for folder in FUNCTION_DIRS:
        (tmp_path / folder).mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(79))  # with its def: 80 lines, the most allowed
    (tmp_path / "harness" / "long.py").write_text(f"def fits():\n{body}\n\ndef too_long():\n{body}    x = 0\n")
    (tmp_path / "benchmarks" / "bench.py").write_text("class A:\n    async def method(self):\n"
                                                      + body.replace("    ", "        ") + "        x = 0\n")
    assert long_functions(tmp_path) == {"harness/long.py::too_long": 81, "benchmarks/bench.py::method": 81}


def package_tree(root: Path) -> None:
    """An empty package folder for each of PACKAGES under `root`, for the checks' own tests."""
    for pkg in PACKAGES:
        (root / pkg).mkdir()
        (root / pkg / "__init__.py").write_text("")


def test_the_check_sees_function_local_upward_imports_and_circles(tmp_path):
    """The check itself: a function-local upward import, a relative one and a two-module circle are all caught."""
    package_tree(tmp_path)
    (tmp_path / "harness" / "core").mkdir()
    (tmp_path / "harness" / "core" / "__init__.py").write_text("")
    (tmp_path / "harness" / "core" / "cache.py").write_text("def f():\n    from reward_models import loop\n")
    (tmp_path / "reward_models" / "loop.py").write_text("from . import orm\n")
    (tmp_path / "reward_models" / "orm.py").write_text("import reward_models.loop\n")
    edges, mods = graph(tmp_path)
    assert edges["harness.core.cache"] == {"reward_models.loop": 2}
    assert edges["reward_models.loop"] == {"reward_models.orm": 1}
    assert [e.split(": ", 1)[1] for e in upward_imports(edges, mods, tmp_path)] == [
        "harness.core.cache (core) imports reward_models.loop (reward models)"]
    assert circles(edges) == [["reward_models.loop", "reward_models.orm"]]


def test_the_check_sees_an_import_of_a_task_module_from_outside_tasks(tmp_path):
    """The check itself: a function-local `from tasks.arith.world import x` and a `from tasks import arith` in
    harness are caught; tasks.arith importing itself and anyone importing the registry (tasks) are not."""
    package_tree(tmp_path)
    (tmp_path / "tasks" / "arith").mkdir()
    (tmp_path / "tasks" / "arith" / "__init__.py").write_text("from tasks.arith import world\n")
    (tmp_path / "tasks" / "arith" / "world.py").write_text("")
    (tmp_path / "harness" / "run.py").write_text("import tasks\n\ndef f():\n    from tasks.arith.world import x\n")
    (tmp_path / "reward_models" / "mc.py").write_text("from tasks import arith\n")
    edges, mods = graph(tmp_path)
    assert task_internal_imports(edges, mods, tmp_path) == [
        "harness/run.py:4: harness.run imports tasks.arith.world",
        "reward_models/mc.py:1: reward_models.mc imports tasks.arith"]


@pytest.mark.parametrize("module,floor", [("harness.core.cache", "core"), ("harness.scoring", "stages"),
                                          ("harness.flow.search.guides", "flow"), ("tasks.arith.world", "tasks"),
                                          ("reward_models.training.loop", "reward models"),
                                          ("harness.commands.run", "application")])
def test_floors_are_read_by_longest_prefix(module, floor):
    assert FLOORS[floor_of(module)][0] == floor


def test_no_file_cites_a_design_document_outside_the_repository():
    """The architecture lives in README.md (Layout); an external design document, never shipped, is not cited."""
    import subprocess
    root = Path(__file__).resolve().parents[2]
    external = "DESIGN" + ".md"  # spelled apart so this file does not cite it
    try:
        files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        files = "\n".join(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".git" not in p.parts)
    citing = []
    for name in files.splitlines():
        path = root / name
        if path.suffix in (".py", ".md", ".html", ".ini", ".toml", ".yaml", ".txt", "") and path.is_file():
            try:
                if external in path.read_text(encoding="utf-8"):
                    citing.append(name)
            except UnicodeDecodeError:
                continue
    assert citing == []


# --- tests mirror the tree --------------------------------------------------------------------------------------------

# Test files that test a chain across several modules, named for no one of them (each says why it is one file).
CROSS_CUTTING = {
    "core/test_reliability.py": "the cache's checksums, chunked resumable scoring and locks, through every stage "
                                "that writes the cache (scores, checkpoints, world pools, grading verdicts)",
    "flow/test_lm_eval.py": "the harness inside lm-eval: the task pack (lm_eval_pack/) and its rerank filter "
                            "(lm_eval_filter.py) run together by lm-eval",
    "importers/test_qwen_leaderboard.py": "the acceptance path on real data: import, then `leaderboard --format json`",
    "reward_models/test_released.py": "every released adapter (qwen_prm, skywork_prm, rlhflow_prm, hf_orm, "
                                      "implicitprm_release) against its documented recipe",
    "reward_models/test_released_publisher.py": "the same adapters' `steps=publisher` against each publisher's code",
}
# tests/system/ tests the whole (the CLI, bad input, the layout, a one-file adapter), not one module.
WHOLE = ("system",)


def mirrored_package(rel: Path, root: Path = ROOT) -> Path | None:
    """The package folder tests/<rel>/ mirrors: harness/<rel> (harness's sub-packages) or <rel> (the other
    top-level packages); None if neither is a package."""
    for pkg in (root / "harness" / rel, root / rel):
        if (pkg / "__init__.py").is_file():
            return pkg
    return None


def misplaced_tests(root: Path = ROOT, cross_cutting=CROSS_CUTTING) -> list[str]:
    """Every test folder mirrors a package folder, and every test_<module>.py in it names a module of that folder,
    a sub-package of it, or the folder itself (its __init__); helpers start with "_"."""
    tests, bad = root / "tests", []
    for f in sorted(tests.rglob("*.py")):
        rel = f.relative_to(tests)
        if rel.parts[0] in WHOLE or "__pycache__" in rel.parts or f.name == "conftest.py" \
                or f.name.startswith("_") or rel.as_posix() in cross_cutting:
            continue
        pkg = mirrored_package(rel.parent, root)
        if pkg is None:
            bad.append(f"tests/{rel}: tests/{rel.parent.as_posix()}/ mirrors no package folder")
        elif not f.name.startswith("test_"):
            bad.append(f"tests/{rel}: neither test_<module>.py nor a helper starting with '_'")
        else:
            module = f.stem.removeprefix("test_")
            if not ((pkg / f"{module}.py").is_file() or (pkg / module / "__init__.py").is_file()
                    or module == pkg.name):
                bad.append(f"tests/{rel}: no {pkg.relative_to(root).as_posix()}/{module}.py or sub-package "
                           f"{module}/ to test")
    return bad


def test_tests_mirror_the_tree():
    assert misplaced_tests() == []
    assert [f for f in CROSS_CUTTING if not (ROOT / "tests" / f).is_file()] == []  # no stale entries


def test_the_mirror_check_catches_a_misplaced_test(tmp_path):
    """The check itself: a module's test in another package's folder, a folder mirroring nothing and a helper not
    marked as one are caught; a module's, a sub-package's and a package's own test, helpers and system/ are not."""
    for pkg in ("harness", "harness/core", "harness/generation", "harness/generation/search", "reward_models",
                "reward_models/lm"):
        (tmp_path / pkg).mkdir(parents=True)
        (tmp_path / pkg / "__init__.py").write_text("")
    for module in ("harness/core/cache.py", "harness/generation/sampling.py", "reward_models/lm/loading.py"):
        (tmp_path / module).write_text("")
    for test in ("core/test_cache.py", "core/test_sampling.py", "generation/test_search.py",
                 "generation/test_generation.py", "reward_models/lm/test_loading.py", "reward_models/test_lm.py",
                 "reward_models/test_loading.py", "search/test_tree.py", "core/helpers.py", "core/_helpers.py",
                 "system/test_cli.py", "conftest.py", "_paths.py", "flow/test_lm_eval.py"):
        (tmp_path / "tests" / test).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "tests" / test).write_text("")
    assert misplaced_tests(tmp_path, cross_cutting={"flow/test_lm_eval.py": "allowed"}) == [
        "tests/core/helpers.py: neither test_<module>.py nor a helper starting with '_'",
        "tests/core/test_sampling.py: no harness/core/sampling.py or sub-package sampling/ to test",
        "tests/reward_models/test_loading.py: no reward_models/loading.py or sub-package loading/ to test",
        "tests/search/test_tree.py: tests/search/ mirrors no package folder",
    ]
