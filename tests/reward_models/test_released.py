"""Released reward models' adapters against a brute-force reading of each documented recipe (one forward per step
prefix), on tiny random models of the released architecture, special tokens and chat layout."""

from __future__ import annotations

import re

import _released as R
import numpy as np
import pytest

from harness.core.errors import InputError
from harness.core.pool import Pool, Problem, Response
from harness.core.steps import split_steps
from reward_models import get_rm
from reward_models.lm.loading import load_tokenizer

TEXTS = ["Step 1: 3 * 4 = 12\n\nStep 2: 12 + 2 = 14\n\nThe answer is 14",
         "Step 1: 3 * 4 = 11\n\nThe answer is 13",
         "Step 1: 7 * 8 = 56\n\nStep 2: 56 - 6 = 50\n\nStep 3: so 50\n\nThe answer is 50",
         "First, 7 * 8 = 56. Step back.\n\n56 - 6 = 50\n\nThe answer is 50"]


CARD_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."  # Qwen2.5-Math-PRM's card


def pool() -> Pool:
    return Pool([Problem("p0", "Compute 3 * 4 + 2", "14", [Response(t) for t in TEXTS[:2]], {}),
                 Problem("p1", "Compute 7 * 8 - 6", "50", [Response(t) for t in TEXTS[::-1]], {})])


def flat(step_scores):
    return [s for p in step_scores for r in p for s in r]


def check_against(rm_name, folder, brute, cache_root, **options):
    """The adapter's step scores equal the brute-force ones, whatever the batch size (so whatever the padding)."""
    expected = [[brute(p.problem, split_steps(r.text)) for r in p.responses] for p in pool().problems]
    for batch_size in (1, 8):
        got = get_rm(rm_name, model=str(folder), score_batch_size=batch_size, progress=False,
                     **options).compute_scores(pool())[0]
        assert [[len(r) for r in p] for p in got] == [[len(r) for r in p] for p in expected]
        assert np.allclose(flat(got), flat(expected), atol=1e-5, rtol=0), (flat(got), flat(expected))
    return expected


# --- qwen_prm -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def qwen_prm(tmp_path_factory):
    folder, body, head = R.qwen_prm(tmp_path_factory.mktemp("qwen-prm"))
    return folder, body, head, load_tokenizer(folder)  # the tokenizer as saved is the checkpoint's


def test_qwen_prm_is_the_model_cards_recipe(qwen_prm, cache_root):
    import torch
    folder, body, head, tok = qwen_prm
    sep = tok.convert_tokens_to_ids("<extra_0>")

    def brute(problem, steps):
        out = []
        for t in range(1, len(steps) + 1):  # the card's layout with the first t steps; read at the t-th separator
            text = tok.apply_chat_template([
                {"role": "system", "content": CARD_SYSTEM},
                {"role": "user", "content": problem},
                {"role": "assistant", "content": "<extra_0>".join(steps[:t]) + "<extra_0>"}], tokenize=False)
            ids = tok.encode(text)
            at = max(i for i, x in enumerate(ids) if x == sep)
            with torch.no_grad():
                h = body(input_ids=torch.tensor([ids[:at + 1]])).last_hidden_state[0, -1]
                out.append(float(torch.softmax(head(h), -1)[1]))
        return out
    expected = check_against("qwen_prm", folder, brute, cache_root)
    assert 0 < min(flat(expected)) and max(flat(expected)) < 1


def test_a_response_holding_the_separator_is_refused_by_name(qwen_prm, cache_root):
    folder = qwen_prm[0]
    bad = Pool([Problem("p9", "Compute 1 + 1", "2", [Response("Step 1: 1 + 1 = 2 <extra_0>\n\nThe answer is 2")], {})])
    with pytest.raises(InputError, match="problem p9.*separator|separator.*problem p9|p9"):
        get_rm("qwen_prm", model=str(folder), progress=False).compute_scores(bad)


# --- skywork_prm ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def skywork_prm(tmp_path_factory):
    folder, lm, v_head = R.skywork_prm(tmp_path_factory.mktemp("skywork"))
    return folder, lm, v_head, load_tokenizer(folder)


def test_skywork_prm_is_the_authors_inference_recipe(skywork_prm, cache_root):
    import torch
    folder, lm, v_head, tok = skywork_prm
    nl = tok.encode("\n")[-1]

    def brute(problem, steps):  # prepare_input, cut after step t, and the value at its last token
        out = []
        for t in range(1, len(steps) + 1):
            ids = tok.encode(tok.bos_token + problem + "\n")
            for s in steps[:t]:
                ids += tok.encode(s) + [nl]
            with torch.no_grad():
                h = lm.model(input_ids=torch.tensor([ids])).last_hidden_state[0, -1]
                out.append(float(torch.sigmoid(v_head(h))))
        return out
    check_against("skywork_prm", folder, brute, cache_root)


# --- rlhflow_prm ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rlhflow_prm(tmp_path_factory):
    folder, lm = R.rlhflow_prm(tmp_path_factory.mktemp("rlhflow"))
    return folder, lm, load_tokenizer(folder)


def test_rlhflow_prm_is_the_authors_per_step_recipe_in_one_forward(rlhflow_prm, cache_root):
    import torch
    folder, lm, tok = rlhflow_prm
    plus, minus = tok.encode("+", add_special_tokens=False)[-1], tok.encode("-", add_special_tokens=False)[-1]

    def brute(problem, steps):  # the authors' loop: the conversation so far, logits[:, -3, [+, -]]
        conv, out = [], []
        for k, step in enumerate(steps):
            conv += [{"role": "user", "content": f"{problem} {step}" if k == 0 else step},
                     {"role": "assistant", "content": "+"}]
            ids = tok.apply_chat_template(conv, tokenize=True, return_dict=False)
            with torch.no_grad():
                logits = lm(input_ids=torch.tensor([ids])).logits[0, -3, [plus, minus]]
            out.append(float(torch.softmax(logits, -1)[0]))
        return out
    check_against("rlhflow_prm", folder, brute, cache_root)


# --- hf_orm ---------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hf_orm(tmp_path_factory):
    folder, rm = R.hf_orm(tmp_path_factory.mktemp("skywork-reward"))
    return folder, rm, load_tokenizer(folder)


def test_hf_orm_is_the_model_cards_sequence_classifier_score(hf_orm, cache_root):
    import torch
    folder, rm, tok = hf_orm

    def brute(problem, steps):  # the card: rm(apply_chat_template(conv)).logits[0][0], one sequence at a time
        text = next(r.text for p in pool().problems for r in p.responses if split_steps(r.text) == steps)
        ids = tok.apply_chat_template([{"role": "user", "content": problem}, {"role": "assistant", "content": text}],
                                      tokenize=True, return_dict=False)
        with torch.no_grad():
            return [float(rm(input_ids=torch.tensor([ids])).logits[0][0])]
    expected = check_against("hf_orm", folder, brute, cache_root)
    assert len(set(flat(expected))) == len(flat(expected))  # one distinct score per response


# --- released implicit PRMs -----------------------------------------------------------------------------------------

def test_presets_name_the_released_policy_reference_and_coefficient():
    r = get_rm("implicitprm_release")
    assert (r.config.model, r.config.ref, r.score_beta) == ("Windy0822/ImplicitPRM_DPO",
                                                            "meta-llama/Llama-3.1-8B-Instruct", 0.001)
    assert get_rm("implicitprm_release", release="ce").config.model == "Windy0822/ImplicitPRM_CE"
    card, ev = get_rm("eurus_prm"), get_rm("eurus_prm", recipe="eval", release="stage1")
    assert (card.config.model, card.config.ref, card.score_beta) == ("PRIME-RL/EurusPRM-Stage2",
                                                                     "Qwen/Qwen2.5-Math-7B-Instruct", 0.001)
    assert (ev.config.model, ev.config.ref, ev.score_beta) == ("PRIME-RL/EurusPRM-Stage1",
                                                               "Qwen/Qwen2.5-7B-Instruct", 0.005)
    with pytest.raises(InputError, match="recipe"):
        get_rm("eurus_prm", recipe="paper")


def test_implicitprm_release_scores_the_authors_layout_with_their_coefficient(tmp_path, cache_root):
    """The preset = the implicit PRM on the re-prefixed responses, coefficient 0.001 (computed apart here)."""
    import re

    import torch
    from transformers import LlamaForCausalLM
    tok = R.llama3_tokenizer()
    folders = []
    for seed in (4, 5):  # policy, reference: one tokenizer, different weights
        torch.manual_seed(seed)
        folders.append(tmp_path / f"m{seed}")
        LlamaForCausalLM(R.llama_config(tok)).save_pretrained(folders[-1])
        tok.save_pretrained(folders[-1])
    p = pool()
    got = get_rm("implicitprm_release", model=str(folders[0]), ref=str(folders[1]), progress=False).compute_scores(p)[0]

    def authors(text):  # prm_eval_utils.get_dataloader on the harness's steps
        steps = [re.sub(r"^Step \d+:", "", s).strip().replace("Step", "step") for s in split_steps(text)]
        return "\n\n".join(f"Step {k + 1}: {s}" for k, s in enumerate(steps))
    rewritten = Pool([Problem(q.id, q.problem, q.reference, [Response(authors(r.text)) for r in q.responses], {})
                      for q in p.problems])
    want = get_rm("implicit_ce", model=str(folders[0]), ref=str(folders[1]), score_beta=0.001,
                  progress=False).compute_scores(rewritten)[0]
    assert np.allclose(flat(got), flat(want), atol=1e-9) and len(flat(got)) == 12
    plain = get_rm("implicit_ce", model=str(folders[0]), ref=str(folders[1]), score_beta=0.001,
                   progress=False).compute_scores(p)[0]
    assert not np.allclose(plain[1][0], got[1][0])  # the paragraph response was re-prefixed before scoring
    assert max(abs(x) for x in flat(got)) < 0.05  # coefficient 0.001 on log-ratios of a few nats


def test_a_released_id_that_is_not_here_gets_one_message_saying_how_to_point_at_a_copy(monkeypatch, cache_root):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError) as e:
        get_rm("qwen_prm", progress=False).compute_scores(pool())
    msg = str(e.value)
    assert "Qwen/Qwen2.5-Math-PRM-7B" in msg and "huggingface-cli download" in msg and "--model" in msg
    (cache_root.parent / "ckpts").mkdir()
    with pytest.raises(InputError, match="not found") as e:  # a local-looking path that is missing
        get_rm("qwen_prm", model=str(cache_root.parent / "ckpts" / "prm"), progress=False).compute_scores(pool())
    assert "could not be downloaded" not in str(e.value)


@pytest.mark.parametrize("rm", ["qwen_prm", "skywork_prm", "rlhflow_prm", "hf_orm"])
def test_run_on_an_imported_math_pool_prints_its_leaderboard(rm, request, tmp_path, capsys):
    from harness.cli import main
    from harness.core.pool import save_pool
    folder = request.getfixturevalue(rm)[0]
    boxed = Pool([Problem(p.id, p.problem, p.reference, [Response(r.text.replace("The answer is ", "So \\boxed{") + "}")
                                                         for r in p.responses], {"generator": "hand"})
                  for p in pool().problems])
    path = save_pool(boxed, tmp_path / "pool.jsonl")
    assert main(["--cache-dir", str(tmp_path / "cache"), "grade", str(path), "--workers", "1"]) == 0
    assert main(["--cache-dir", str(tmp_path / "cache"), "run", "--rm", rm, "--task", "math500", "--pool",
                 str(path), "--model", str(folder), "--n", "1,2", "--set", "progress=false"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"\b{rm}\s+best_of_n", out) and "majority_vote" in out


# --- revisions: the released checkpoint as published on the Hub ----------------------------------------------------

@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An offline Hugging Face cache under tmp_path that snapshot_download reads (no network)."""
    import huggingface_hub.constants as hub_constants
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "hub"


def test_revision_picks_the_hub_snapshot_that_weights_head_and_tokenizer_are_read_from(skywork_prm, hub, tmp_path,
                                                                                      cache_root):
    """skywork_prm's default id with pickle weights on main and safetensors on a PR branch (as the release has them):
    without a revision, one error naming the branch; with --set revision=refs/pr/4 the scores are the PR folder's;
    an unknown revision is one error naming it. Nothing is unpickled."""
    folder = skywork_prm[0]
    rid = "Skywork/Skywork-o1-Open-PRM-Qwen-2.5-7B"
    marker = tmp_path / "UNPICKLED"
    R.fake_hub(hub, rid, {"main": R.pickle_only(folder, tmp_path / "main", marker), "refs/pr/4": folder})
    with pytest.raises(InputError) as e:
        get_rm("skywork_prm", progress=False).compute_scores(pool())
    msg = str(e.value)
    assert rid in msg and "no safetensors" in msg and "refs/pr/4 or refs/pr/5" in msg and "--set revision=" in msg
    got = get_rm("skywork_prm", revision="refs/pr/4", progress=False).compute_scores(pool())[0]
    direct = get_rm("skywork_prm", model=str(folder), progress=False).compute_scores(pool())[0]
    assert flat(got) == pytest.approx(flat(direct), abs=0)
    with pytest.raises(InputError) as e:
        get_rm("skywork_prm", revision="refs/pr/99", progress=False).compute_scores(pool())
    assert "revision 'refs/pr/99'" in str(e.value) and "field 'revision'" in str(e.value)
    with pytest.raises(InputError, match="local folder"):  # a folder holds one revision already
        get_rm("skywork_prm", model=str(folder), revision="refs/pr/4", progress=False).compute_scores(pool())
    assert not marker.exists()


def test_a_pickle_only_folder_named_for_a_release_names_its_safetensors_branch(skywork_prm, tmp_path, cache_root):
    marker = tmp_path / "UNPICKLED"
    local = R.pickle_only(skywork_prm[0], tmp_path / "math-shepherd-mistral-7b-prm", marker)
    with pytest.raises(InputError) as e:
        get_rm("hf_prm", model=str(local), progress=False).compute_scores(pool())
    msg = str(e.value)
    assert "refusing to unpickle" in msg and "peiyi9979/math-shepherd-mistral-7b-prm" in msg and "refs/pr/" in msg
    other = R.pickle_only(skywork_prm[0], tmp_path / "my-prm", marker)
    with pytest.raises(InputError) as e:
        get_rm("hf_prm", model=str(other), progress=False).compute_scores(pool())
    assert "refusing to unpickle" in str(e.value) and "peiyi9979" not in str(e.value)
    assert not marker.exists()


def test_the_implicit_presets_pass_the_revision_to_the_policy_only(hub, tmp_path):
    policy, ref = tmp_path / "policy", tmp_path / "ref"
    for f in (policy, ref):
        f.mkdir()
        (f / "config.json").write_text("{}")
        (f / "model.safetensors").write_bytes(b"")
    R.fake_hub(hub, "Windy0822/ImplicitPRM_DPO", {"refs/pr/1": policy})
    R.fake_hub(hub, "meta-llama/Llama-3.1-8B-Instruct", {"main": ref})
    got_policy, got_ref = get_rm("implicitprm_release", revision="refs/pr/1")._paths()
    assert "models--Windy0822--ImplicitPRM_DPO" in got_policy and "Llama-3.1-8B-Instruct" in got_ref
    with pytest.raises(InputError, match="revision 'main'"):  # the policy has no main here: its revision is asked for
        get_rm("implicitprm_release", revision="main")._paths()
