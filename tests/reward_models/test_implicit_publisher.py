"""steps=publisher of the released implicit PRMs (implicitprm_release, eurus_prm) against a transcription of the
ImplicitPRM authors' best-of-N scoring (PRIME-RL/ImplicitPRM eval/prm_eval_utils.py: get_dataloader,
implicit_prm_data_collator, get_logps, get_reward), on tiny random models of the releases' architectures and chat
layouts (Llama-3 for Windy0822/ImplicitPRM_*, Qwen2 ChatML for PRIME-RL/EurusPRM-*)."""

from __future__ import annotations

import re

import _released as R
import numpy as np
import pytest

from harness.core.errors import InputError
from harness.core.pool import Pool, Problem, Response
from reward_models import get_rm

PROBLEM = "Compute 3 * 4 + 2"
LAYOUTS = {  # the five layouts of issue 33
    "paragraphs": "First, 3 * 4 = 12.\n\nThen 12 + 2 = 14.\n\nThe answer is 14",
    "lines": "3 * 4 = 12\n12 + 2 = 14\nThe answer is 14",
    "step_lines": "Step 1: 3 * 4 = 12\nStep 2: 12 + 2 = 14\nStep 3: The answer is 14",
    "headings": "## Step 1: Multiply\n3 * 4 = 12\n\n## Step 2: Add\n12 + 2 = 14\n\nThe answer is 14",
    "final_paragraph": "Step 1: 3 * 4 = 12\n\nStep 2: 12 + 2 = 14\n\nTherefore, the final answer is 14. Step back.",
}


# --- transcription of the authors' code (accelerator and gather_object dropped; one process) ---------------------

def their_steps(response):  # get_dataloader
    steps = re.split(r'Step \d+:', response)
    steps = [step.strip().replace('Step', 'step') for step in steps if step.strip() != '']
    return [f'Step {id + 1}: ' + step for id, step in enumerate(steps) if step.strip() != '']


def their_collator(example, tokenizer):  # implicit_prm_data_collator
    import torch
    from torch.nn.utils.rnn import pad_sequence
    inputs, special_tokens, label_mask = [], [], []
    for d in example:
        input_ids = tokenizer.apply_chat_template([
            {"role": "user", "content": d["query"]},
            {"role": "assistant", "content": "\n\n".join(d["answer"])},
        ], tokenize=True, add_generation_prompt=False, return_dict=False)
        inputs.append(torch.tensor(input_ids))
        cur_special_ids = []
        for step_num in range(0, len(d["answer"]) + 1):
            conv = tokenizer.apply_chat_template([
                {"role": "user", "content": d["query"]},
                {"role": "assistant", "content": "\n\n".join(d["answer"][:step_num])},
            ], tokenize=False, add_generation_prompt=False)
            conv = conv.strip()
            if step_num != len(d["answer"]) and conv.endswith("<|start_header_id|>assistant<|end_header_id|>"):
                conv = conv[:-len("<|start_header_id|>assistant<|end_header_id|>")]
            if step_num != len(d["answer"]) and conv.endswith("<|eot_id|>"):
                conv = conv[:-len("<|eot_id|>")]
            if step_num != 0 and step_num != len(d['answer']):
                conv += '\n\n'
            currect_ids = tokenizer.encode(conv, add_special_tokens=False)
            cur_special_ids.append(len(currect_ids) - 2)
        special_tokens.append(torch.tensor(cur_special_ids))
        label_mask.append(torch.tensor([0] * cur_special_ids[0] + [1] * (len(input_ids) - cur_special_ids[0])))
    labels = pad_sequence(inputs, padding_value=-100, batch_first=True)
    inputs = pad_sequence(inputs, padding_value=tokenizer.pad_token_id, batch_first=True)
    attention_mask = (inputs != tokenizer.pad_token_id)
    label_mask = pad_sequence(label_mask, padding_value=0, batch_first=True)
    special_tokens = pad_sequence(special_tokens, padding_value=-100, batch_first=True)
    return {'input_ids': inputs.int(), 'attention_mask': attention_mask.int(), 'labels': labels.int(),
            'label_mask': label_mask, 'special_tokens': special_tokens}


def their_logps(model, inputs):  # get_logps (not 'partial')
    import torch
    logits = model(input_ids=inputs['input_ids'], attention_mask=inputs['attention_mask']).logits
    labels = inputs['labels'][:, 1:].clone().long()
    logits = logits[:, :-1, :]
    labels[labels == -100] = 0
    per_token_logps = torch.gather(logits.log_softmax(-1), dim=2, index=labels.unsqueeze(2)).squeeze(2)
    loss_mask = labels != -100
    return per_token_logps * loss_mask


def their_rewards(per_token_logps, ref_per_token_logps, inputs, coef=0.001):  # get_reward, "w/ ref", constant beta
    import torch
    cur_index = torch.where(inputs['special_tokens'] == -100, 0, inputs['special_tokens'])
    raw_reward = per_token_logps - ref_per_token_logps
    raw_reward = raw_reward * inputs['label_mask'][:, 1:]
    beta_reward = coef * raw_reward
    beta_reward = beta_reward.cumsum(-1)
    beta_reward = beta_reward.gather(dim=-1, index=cur_index[:, 1:])
    beta_reward = torch.where(inputs['special_tokens'][:, 1:] == -100, 1e3, beta_reward)
    out = {}
    for reward_approach in ["single", "accumulative"]:
        if reward_approach == "single":
            rewards = beta_reward - torch.cat([torch.zeros(beta_reward.shape[0], 1), beta_reward[:, :-1]], dim=-1)
            rewards = torch.where(inputs['special_tokens'][:, 1:] == -100, 1e3, rewards)
        else:
            rewards = beta_reward.clone()
        out[reward_approach] = rewards
    return out


def authors_scores(policy, ref, tok, texts, coef, batch_size=4):
    """Per response, {single, accumulative} step rewards (the 1e3 padding dropped), batch by batch as bon_eval."""
    import torch
    queries = [{"query": PROBLEM, "answer": their_steps(t)} for t in texts]
    out = []
    with torch.no_grad():
        for b in range(0, len(queries), batch_size):
            batch = their_collator(queries[b:b + batch_size], tok)
            rw = their_rewards(their_logps(policy, batch), their_logps(ref, batch), batch, coef)
            for r, q in enumerate(queries[b:b + batch_size]):
                k = len(q["answer"])
                out.append({a: rw[a][r, :k].double().tolist() for a in rw})
    return out


# --- tiny releases ------------------------------------------------------------------------------------------------

def _pair(tmp_path, tok, config, cls):
    import torch
    folders = []
    for seed in (11, 12):  # policy, reference: one tokenizer, different weights
        torch.manual_seed(seed)
        folders.append(tmp_path / f"m{seed}")
        cls(config(tok)).save_pretrained(folders[-1])
        tok.save_pretrained(folders[-1])
    return folders


@pytest.fixture(scope="module")
def llama_pair(tmp_path_factory):
    from transformers import LlamaForCausalLM
    return _pair(tmp_path_factory.mktemp("implicitprm"), R.llama3_tokenizer(), R.llama_config, LlamaForCausalLM)


@pytest.fixture(scope="module")
def qwen_pair(tmp_path_factory):
    from transformers import Qwen2ForCausalLM
    return _pair(tmp_path_factory.mktemp("eurus"), R.qwen_tokenizer(extra=()), R.qwen2_config, Qwen2ForCausalLM)


def _pool():
    return Pool([Problem("p0", PROBLEM, "14", [Response(t) for t in LAYOUTS.values()], {})])


# Coefficient 1 (score_beta=1) so that 1e-4 is 1e-4 nats of log-ratio; the presets' 0.001 would hide a token.
@pytest.mark.parametrize("rm,pair", [("implicitprm_release", "llama_pair"), ("eurus_prm", "qwen_pair")])
@pytest.mark.parametrize("reward", ["single", "accumulative"])
def test_publisher_steps_equal_the_authors_code_step_by_step(rm, pair, reward, request, cache_root):
    from transformers import AutoModelForCausalLM

    from reward_models.lm.loading import load_tokenizer
    policy_dir, ref_dir = request.getfixturevalue(pair)
    tok = load_tokenizer(policy_dir)
    policy, ref = (AutoModelForCausalLM.from_pretrained(d).eval() for d in (policy_dir, ref_dir))
    want = [w[reward] for w in authors_scores(policy, ref, tok, list(LAYOUTS.values()), coef=1.0)]
    for batch_size in (1, 8):
        got = get_rm(rm, model=str(policy_dir), ref=str(ref_dir), steps="publisher", reward=reward,
                     score_beta=1.0, score_batch_size=batch_size, progress=False).compute_scores(_pool())[0][0]
        assert [len(g) for g in got] == [len(w) for w in want] == [1, 1, 3, 3, 2]
        assert max(abs(a - b) for g, w in zip(got, want) for a, b in zip(g, w)) <= 1e-4, (got, want)
    if reward == "single":  # the harness's own steps differ here: the mode changes the numbers
        harness = get_rm(rm, model=str(policy_dir), ref=str(ref_dir), progress=False,
                         reward=reward).compute_scores(_pool())[0][0]
        assert [len(h) for h in harness] != [len(w) for w in want]


def test_the_step_mode_is_part_of_the_scoring_identity_and_checked(llama_pair):
    a = get_rm("implicitprm_release", model=str(llama_pair[0]), ref=str(llama_pair[1]))
    b = get_rm("implicitprm_release", model=str(llama_pair[0]), ref=str(llama_pair[1]), steps="publisher")
    assert a.scoring_identity() != b.scoring_identity() and b.scoring_identity()["steps"] == "publisher"
    with pytest.raises(InputError, match="steps"):
        get_rm("eurus_prm", steps="nonsense")


def test_steps_nonsense_on_the_command_line_is_one_error_and_exit_2(tmp_path, capsys):
    from harness.cli import main
    code = main(["--cache-dir", str(tmp_path / "c"), "run", "--rm", "eurus_prm", "--set", "steps=nonsense"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("error:") == 1 and "steps" in err and "publisher" in err
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").rglob("*.json"))


def test_authors_steps_on_the_five_layouts():
    from reward_models.implicit_publisher import authors_steps
    for text in LAYOUTS.values():
        assert authors_steps(text) == their_steps(text)
    assert authors_steps(LAYOUTS["headings"])[0] == "Step 1: ##"  # their split keeps the heading's "##" apart
    assert np.all([len(authors_steps(LAYOUTS[k])) == 1 for k in ("paragraphs", "lines")])
