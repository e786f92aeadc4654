"""The typed report of a run, one frozen dataclass per flow (harness.flow.run.FLOWS): what `run` prints and what its
run files record. `to_dict()` is the run file's JSON object (its keys in the file's order); the report also reads as
that mapping (report["rows"]), with "written" (the paths of its files) beside it. `run_file()` gives what the one
writer (harness.flow.report.write_run) puts around the tables: the file stem, heading, intro and the JSON text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from tabulate import tabulate

from harness.core import cache
from harness.evaluation import leaderboard as lb
from harness.evaluation import process_rewards, search_report, step_eval
from harness.evaluation.per_problem import FIELD, to_json
from harness.flow.config import RunConfig, SearchOptions
from harness.flow.timings import Timings
from reward_models import default_aggregation
from tasks import TASKS


def _help(text: str, **kw):
    return field(metadata={"help": text}, **kw)


@dataclass(frozen=True)
class RunFile:
    stem: str = _help("file name without .md / .json")
    heading: str = _help("the .md's title")
    intro: str = _help("the .md's text before the tables (ends in a blank line, or empty)")
    body_md: str = _help("the tables")
    body_json: str = _help("the .json's text")
    tail: str = _help("the .md's text after the timings line (the search flow's plot)", default="")
    extra: tuple[Path, ...] = _help("other files written beside them (the plot)", default=())


def with_per_problem(text: str, block: dict | None) -> str:
    """An indented JSON object's text with the per-problem block appended as its last field, each vector on one
    line (harness.evaluation.per_problem); the text unchanged without a block."""
    if not block:
        return text
    body = text.rstrip()
    assert body.endswith("}"), "an indented JSON object"
    return body[:-1].rstrip() + f',\n "{FIELD}": ' + to_json(block) + "\n}\n"


def results_stem(task: str, rm: str, task_options: dict, defaults: dict) -> str:
    """<task>-<rm>, with the non-default task options appended so a small run never overwrites the full one."""
    extra = [k.replace("_", "") + ("+".join(map(str, v)) if isinstance(v, list) else str(v))
             for k, v in sorted(task_options.items()) if k in defaults and v != defaults[k]]
    return "-".join([task, rm, *extra])


@dataclass(frozen=True, kw_only=True)
class RunReport(Mapping):
    """What every flow's report has; a flow's own fields follow in its subclass."""
    flow: ClassVar[str] = ""  # the FLOWS entry whose report it is
    config: RunConfig = _help("the run's config")
    command: str = _help("the command line that repeats the run")
    timings: Timings = _help("wall time of the run's stages", default=Timings())
    written: tuple[str, ...] = _help("the run files written (cache and --results)", default=())

    def to_dict(self) -> dict:
        raise NotImplementedError

    def run_file(self) -> RunFile:
        raise NotImplementedError

    def render(self, fmt: str = "table") -> str:
        raise NotImplementedError

    def _view(self) -> dict:
        return {**self.to_dict(), "written": list(self.written)}

    def __getitem__(self, key: str) -> Any:
        return self._view()[key]

    def __iter__(self):
        return iter(self._view())

    def __len__(self) -> int:
        return len(self._view())


@dataclass(frozen=True, kw_only=True)
class SelectionReport(RunReport):
    """The pools flow: selection rows and ROC AUCs of the scored pools, and the step-level figures."""
    flow: ClassVar[str] = "pools"
    results: list = _help("the PoolResults the tables are drawn from (not written)", repr=False)
    rows: list[dict] = _help("selection rows (harness.evaluation.leaderboard.rows_of)")
    auc: list[dict] = _help("pooled and within-problem ROC AUC of each pool, with CIs")
    per_problem: dict | None = _help("per-problem accuracies (harness.evaluation.per_problem)", default=None)
    steps: str | None = _help("which steps were scored (reward models with a `steps` option)", default=None)
    compute: dict | None = _help("FLOPs it took to develop the reward model", default=None)
    process: dict | None = _help("step-level report (harness.evaluation.process_rewards)", default=None)
    world: str | None = _help("the arith world measured", default=None)

    def head_dict(self) -> dict:
        return {"command": self.command, "rows": self.rows, "auc": self.auc, "config": self.config.to_dict(),
                "timings": self.timings.to_dict(), "compute": self.compute,
                **({"steps": self.steps} if self.steps is not None else {}),
                **({"process": self.process} if self.process else {}),
                **({"world": self.world} if self.world else {})}

    def to_dict(self) -> dict:
        return {**self.head_dict(), **({FIELD: self.per_problem} if self.per_problem else {})}

    def json_text(self) -> str:
        return with_per_problem(json.dumps(self.head_dict(), indent=1) + "\n", self.per_problem)

    def render(self, fmt: str = "table") -> str:
        if fmt == "json":
            return self.json_text()
        text = lb.render(self.results, "markdown" if fmt == "markdown" else "table")

        def ci(a, k):
            lo, hi = a.get(f"{k}ci_low"), a.get(f"{k}ci_high")
            return "-" if lo is None else f"[{lo:.3f}, {hi:.3f}]"

        def val(x):
            return "-" if x is None else f"{x:.3f}"

        auc_rows = [[a["generator"], a["rm"], a["aggregation"], val(a["auc"]), ci(a, ""), val(a.get("within_auc")),
                     ci(a, "within_"), a["responses"]] for a in self.auc]
        head = ["generator", "rm", "agg", "ROC AUC pooled", "95% CI", "within-problem AUC", "95% CI", "responses"]
        text += "\n" + tabulate(auc_rows, head, tablefmt="github" if fmt == "markdown" else "simple") + "\n"
        if self.process:  # step-level: does the reward model find the first wrong step?
            text += "\n" + process_rewards.render(self.process, fmt)
        return text

    def run_file(self) -> RunFile:
        cfg = self.config
        agg, source = default_aggregation(cfg.rm)
        paper = cfg.protocol == "paper"  # its own files: the two protocols' numbers never mix
        intro = (f"Accuracy in % (95% bootstrap CIs over problems are in the JSON beside this file); best-of-N and "
                 f"weighted vote use `{cfg.aggregation}` step aggregation"
                 + (f" ({source})" if cfg.aggregation == agg else "") + f", weighted vote uses "
                 f"{cfg.weights} weights; n-subsets: {cfg.subsets}."
                 + ("" if self.steps is None else f" Steps scored: `{self.steps}` (--set steps=harness | publisher).")
                 + "\n\n"
                 + ("Protocol: paper (the ImplicitPRM authors' eval/bon_eval.py: first n responses, ties to the first "
                    "response or answer, answerless responses voting as one class; harness.selection.paper).\n\n"
                    if paper else ""))
        return RunFile(stem=f"{cfg.task}-{cfg.scale}-{cfg.name}" + (f"-s{cfg.seed}" if cfg.seed else "")
                       + ("-paper" if paper else ""),
                       heading=f"{cfg.name} on {cfg.task} ({cfg.scale} scale, seed {cfg.seed})", intro=intro,
                       body_md=self.render("markdown"), body_json=self.json_text())


def _sorted_deep(x):
    """What json.dumps(sort_keys=True) writes, as objects: every mapping's keys sorted."""
    if isinstance(x, dict):
        return {k: _sorted_deep(x[k]) for k in sorted(x)}
    if isinstance(x, (list, tuple)):
        return [_sorted_deep(v) for v in x]
    return x


@dataclass(frozen=True, kw_only=True)
class FoldsReport(SelectionReport):
    """The folds flow (cross-fitting): the selection report over all problems, and its folds. Its file keeps the
    sorted keys it has always had (per_problem last), so a re-run writes the committed files again."""
    flow: ClassVar[str] = "folds"
    folds: list[dict] = _help("each fold's training and test part, checkpoint and score key")
    halves: dict = _help("each part's problems and pool file")
    base: str | None = _help("the base model trained from")

    @classmethod
    def extend(cls, report: SelectionReport, **kw) -> FoldsReport:
        return cls(**{**{f.name: getattr(report, f.name) for f in fields(report)}, **kw})

    def head_dict(self) -> dict:
        return _sorted_deep(json.loads(json.dumps({**super().head_dict(), "folds": self.folds, "halves": self.halves,
                                                   "base": self.base})))

    def json_text(self) -> str:
        block = json.loads(to_json(self.per_problem)) if self.per_problem else None  # as the file reads back
        return with_per_problem(cache.json_text(self.head_dict(), indent=1), block)

    def run_file(self) -> RunFile:
        cfg = self.config
        return RunFile(stem=results_stem(cfg.task, cfg.name, cfg.task_options, TASKS.get(cfg.task).option_defaults()),
                       heading=f"{cfg.rm} on {cfg.task} (cross-fitted)", body_md=self.render("markdown"),
                       body_json=self.json_text(),
                       intro="Two folds: trained on half A, scored half B, and the reverse; every problem is scored "
                             "by the model that did not train on it. Pass@1 is the random-choice mean accuracy.\n\n")


@dataclass(frozen=True, kw_only=True)
class StepReport(RunReport):
    """The steps flow (ProcessBench): the first wrong step predicted by a threshold tuned on one split."""
    flow: ClassVar[str] = "steps"
    rm: str = _help("reward model name")
    threshold: float = _help("the step-score threshold tuned on `tuned_on`")
    tuned_on: str = _help("the split the threshold was tuned on")
    splits: dict = _help("each split's figures (harness.evaluation.step_eval)")
    predictions: dict = _help("each sample's predicted first wrong step beside its label, by split")
    steps: str | None = _help("which steps were scored (reward models with a `steps` option)", default=None)
    scorer: dict = _help("what scored the steps (model, reference, checkpoint)")
    samples: dict = _help("samples scored, by split")
    left_out: dict = _help("samples left out, by split")
    notes: list[str] = _help("notes printed under the table", default_factory=list)

    def to_dict(self) -> dict:
        return {"kind": "processbench", "rm": self.rm, "command": self.command, "config": self.config.to_dict(),
                "threshold": self.threshold, "tuned_on": self.tuned_on, "splits": self.splits,
                "predictions": self.predictions, **({"steps": self.steps} if self.steps is not None else {}),
                "scorer": self.scorer, "samples": self.samples, "left_out": self.left_out, "notes": self.notes,
                "timings": self.timings.to_dict()}

    def render(self, fmt: str = "table") -> str:
        return step_eval.render(self.to_dict(), fmt)

    def run_file(self) -> RunFile:
        cfg = self.config
        task = TASKS.get(cfg.task)
        return RunFile(stem=results_stem(task.name, cfg.name, cfg.task_options, task().option_defaults())
                       + ("-paper" if cfg.protocol == "paper" else ""),
                       heading=f"{cfg.rm} on {task.title}", intro="", body_md=self.render("markdown"),
                       body_json=self.render("json"))


@dataclass(frozen=True, kw_only=True)
class SearchReport(RunReport):
    """The search flow: search pools beside best-of-N of the same reward model, by generator."""
    flow: ClassVar[str] = "search"
    search: SearchOptions = _help("the search's options")
    world: str = _help("the arith world's key")
    rm: str = _help("reward model name")
    temperature: float = _help("sampling temperature")
    max_new_tokens: int = _help("token budget a response")
    generators: dict = _help("by generator: rows (sampled and searched), cost a problem, problems")
    guide: str | None = _help("the guide's class (None: only sampling)", default=None)
    rm_params: list | None = _help("parameters the guide runs a token through", default=None)

    def to_dict(self) -> dict:
        return {"kind": "search", "command": self.command, "config": self.config.to_dict(),
                "search": asdict(self.search), "world": self.world, "rm": self.rm, "temperature": self.temperature,
                "max_new_tokens": self.max_new_tokens, "generators": self.generators,
                "timings": self.timings.to_dict(), "guide": self.guide, "rm_params": self.rm_params}

    def render(self, fmt: str = "table") -> str:
        return search_report.render(self.to_dict())

    def run_file(self) -> RunFile:
        """With --results, the plot in DIR/plots/ too (results/search.md reads them)."""
        d, results = self.to_dict(), self.config.results
        stem = f"search-{self.rm}-" + "-".join(self.search.methods)
        intro = (f"Arith world {self.world}, temperature {self.temperature}, {self.max_new_tokens} tokens a response "
                 f"at most, M = {self.search.expand} continuations of each kept partial solution, guide {self.guide}. "
                 f"Accuracy in % with 95% bootstrap CIs over problems; compute is the mean a problem.\n\n")
        png = search_report.plot(d, Path(results) / "plots" / f"{stem}.png") if results else None
        return RunFile(stem=stem, heading=f"Reward-guided search: {self.rm} ({', '.join(self.search.methods)})",
                       intro=intro, body_md=self.render(), body_json=json.dumps(d, indent=1) + "\n",
                       tail=f"\n![accuracy against N and compute](../plots/{png.name})\n" if png else "",
                       extra=(png,) if png else ())
