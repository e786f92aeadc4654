"""MATH-500 (Lightman et al.'s 500-problem MATH test subset): problems with `answer` references, ids = unique_id.

Read from a local MATH500.jsonl (`--data PATH`, else ../shared/data/math500/MATH500.jsonl beside the checkout when
present), else from the Hugging Face hub (HuggingFaceH4/MATH-500) through `datasets`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from harness.core.errors import InputError
from harness.importers._common import Rec, iter_jsonl
from tasks import register_task
from tasks.base import Task, TaskProblem

HUB_DATASET = "HuggingFaceH4/MATH-500"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def read_jsonl(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    """(line, record) of a local JSON Lines file, bad input reported as file:line."""
    for line, value in iter_jsonl(path):
        yield line, Rec(value, path, line).data


def load_hub(name: str, *args: str, split: str, local_hint: str):
    """A hub dataset split, or an InputError that says what to pass instead when it cannot be had."""
    try:
        import datasets  # lazy: datasets (pyarrow, pandas) costs ~1 s at import
        return datasets.load_dataset(name, *args, split=split)
    except Exception as e:  # offline, no such split, hub errors: all mean "give a local file"
        raise InputError(f"no local data and cannot load '{name}' from the Hugging Face hub "
                         f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})",
                         field="--data", expected=local_hint) from None


def field(rec: dict, name: str, path, line: int | None) -> Any:
    if name not in rec:
        raise InputError("missing field", file=path, line=line, field=name, expected="present")
    v = rec[name]
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise InputError(f"wrong type {type(v).__name__}", file=path, line=line, field=name, expected="a string")
    return v


@register_task("math500")
class Math500(Task):
    name = "math500"
    default_path = SHARED_DATA / "math500" / "MATH500.jsonl"

    def _path(self) -> Path | None:
        if self.data:
            p = Path(self.data)
            if p.is_dir():
                p = p / "MATH500.jsonl"
            if not p.is_file():
                raise InputError("file not found", file=p, field="--data", expected="a MATH500.jsonl file")
            return p
        return self.default_path if self.default_path.is_file() else None

    def problems(self, split: str = "test") -> list[TaskProblem]:
        if split != "test":
            raise InputError(f"MATH-500 has no '{split}' split", field="split", expected="test")
        path = self._path()
        if path is not None:
            rows: Iterable[tuple[int | None, dict]] = read_jsonl(path)
        else:
            ds = load_hub(HUB_DATASET, split="test", local_hint="--data PATH to a local MATH500.jsonl")
            rows = ((None, dict(r)) for r in ds)
        out = []
        where = path if path is not None else HUB_DATASET
        for line, r in rows:
            meta = {k: r[k] for k in ("subject", "level") if k in r}
            out.append(TaskProblem(str(field(r, "unique_id", where, line)), str(field(r, "problem", where, line)),
                                   str(field(r, "answer", where, line)), meta))
        return out
