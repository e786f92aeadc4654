"""Functions the pack's YAML tasks name with `!function utils.*` (lm-eval imports this file by path)."""

from __future__ import annotations

import ast
from pathlib import Path

import lm_eval.tasks

import harness.flow.lm_eval_filter  # noqa: F401  (registers the keep_all and reward_rerank filters by name)
from harness.core.prompting import build_prompt
from harness.flow.lm_eval_filter import task_of
from reward_models.lm.loading import load_tokenizer
from tasks import TASKS, get_task


def _rows(task: str, split: str = "test", prompt=None, **options) -> list[dict]:
    t = get_task(task, **options)
    return [{"id": p.id, "task": task, "problem": p.problem, "reference": p.reference,
             "prompt": prompt(p.problem) if prompt else p.problem} for p in t.problems(split)]


def _dataset(rows):
    import datasets  # lazy: datasets (pyarrow, pandas) costs ~1 s at import
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def arith_dataset(**metadata):
    """The shipped world's test problems, prompted as its generators were (their chat template)."""
    tok = load_tokenizer(TASKS.get("arith").generator_path(metadata.get("generator", "mid")))
    return _dataset(_rows("arith", prompt=lambda q: build_prompt(tok, q)))


def math500_dataset(**metadata):
    return _dataset(_rows("math500", data=metadata.get("data")))


def gsm8k_dataset(**metadata):
    return _dataset(_rows("gsm8k", data=metadata.get("data")))


def _minerva_examples() -> list[dict]:
    """The four Minerva examples of lm-eval's minerva_math, read from its utils.py without importing it (its import
    asserts a pinned antlr4 version that math-verify does not need)."""
    tree = ast.parse((Path(lm_eval.tasks.__file__).parent / "minerva_math" / "utils.py").read_text(encoding="utf-8"))
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "list_fewshot_samples")
    return ast.literal_eval(next(n for n in ast.walk(fn) if isinstance(n, ast.Return)).value)


def minerva_doc_to_text(doc: dict) -> str:
    return "Problem:\n" + doc["problem"] + "\n\nSolution:"  # lm-eval's minerva_math doc_to_text


def minerva_fewshot() -> list[dict]:
    return _minerva_examples()


def extract(doc: dict, text: str) -> str | None:
    """The harness's answer extraction for the doc's task (arith: its final-line forms; else boxed, 'answer is')."""
    return task_of(doc).extract_answer(text)


def is_correct(doc: dict, text: str) -> bool:
    return task_of(doc).is_correct(text, doc["reference"])


def process_results(doc: dict, results: list[str]) -> dict[str, int]:
    """exact_match: the (first) filtered response graded as the harness grades it."""
    return {"exact_match": int(is_correct(doc, results[0]))}
