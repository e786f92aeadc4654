"""The typed run config every flow takes (harness.flow.run.FLOWS): one RunConfig per run, printed and saved with its
results, and the search options of the search flow. Both are frozen: a flow that needs other values (the folds' n
capped at the responses a problem) makes a new config with dataclasses.replace."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from harness.evaluation import leaderboard as lb
from reward_models import REWARD_MODELS, default_aggregation

DEFAULT_NS = [1, 2, 4, 8, 16, 32, 64]
DEFAULT_PROBLEMS = 200  # `harness search`: the first K test problems of each generator (15 min on 2 CPU cores)


def _help(text: str, **kw):
    return field(metadata={"help": text}, **kw)


@dataclass(frozen=True)
class SearchOptions:
    methods: list[str] = _help("beam | dvts | sample (plain sampling through the same decoder)",
                               default_factory=lambda: ["beam"])
    ns: list[int] = _help("solutions a problem", default_factory=lambda: [4, 16, 64])
    expand: int = _help("M: continuations of each kept partial solution", default=4)
    seed: int = _help("seed of the search's draws", default=0)
    max_problems: int | None = _help("the first K test problems of each generator's pool (None: all; `harness search "
                                     "--problems` takes a number)", default=DEFAULT_PROBLEMS)
    guide: str = _help("auto | incremental | rescore", default="auto")
    guide_aggregation: str | None = _help("how re-scored prefixes are ranked (default: last; sum for implicit PRMs)",
                                          default=None)
    temperature: float | None = _help("sampling temperature (default: the world's)", default=None)
    max_new_tokens: int | None = _help("token budget a response (default: the world's)", default=None)


@dataclass(frozen=True)
class RunConfig:
    rm: str = _help("reward model name (see `harness list`)")
    task: str = _help("task name", default="arith")
    scale: str = _help("arith world scale: default | smoke", default="default")
    seed: int = _help("seed of the world, training and bootstrap", default=0)
    generators: list[str] = _help("arith generators to evaluate", default_factory=lambda: ["weak", "mid", "strong"])
    pools: list[str] = _help("data-backed tasks: pools to score", default_factory=list)
    train_pool: str | None = _help("graded RM-training rollouts (with pools)", default=None)
    val_pool: str | None = _help("graded validation rollouts (with pools)", default=None)
    base: str | None = _help("base model the reward model is trained from", default=None)
    n: list[int] = _help("subset sizes", default_factory=lambda: list(DEFAULT_NS))
    aggregation: str | None = _help("step aggregation; None: the reward model's publisher's, else min", default=None)
    weights: str = _help("weighted-vote weights: sigmoid | raw | softmax", default="sigmoid")
    subsets: str = _help("random (expectation over n-subsets) | prefix (paper's code)", default="random")
    mc_samples: int = _help("Monte Carlo samples of the weighted vote's subsets", default=256)
    bootstrap: int = _help("bootstrap resamples of the confidence intervals", default=1000)
    rm_options: dict = _help("reward-model options (the keys of --set)", default_factory=dict)
    threads: int | None = _help("torch threads", default=None)
    results: str | None = _help("also write the run files under this folder's runs/", default=None)
    label: str | None = _help("names the run's files and table row (default: rm)", default=None)
    task_options: dict = _help("--data, --max-problems, --splits, ... of data tasks", default_factory=dict)
    rebuild: bool = _help("arith: the world built in the cache, not the shipped one", default=False)
    protocol: str = _help("harness | paper: the ImplicitPRM authors' eval (harness.flow.protocol)", default="harness")
    search: SearchOptions | None = _help("the search flow's options (`harness search`); None for every other flow. "
                                         "Not in to_dict(): the search report records them beside the config",
                                         default=None)

    def __post_init__(self):
        if self.aggregation is None:  # an unknown rm is check_config's to report
            object.__setattr__(self, "aggregation", default_aggregation(self.rm)[0])

    @property
    def name(self) -> str:
        return self.label or self.rm

    @cached_property
    def rm_config(self) -> Any:
        """The reward model's options typed and checked by its adapter (RewardModel.options_of), once a config:
        the config check reports a bad option through it, and reward_model() builds the adapter from it.
        `rm_options` keeps them as given (strings from --set), which run files record."""
        return REWARD_MODELS.get(self.rm).options_of(self.rm_options)

    def reward_model(self):
        """A new adapter of the run's reward model on its typed options (a copy: fit writes its checkpoint into
        the adapter's config)."""
        return REWARD_MODELS.get(self.rm)(config=self.rm_config)

    def selection(self, ns: list[int] | None = None) -> lb.Options:
        """The run's selection settings (every method, its aggregation, subsets, weights, Monte Carlo and bootstrap
        sizes, seed, protocol), checked; built here alone so the config check, the pools and folds reports and the
        search's baselines select alike. ns: the search's N values instead of the run's."""
        opts = lb.Options(methods=("best_of_n", "weighted_vote", "majority_vote", "pass_at_n"),
                          aggregations=(self.aggregation,), ns=self.n if ns is None else ns, subsets=self.subsets,
                          weights=self.weights, mc_samples=self.mc_samples, bootstrap=self.bootstrap, seed=self.seed,
                          protocol=self.protocol)
        opts.validate()
        return opts

    def to_dict(self) -> dict:
        """The config as run files record it (every field but `search`, in order)."""
        return {k: v for k, v in asdict(self).items() if k != "search"}

    def command(self) -> str:
        if self.search is not None:
            return search_command(self)
        parts = ["python -m harness run", f"--rm {self.rm}"]
        if self.task != "arith":
            parts.append(f"--task {self.task}")
        if self.scale != "default":
            parts.append(f"--scale {self.scale}")
        if self.seed:
            parts.append(f"--seed {self.seed}")
        if self.rebuild:
            parts.append("--rebuild")
        if self.protocol != "harness":
            parts.append(f"--protocol {self.protocol}")
        for k, v in sorted(self.rm_options.items()):
            parts.append(f"--set {k}={v}")
        if self.aggregation != default_aggregation(self.rm)[0]:
            parts.append(f"--aggregation {self.aggregation}")
        if self.label:
            parts.append(f"--label {self.label}")
        if self.base and not self.pools:
            parts.append(f"--base {self.base}")
        for k, v in sorted(self.task_options.items()):
            parts.append(f"--{k.replace('_', '-')} " + (",".join(v) if isinstance(v, list) else str(v)))
        return " ".join(parts)


def search_command(cfg: RunConfig) -> str:
    """The `harness search` command line of a search run (its non-default options)."""
    opts = cfg.search
    parts = ["python -m harness search", f"--rm {cfg.rm}", f"--method {','.join(opts.methods)}",
             f"--n {','.join(map(str, opts.ns))}"]
    if opts.expand != 4:
        parts.append(f"--expand {opts.expand}")
    if opts.max_problems is None:  # every problem: the command line has no spelling for it, so say so
        parts.append("--problems <all: no limit, set from Python>")
    elif opts.max_problems != DEFAULT_PROBLEMS:
        parts.append(f"--problems {opts.max_problems}")
    if opts.seed:
        parts.append(f"--search-seed {opts.seed}")
    if cfg.generators != ["weak", "mid", "strong"]:
        parts.append(f"--generators {','.join(cfg.generators)}")
    for k, v in sorted(cfg.rm_options.items()):
        parts.append(f"--set {k}={v}")
    return " ".join(parts)
