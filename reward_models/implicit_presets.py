"""Released implicit PRMs by name: a policy, its reference, the coefficient and the layout their authors score with.

`implicitprm_release` (Yuan et al. 2024's checkpoints; their eval/bon_eval.sh and prm_eval_utils.py):
    policy Windy0822/ImplicitPRM_DPO (release=dpo) or Windy0822/ImplicitPRM_CE (release=ce),
    reference meta-llama/Llama-3.1-8B-Instruct, coefficient 0.001 (their code's `coef`, in place of beta);
    each step re-prefixed "Step k: " after "Step" inside it is lower-cased, steps joined by blank lines, as a chat
    [user: problem, assistant: steps].
`eurus_prm` (PRIME-RL/EurusPRM-Stage1 / -Stage2, release=stage1|stage2): two recipes that disagree, by name:
    recipe=card: reference Qwen/Qwen2.5-Math-7B-Instruct, coefficient 0.001 (the model card);
    recipe=eval: reference Qwen/Qwen2.5-7B-Instruct, coefficient 0.005 (ImplicitPRM's eval/process_eval.sh);
    steps joined by blank lines, no re-prefixing.
Scoring is the implicit PRM's (reward_models.implicit): q_t = coef * sum of log pi/pi_ref over the response tokens
up to the end of step t, step reward q_t - q_{t-1}.
steps=harness (default): the harness's steps (harness.core.steps), so every reward model scores the same steps of a
pool; the authors re-split on "Step k:" markers, which gives the same steps on responses that carry them ("Step k:"
opening lines). steps=publisher: the authors' own best-of-N layout and step ends, PRIME-RL/ImplicitPRM
eval/prm_eval_utils.py (`get_dataloader`, `implicit_prm_data_collator`, `get_reward`), reward_models.implicit_publisher:
a response without "Step k:" markers is one step there, "## Step k:" headings keep their "##" in the step before.
With steps=harness each model reads the response after
its own tokenizer's chat template with the generation prompt (then eos, the end-of-turn token of these chat
models), as the authors' code encodes the reference with the reference's tokenizer; the vocabularies must match,
so the response tokens, and the steps their log-ratios are summed over, are the same for both.
On ProcessBench (`run --task processbench`) eurus_prm thresholds the accumulated reward q_t (reward=accumulative
unless set), as ImplicitPRM's eval/processbench.py does; `--protocol paper` also takes its sigmoid threshold grid.
`--model` / `--ref` (or --set model=/ref=) point at local copies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from harness.core.errors import InputError
from harness.core.pool import Pool
from harness.core.steps import split_steps
from reward_models import register_rm
from reward_models import implicit_publisher as P
from reward_models.implicit import SCORE_BETA_NOTE, ImplicitConfig, ImplicitPRM
from reward_models.lm.loading import check_same_tokenizer, load_causal_lm, load_tokenizer
from reward_models.lm.released import locate


STEP_MODES = ("harness", "publisher")


@dataclass
class ReleasedImplicitConfig(ImplicitConfig):
    recipe: str = field(default="", metadata={"help": "eurus_prm: card | eval"})
    release: str = field(default="", metadata={"help": "implicitprm_release: dpo | ce;  eurus_prm: stage1 | stage2"})
    reprefix: bool | None = field(default=None, metadata={
        "help": "re-prefix every step with 'Step k: ', as the authors' layout does; default: the preset's layout "
                "(steps=harness only)"})
    steps: str = field(default="harness", metadata={
        "help": "harness: the harness's steps | publisher: the authors' best-of-N layout (ImplicitPRM "
                "eval/prm_eval_utils.py get_dataloader)"})
    revision: str | None = field(default=None, metadata={
        "help": "Hub branch, tag, commit or PR ref of the released policy (not the reference)"})


class ReleasedImplicit(ImplicitPRM):
    trainable = False
    Config = ReleasedImplicitConfig
    releases: dict[str, str] = {}            # release -> policy id
    recipes: dict[str, tuple[str, float]] = {}   # recipe -> (reference id, coefficient)
    default_release = default_recipe = ""
    default_reprefix = False

    @classmethod
    def check_options(cls, c, given):
        super().check_options(c, given)
        c.release, c.recipe = c.release or cls.default_release, c.recipe or cls.default_recipe
        for name, value, known in (("release", c.release, cls.releases), ("recipe", c.recipe, cls.recipes)):
            if value not in known:
                raise InputError(f"unknown {name} '{value}' for {cls.name}", field=name,
                                 expected="one of " + ", ".join(known))
        ref, coef = cls.recipes[c.recipe]
        c.model = c.model or cls.releases[c.release]
        c.ref = c.ref or ref
        c.score_beta = coef if c.score_beta is None else c.score_beta
        c.reprefix = cls.default_reprefix if c.reprefix is None else c.reprefix
        if c.steps not in STEP_MODES:
            raise InputError(f"unknown steps '{c.steps}' for {cls.name}", field="steps",
                             expected="harness (the harness's steps) or publisher (the authors' layout)")

    def fit(self, train_pool, base_model, val_pool=None):
        return None  # released weights: nothing to train

    def _paths(self):
        c = self.config
        return locate(c.model, "model", c.revision), (locate(c.ref, "ref") if c.use_ref else None)

    def scoring_identity(self):
        if self.config.steps == "publisher":
            return {**super().scoring_identity(), "steps": "publisher",
                    "layout": "ImplicitPRM eval/prm_eval_utils.py get_dataloader"}
        return {**super().scoring_identity(), "layout": "Step k: re-prefixed" if self.config.reprefix else
                "steps joined by blank lines"}

    def layout(self, text: str) -> str:
        steps = split_steps(text)
        if self.config.reprefix:  # prm_eval_utils.get_dataloader
            steps = [f"Step {k + 1}: " + re.sub(r"^Step\s*\d+\s*:", "", s).strip().replace("Step", "step")
                     for k, s in enumerate(steps)]
        return "\n\n".join(steps)

    def compute_scores(self, pool):
        if self.config.steps == "publisher":
            return self._publisher_scores(pool)
        problems = []
        for p in pool.problems:
            rs = [replace(r, text=self.layout(r.text)) for r in p.responses]
            for r, new in zip(p.responses, rs):
                if len(split_steps(new.text)) != len(split_steps(r.text)):
                    raise InputError("the authors' layout changes this response's steps", field=f"problem {p.id}",
                                     expected="steps that survive joining by blank lines (or reprefix=false)")
            problems.append(replace(p, responses=rs))
        return super().compute_scores(Pool(problems, pool.path))

    def _publisher_scores(self, pool):
        """reward_models.implicit_publisher: the authors' steps, one forward per whole response per model."""
        c = self.config
        model_path, ref_path = self._paths()
        model, tok = load_causal_lm(model_path, dtype=c.dtype, device=c.device)
        if ref_path is not None:
            check_same_tokenizer(tok, load_tokenizer(ref_path))
        encs = [P.encode(tok, p.problem, P.authors_steps(r.text)) for p in pool.problems for r in p.responses]
        seqs, pad = [ids for ids, _ in encs], P.pad_token(tok)
        policy = P.shifted_logps(model, seqs, pad, c.score_batch_size)
        del model
        ref = None
        if ref_path is not None:
            ref_model, _ = load_causal_lm(ref_path, dtype=c.dtype, device=c.device, with_tokenizer=False)
            ref = P.shifted_logps(ref_model, seqs, pad, c.score_batch_size)
            del ref_model
        flat = [P.step_rewards(policy[i], ref[i] if ref is not None else None, ends, self.score_beta, c.reward)
                for i, (_, ends) in enumerate(encs)]
        steps, at = [], 0
        for p in pool.problems:
            steps.append(flat[at:at + len(p.responses)])
            at += len(p.responses)
        meta = {"model": str(model_path), "ref": str(ref_path) if ref_path else None, "steps": "publisher",
                "score_beta_note": SCORE_BETA_NOTE, "truncated": 0}
        return steps, meta


@register_rm("implicitprm_release")
class ImplicitPRMRelease(ReleasedImplicit):
    name = "implicitprm_release"
    releases = {"dpo": "Windy0822/ImplicitPRM_DPO", "ce": "Windy0822/ImplicitPRM_CE"}
    recipes = {"authors": ("meta-llama/Llama-3.1-8B-Instruct", 0.001)}
    default_release, default_recipe, default_reprefix = "dpo", "authors", True


@register_rm("eurus_prm")
class EurusPRM(ReleasedImplicit):
    name = "eurus_prm"
    releases = {"stage1": "PRIME-RL/EurusPRM-Stage1", "stage2": "PRIME-RL/EurusPRM-Stage2"}
    recipes = {"card": ("Qwen/Qwen2.5-Math-7B-Instruct", 0.001), "eval": ("Qwen/Qwen2.5-7B-Instruct", 0.005)}
    default_release, default_recipe = "stage2", "card"
    # On ProcessBench (harness.flow.step_level) the authors threshold the accumulated reward q_t, not q_t - q_{t-1}
    # (ImplicitPRM eval/processbench.py: `csum.gather(...)` at each step's last token).
    step_level_reward = "accumulative"
