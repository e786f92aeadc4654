"""`harness generate --backend lm-eval`: sample a pool through lm-evaluation-harness, in this process.

    python -m harness generate --task math500 --backend lm-eval --model hf \\
        --model-args pretrained=PATH,dtype=bfloat16 --n 64 -o pool.jsonl

runs `lm_eval.simple_evaluate(model, model_args, tasks=[the pack's task], log_samples=True, predict_only=True)` with
the task's `repeats` set to --n and the sampling settings (temperature, max_gen_toks) overriding the YAML's, then
writes every generation of every document, in lm-eval's order, as a pool: problem ids and references are the
harness task's (the pack's datasets come from it), meta holds the generator's name, the exact prompt lm-eval sent,
the sampling settings, the seeds and lm-eval's version. No output folder is parsed (`import --format lm-eval` stays
for files lm-eval already wrote). `--model vllm` is lm-eval's vllm backend (vllm must be installed); any lm-eval
model type works the same way. Other tasks: `--lm-eval-task NAME --include-path DIR` (documents need `problem`,
and `id` / `reference` if the pool should carry them).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
from pathlib import Path

from harness.core.errors import InputError
from harness.core.pool import Pool, Problem, Response, save_pool


def model_name(model: str, model_args: str | None) -> str:
    args = dict(kv.split("=", 1) for kv in (model_args or "").split(",") if "=" in kv)
    ref = args.get("pretrained") or args.get("model") or model
    return Path(str(ref).rstrip("/")).name or model


def task_manager(include_paths=()):
    from lm_eval.tasks import TaskManager  # lazy: lm_eval imports torch and transformers
    return TaskManager(include_path=[str(p) for p in include_paths])


def load_tasks(tm, names: list[str]) -> dict:
    """{name: lm-eval Task}: TaskManager.load where lm-eval has it (get_task_dict is deprecated there)."""
    if hasattr(tm, "load"):
        return tm.load(list(names))["tasks"]
    from lm_eval.tasks import get_task_dict  # lazy: lm_eval imports torch and transformers
    return get_task_dict(list(names), tm)


def pool_of(docs, resps, generator: str = "lm-eval"):
    """A pool of the documents (in order) with their generations (in order)."""
    problems = []
    for i, (doc, gens) in enumerate(zip(docs, resps)):
        text = doc.get("problem", doc.get("question"))
        if text is None:
            raise InputError("document has no problem text", field=f"doc {i}", expected="a 'problem' or 'question'")
        problems.append(Problem(str(doc.get("id", i)), text, str(doc.get("reference", doc.get("answer", ""))),
                                [Response(g) for g in gens], {"generator": generator}))
    return Pool(problems)


def run_lm_eval(args, tasks: dict[str, str], include_paths, log=print):
    """lm-eval's results (with samples) for the task `tasks` names for args.task (or args.lm_eval_task), with lm-eval
    tasks read from `include_paths`; raises InputError for a missing backend."""
    import lm_eval  # lazy: lm_eval imports torch and transformers

    if args.model == "vllm" and importlib.util.find_spec("vllm") is None:
        raise InputError("lm-eval's vllm backend needs vllm, which is not installed", field="--model",
                         expected="`pip install vllm` (a CUDA machine), or --model hf")
    name = args.lm_eval_task or tasks.get(args.task)
    if name is None:
        raise InputError(f"no lm-eval task of this harness for '{args.task}'", field="--task",
                         expected="one of " + ", ".join(tasks) + ", or --lm-eval-task NAME with --include-path")
    tm = task_manager([*include_paths, *(args.include_path or ())])
    device = args.device
    if device is None:  # lm-eval's default is cuda, even where there is none
        import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        task = load_tasks(tm, [name])[name]
    except (KeyError, ValueError) as e:
        raise InputError(f"lm-eval task '{name}' not found ({e})", field="--lm-eval-task",
                         expected="a task of harness/flow/lm_eval_pack or of --include-path") from None
    task.config.repeats = args.n
    gen = {"temperature": args.temperature, "do_sample": args.temperature > 0}
    if args.max_new_tokens is not None:
        gen["max_gen_toks"] = args.max_new_tokens
    task.config.generation_kwargs = {**(task.config.generation_kwargs or {}), **gen}
    log(f"[lm-eval] {name} x {args.n} with {args.model} {args.model_args or ''} (lm-eval "
        f"{importlib.metadata.version('lm_eval')})")
    tracker = None
    if getattr(args, "lm_eval_output", None):  # lm-eval's own results and samples files, as its CLI writes them
        from lm_eval.loggers import EvaluationTracker  # lazy: lm_eval imports torch and transformers
        tracker = EvaluationTracker(output_path=str(args.lm_eval_output))
    try:
        results = lm_eval.simple_evaluate(model=args.model, model_args=args.model_args, tasks=[task], task_manager=tm,
                                          log_samples=True, predict_only=True, limit=args.limit, device=device,
                                          batch_size=args.batch_size, random_seed=args.seed,
                                          numpy_random_seed=args.seed, torch_random_seed=args.seed,
                                          fewshot_random_seed=args.seed, evaluation_tracker=tracker)
    except (OSError, ValueError, KeyError) as e:  # an unknown model type, a missing checkpoint, bad model args
        raise InputError(f"lm-eval could not run {args.model} ({type(e).__name__}: {e})", field="--model/--model-args",
                         expected="an lm-eval model type (hf, vllm, ...) and model args it accepts, e.g. "
                                  "pretrained=PATH") from None
    if tracker is not None:
        samples = results["samples"]
        tracker.save_results_aggregated(results={k: v for k, v in results.items() if k != "samples"},
                                        samples=samples)
        tracker.save_results_samples(task_name=name, samples=samples[name])
    return name, task, results


def pool_from_samples(samples: list[dict], meta: dict):
    """Every generation of every logged sample, documents in lm-eval's doc_id order, generations in their order
    (a task with several filter pipelines logs each document once per pipeline, with the same generations)."""
    docs, gens, metas, seen = [], [], [], set()
    for s in sorted(samples, key=lambda s: s["doc_id"]):
        if s["doc_id"] in seen:
            continue
        seen.add(s["doc_id"])
        args = s["arguments"]  # [(context, gen_kwargs)], or {"gen_args_0": {"arg_0", "arg_1"}} once lm-eval saved it
        context, gen_kwargs = (args[0][0], args[0][1]) if isinstance(args, (list, tuple)) else \
            (args["gen_args_0"]["arg_0"], args["gen_args_0"]["arg_1"])
        doc = s["doc"]
        docs.append({**doc, "id": doc.get("id", s["doc_id"]),
                     "problem": doc.get("problem", doc.get("question", context)),
                     "reference": doc.get("reference", s.get("target", ""))})
        gens.append([g for r in s["resps"] for g in (r if isinstance(r, list) else [r])])
        metas.append({**meta, "prompt": context, "sampling": gen_kwargs})
    # the filter's own pool builder, so reward_rerank's cached scores and this pool share one content hash
    return Pool([dataclasses.replace(p, meta=m) for p, m in zip(pool_of(docs, gens).problems, metas)])


def generate_pool(args, tasks: dict[str, str], include_paths, log=print):
    name, task, results = run_lm_eval(args, tasks, include_paths, log)
    meta = {"generator": args.generator or model_name(args.model, args.model_args), "backend": "lm-eval",
            "lm_eval_task": name, "lm_eval_version": importlib.metadata.version("lm_eval"),
            "model": args.model, "model_args": args.model_args, "temperature": args.temperature,
            "max_gen_toks": task.config.generation_kwargs.get("max_gen_toks"), "repeats": args.n, "seed": args.seed}
    pool = pool_from_samples(results["samples"][name], meta)
    save_pool(pool, args.output)
    return pool
