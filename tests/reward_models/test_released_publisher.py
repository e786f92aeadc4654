"""`--set steps=publisher` on the released classifier-style adapters against transcriptions of each publisher's own
code (their splitting, their input layout, one forward per response as they run it), on tiny random models of each
release's architecture and chat layout (tests/_released.py), over five hand-made response layouts."""

from __future__ import annotations

import json
import re
import shutil

import _released as R
import numpy as np
import pytest

from harness.core.pool import Pool, Problem, Response
from reward_models import get_rm
from reward_models.lm.loading import load_tokenizer

PROBLEM = "Compute 3 * 4 + 2"
LAYOUTS = {
    "paragraphs": "First, 3 * 4 = 12.\n\nThen 12 + 2 = 14.  \n\nThe answer is 14",
    "lines": "3 * 4 = 12\n12 + 2 = 14\nThe answer is 14\n",
    "step_lines": "Step 1: 3 * 4 = 12\nStep 2: 12 + 2 = 14\nThe answer is 14",
    "headings": "## Step 1: Multiply\n3 * 4 = 12\n\n## Step 2: Add\n12 + 2 = 14",
    "final_paragraph": "Step 1: 3 * 4 = 12\n\nStep 2: 12 + 2 = 14\n\nTherefore, the final answer is $\\boxed{14}$.",
}
TAGGED = "Step 1: 3 * 4 = 12 ки\nStep 2: 12 + 2 = 14 ки\nThe answer is: 14 ки"  # RLHFlow's Mistral-Data layout
CARD_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."


def pool(texts=tuple(LAYOUTS.values())) -> Pool:
    return Pool([Problem("p0", PROBLEM, "14", [Response(t) for t in texts], {}),
                 Problem("p1", "Compute 7 * 8 - 6", "50", [Response(texts[-1]), Response(texts[0])], {})])


def check_publisher(rm_name, folder, publisher, counts, texts=tuple(LAYOUTS.values()), **options):
    """steps=publisher gives the publisher's scores step by step (<= 1e-4) whatever the batch size, and the number
    of steps each layout has in the publisher's code (counted by hand in `counts`)."""
    p = pool(texts)
    want = [[publisher(q.problem, r.text) for r in q.responses] for q in p.problems]
    assert [len(s) for s in want[0]] == counts
    for batch_size in (1, 8):
        got = get_rm(rm_name, model=str(folder), steps="publisher", score_batch_size=batch_size, progress=False,
                     **options).compute_scores(p)[0]
        assert [[len(s) for s in q] for q in got] == [[len(s) for s in q] for q in want]
        diff = max(abs(a - b) for gq, wq in zip(got, want) for g, w in zip(gq, wq) for a, b in zip(g, w))
        assert diff <= 1e-4, (rm_name, batch_size, diff)
    return want


# --- qwen_prm: the model card of Qwen/Qwen2.5-Math-PRM-7B --------------------------------------------------------

def test_qwen_prm_publisher_steps_are_the_model_cards(tmp_path, cache_root):
    import torch
    import torch.nn.functional as F
    folder, body, head = R.qwen_prm(tmp_path / "qwen")
    tok = load_tokenizer(folder)

    def card(query, response):
        steps = response.split("\n\n")  # "we recommend using double line breaks to separate individual steps"
        messages = [{"role": "system", "content": CARD_SYSTEM}, {"role": "user", "content": query},
                    {"role": "assistant", "content": "<extra_0>".join(steps) + "<extra_0>"}]
        conversation_str = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        input_ids = torch.tensor([tok.encode(conversation_str)])
        with torch.no_grad():
            logits = head(body(input_ids=input_ids).last_hidden_state)  # Qwen2ForProcessRewardModel's outputs[0]
        step_sep_id = tok.encode("<extra_0>")[0]
        token_masks = input_ids == step_sep_id
        probabilities = F.softmax(logits, dim=-1) * token_masks.unsqueeze(-1)  # make_step_rewards
        sample = probabilities[0]
        return sample[sample != 0].view(-1, 2)[:, 1].tolist()
    check_publisher("qwen_prm", folder, card, counts=[3, 1, 1, 2, 3])


# --- skywork_prm: SkyworkAI/skywork-o1-prm-inference, model_utils/io_utils.py + prm_model.py ----------------------

def test_skywork_prm_publisher_steps_are_the_authors_prepare_input(tmp_path, cache_root):
    import torch
    folder, lm, v_head = R.skywork_prm(tmp_path / "skywork")
    tok = load_tokenizer(folder)

    def prepare_input(problem, response, tokenizer, step_token):
        prompt_ids = tokenizer.encode(tokenizer.bos_token + problem + "\n")
        response_ids, steps, reward_flags = [], [], [0] * len(prompt_ids)
        step_token_id = tokenizer.encode(step_token)[-1]
        for step in response.split(step_token):
            step_ids = tokenizer.encode(step) if step != "" else []
            step_ids += [step_token_id]
            flag = [0] * len(step_ids)
            flag[-1] = 1
            response_ids.extend(step_ids)
            reward_flags.extend(flag)
            steps.append(step + step_token)
        return prompt_ids + response_ids, steps, reward_flags

    def authors(problem, response):
        input_ids, _, reward_flags = prepare_input(problem, response, tok, "\n")
        with torch.no_grad():  # PRM_MODEL.forward(return_probs=True): sigmoid(v_head(hidden_states[-1]))
            ids = torch.tensor([input_ids])
            out = lm(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True)
            rewards = torch.sigmoid(v_head(out.hidden_states[-1]).squeeze(-1))
        flags = torch.tensor([reward_flags])
        return [rewards[0][i].item() for i in torch.nonzero(flags[0] == 1).view(-1)]  # derive_step_rewards
    # every "\n" piece is a step, blank ones and the empty piece after a final "\n" too
    check_publisher("skywork_prm", folder, authors, counts=[5, 4, 3, 5, 5])


# --- rlhflow_prm: RLHFlow/RLHF-Reward-Modeling, math-rm/prm_evaluate.py ------------------------------------------

def rlhflow_authors(tok, model, model_type):
    import torch
    plus_tag_id, minus_tag_id = tok.encode("+")[-1], tok.encode("-")[-1]
    candidate_tokens = [plus_tag_id, minus_tag_id]

    def select_sample(prompt, ans):
        single_step_score, conversation = [], []
        ans_list = ans.split("ки\n") if model_type(ans) == "Mistral" else ans.split("\n\n")
        ans_list = [j.strip() for j in ans_list]
        for k in range(len(ans_list)):
            text = prompt + " " + ans_list[0] if k == 0 else ans_list[k]
            conversation.append({"content": text, "role": "user"})
            conversation.append({"content": "+", "role": "assistant"})
            input_ids = torch.tensor([tok.apply_chat_template(conversation, return_dict=False)])  # their return_tensors
            with torch.no_grad():
                logits = model(input_ids).logits[:, -3, candidate_tokens]
                scores = logits.softmax(dim=-1)[:, 0]
            single_step_score.append(scores[0].item())
        return single_step_score
    return select_sample


@pytest.fixture(scope="module")
def rlhflow(tmp_path_factory):
    folder, lm = R.rlhflow_prm(tmp_path_factory.mktemp("rlhflow") / "prm")
    return folder, lm, load_tokenizer(folder)


def test_rlhflow_prm_publisher_steps_follow_the_model_name_or_the_data(rlhflow, tmp_path, cache_root):
    folder, lm, tok = rlhflow
    texts = (*LAYOUTS.values(), TAGGED)
    # a folder whose name says nothing: each response by its own tags (the tagged one is Mistral-Data's)
    by_data = rlhflow_authors(tok, lm, lambda ans: "Mistral" if "ки\n" in ans else "Deepseek")
    check_publisher("rlhflow_prm", folder, by_data, counts=[3, 1, 1, 2, 3, 3], texts=texts)
    # the released names decide for every response
    deepseek = shutil.copytree(folder, tmp_path / "Llama3.1-8B-PRM-Deepseek-Data")
    check_publisher("rlhflow_prm", deepseek, rlhflow_authors(tok, lm, lambda ans: "Deepseek"),
                    counts=[3, 1, 1, 2, 3, 1], texts=texts)
    mistral = shutil.copytree(folder, tmp_path / "Llama3.1-8B-PRM-Mistral-Data")
    check_publisher("rlhflow_prm", mistral, rlhflow_authors(tok, lm, lambda ans: "Mistral"),
                    counts=[1, 1, 1, 1, 1, 3], texts=texts)
    # and the option above both
    check_publisher("rlhflow_prm", mistral, rlhflow_authors(tok, lm, lambda ans: "Deepseek"),
                    counts=[3, 1, 1, 2, 3, 1], texts=texts, variant="deepseek")


# --- hf_prm: the model card of peiyi9979/math-shepherd-mistral-7b-prm -------------------------------------------

def test_hf_prm_publisher_steps_are_math_shepherds_card(tmp_path, cache_root):
    import torch
    folder, model = R.shepherd_prm(tmp_path / "math-shepherd")
    tokenizer = load_tokenizer(folder)
    good_token, bad_token, step_tag = "+", "-", "ки"
    candidate_tokens = tokenizer.encode(f"{good_token} {bad_token}")[1:]
    step_tag_id = tokenizer.encode(f"{step_tag}")[-1]
    assert len(candidate_tokens) == 2 and tokenizer.convert_ids_to_tokens(step_tag_id) == "▁ки"

    def card(question, response):
        # the card's outputs: " ки" closing every line of the solution (the blank lines of our layouts stay blank)
        output = "\n".join(line.rstrip() + f" {step_tag}" if line.strip() else line for line in response.split("\n"))
        input_id = torch.tensor([tokenizer.encode(f"{question} {output}")])
        with torch.no_grad():
            logits = model(input_id).logits[:, :, candidate_tokens]
            scores = logits.softmax(dim=-1)[:, :, 0]
            return scores[input_id == step_tag_id].tolist()
    check_publisher("hf_prm", folder, card, counts=[3, 3, 3, 4, 3])


# --- hf_orm: the model card of Skywork/Skywork-Reward-Llama-3.1-8B-v0.2 ------------------------------------------

def test_hf_orm_publisher_mode_is_the_cards_one_score_per_response(tmp_path, cache_root):
    import torch
    folder, rm = R.hf_orm(tmp_path / "skywork-reward")
    tok = load_tokenizer(folder)

    def card(prompt, response):
        conv = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
        conv_tokenized = torch.tensor([tok.apply_chat_template(conv, tokenize=True, return_dict=False)])
        with torch.no_grad():
            return [rm(conv_tokenized).logits[0][0].item()]
    want = check_publisher("hf_orm", folder, card, counts=[1, 1, 1, 1, 1])
    harness = get_rm("hf_orm", model=str(folder), progress=False).compute_scores(pool())[0]
    assert np.allclose([s for q in harness for r in q for s in r], [s for q in want for r in q for s in r], atol=1e-4)


# --- the option itself: its check, its cache key, where it is recorded ---------------------------------------------

ADAPTERS = {"qwen_prm": R.qwen_prm, "skywork_prm": R.skywork_prm, "rlhflow_prm": R.rlhflow_prm,
            "hf_prm": R.shepherd_prm, "hf_orm": R.hf_orm}


@pytest.mark.parametrize("rm", sorted(ADAPTERS))
def test_steps_nonsense_is_one_clear_error_and_the_two_modes_key_scores_apart(rm, tmp_path, capsys):
    from harness.cli import main
    from harness.core.pool import save_pool
    path = save_pool(pool(), tmp_path / "pool.jsonl")
    folder = tmp_path / "model"
    folder.mkdir()
    cache = tmp_path / "cache"
    assert main(["--cache-dir", str(cache), "run", "--rm", rm, "--task", "math500", "--pool", str(path),
                 "--model", str(folder), "--set", "steps=nonsense"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "field 'steps'" in err[0] and "'nonsense'" in err[0] and "publisher" in err[0], err
    assert not cache.exists()  # refused before anything was built or written
    ADAPTERS[rm](folder)
    p = pool()
    default, harness, publisher = (get_rm(rm, model=str(folder), **opts).score_key(p)
                                   for opts in ({}, {"steps": "harness"}, {"steps": "publisher"}))
    assert default == harness != publisher


def test_run_records_publisher_steps_and_ranks_by_the_publishers_aggregation(rlhflow, tmp_path, capsys):
    from harness.cli import main
    from harness.core.pool import save_pool
    folder = rlhflow[0]
    boxed = Pool([Problem(q.id, q.problem, q.reference, [Response(r.text.replace("14", "\\boxed{14}", 1))
                                                         for r in q.responses], {"generator": "hand"})
                  for q in pool().problems])
    path = save_pool(boxed, tmp_path / "pool.jsonl")
    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert main([*cache, "grade", str(path), "--workers", "1"]) == 0
    run = [*cache, "run", "--rm", "rlhflow_prm", "--task", "math500", "--pool", str(path), "--model", str(folder),
           "--n", "1,2", "--set", "progress=false", "--set", "steps=publisher"]
    assert main(run) == 0
    out = capsys.readouterr().out
    assert re.search(r"rlhflow_prm\[steps=publisher\]\s+best_of_n\s+mean\b", out), out  # prm_evaluate.py's mean
    record = json.loads(next((tmp_path / "cache" / "runs").glob("*.json")).read_text())
    assert record["steps"] == "publisher" and record["config"]["aggregation"] == "mean"
    assert "--aggregation" not in record["command"]
    assert main([*cache, "leaderboard", "--rm", "rlhflow_prm"]) == 0
    assert "steps=publisher" in capsys.readouterr().out
    assert main([*run, "--aggregation", "min", "--label", "by-min"]) == 0  # the user's choice wins
    assert re.search(r"rlhflow_prm\[steps=publisher\]\s+best_of_n\s+min\b", capsys.readouterr().out)
    assert "--aggregation min" in json.loads((tmp_path / "cache" / "runs").joinpath(
        "math500-default-by-min.json").read_text())["command"]


@pytest.mark.parametrize("rm,aggregation", [("rlhflow_prm", "mean"), ("hf_prm", "min"), ("qwen_prm", "min"),
                                            ("skywork_prm", "min"), ("hf_orm", "min")])
def test_list_rm_shows_the_steps_option_and_the_default_aggregation(rm, aggregation, capsys):
    from harness.cli import main
    assert main(["list", "--rm", rm]) == 0
    out = capsys.readouterr().out
    assert f"default aggregation of `run`: {aggregation} (" in out
    assert re.search(r"^steps\s+str\s+harness\s+harness: .*publisher", out, re.M), out
    assert main(["list", "--rm", rm, "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["aggregation"] == aggregation and any(o["option"] == "steps" for o in d["options"])
