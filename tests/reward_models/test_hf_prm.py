"""hf_prm: step tags placed after every step, label tokens, P(good) at the tags, the released Math-Shepherd format."""

from __future__ import annotations

import json

import pytest
import torch
from _paths import DATA as DATA_ROOT

from harness.core.errors import InputError
from harness.core.pool import Pool, Problem, Response
from harness.core.prompting import build_prompt
from harness.core.steps import step_spans
from reward_models import get_rm
from reward_models.lm.tagged import (
    TagFormat,
    encode_tagged,
    label_token_ids,
    pick_step_tag,
    resolve_format,
    tag_text,
    write_format,
)
from tasks.arith.tokenizer import build_tokenizer

DATA = DATA_ROOT
TEXT = "Step 1: 3 * 4 = 12\n\nStep 2: 12 + 2 = 14\n\nThe answer is 14"


@pytest.fixture
def shepherd_samples():
    path = DATA / "openr_samples" / "samples_math-shepherd.jsonl"
    if not path.is_file():
        pytest.skip(f"real data not found at {path} (the shared data folder belongs beside the checkout)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_tag_goes_after_each_step_before_its_separator():
    tagged, ends = tag_text(TEXT, "@")
    assert tagged == "Step 1: 3 * 4 = 12 @\n\nStep 2: 12 + 2 = 14\n\nThe answer is 14 @"  # answer line: last step
    assert [tagged[e] for e in ends] == ["@", "@"]
    assert len(ends) == len(step_spans(TEXT))
    assert tag_text("", "ки") == (" ки", [2])  # an empty response still has its one step scored


def test_tag_positions_and_label_tokens_of_a_tokenized_example():
    tok = build_tokenizer()
    assert pick_step_tag(tok) == "@"  # "ки" is not in the char vocabulary
    good, bad = label_token_ids(tok, "+", "-")
    assert tok.convert_ids_to_tokens([good, bad]) == ["+", "-"]
    enc = encode_tagged(tok, "Compute 3 * 4 + 2", TEXT, TagFormat("@", "+", "-", "prompt"))
    prompt_len = len(tok(build_prompt(tok, "Compute 3 * 4 + 2"), add_special_tokens=False)["input_ids"])
    # char-level: token index = prompt tokens + character index in the tagged response
    assert enc.tag_pos == [prompt_len + 19, prompt_len + 60]
    assert tok.convert_ids_to_tokens([enc.ids[p] for p in enc.tag_pos]) == ["@", "@"]
    # a response that itself contains the tag character is still scored at its steps only
    enc2 = encode_tagged(tok, "Compute 1 + 1", "Step 1: 1 + 1 = 2 @@\n\nStep 2: 2 * 1 = 2\n\nThe answer is 2",
                         TagFormat("@", "+", "-", "prompt"))
    assert len(enc2.tag_pos) == 2  # two steps, two tags; the response's own "@@" is not one
    assert tok.decode(enc2.ids[enc2.tag_pos[0] - 3:enc2.tag_pos[0] + 1]) == "@@ @"


def test_released_math_shepherd_sample_format_is_reproduced(shepherd_samples):
    """Our tagging of the sample's steps gives its `input` byte for byte, and the tags sit where its +/- labels are."""
    tok = build_tokenizer()
    tok.add_tokens(["ки"])  # one token, as in the released Mistral tokenizer
    tag_id = tok.convert_tokens_to_ids("ки")
    for rec in shepherd_samples:
        question, output = rec["input"].split(" Step 1:", 1)
        response = ("Step 1:" + output).replace(" ки", "")
        tagged, ends = tag_text(response, "ки")
        assert f"{question} {tagged}" == rec["input"]
        # the label string is the input with each tag replaced by its step's label
        labels = [rec["label"][len(question) + 1 + e - 1 - i] for i, e in enumerate(ends)]
        assert set(labels) <= {"+", "-"} and len(labels) == rec["input"].count("ки")
        enc = encode_tagged(tok, question, response, TagFormat("ки", "+", "-", "shepherd"))
        # same positions as the model card's `input_id == step_tag_id`
        assert enc.tag_pos == [i for i, t in enumerate(enc.ids) if t == tag_id]


@pytest.fixture
def prm_dir(tiny_lm_dir, tmp_path):
    from reward_models.lm.loading import load_causal_lm, save_model
    model, tok = load_causal_lm(tiny_lm_dir("nano", 2))
    out = tmp_path / "prm"
    save_model(model, tok, out)
    write_format(out, TagFormat("@", "+", "-", "prompt"))
    return out


def test_scores_are_p_good_at_each_tag_and_do_not_depend_on_batching(prm_dir, cache_root):
    from reward_models.lm.loading import load_causal_lm
    pool = Pool([Problem("p0", "Compute 3 * 4 + 2", "14", [Response(TEXT, "14", True),
                                                            Response("The answer is 13", "13", False)]),
                 Problem("p1", "Compute 7 * 8", "56",
                         [Response("Step 1: 7 * 8 = 54\n\nThe answer is 54", "54", False)])])
    ss = get_rm("hf_prm", model=str(prm_dir), progress=False, score_batch_size=1).score(pool)
    assert ss.meta["step_tag"] == "@" and ss.meta["input_format"] == "prompt"  # read from prm_config.json
    model, tok = load_causal_lm(prm_dir)
    good, bad = label_token_ids(tok, "+", "-")
    for prob, scores in zip(pool.problems, ss.step_scores):
        for resp, steps in zip(prob.responses, scores):
            enc = encode_tagged(tok, prob.problem, resp.text, TagFormat("@", "+", "-", "prompt"))
            with torch.no_grad():
                logits = model(torch.tensor([enc.ids])).logits[0]  # unbatched, unpadded
            want = [torch.softmax(logits[p, [good, bad]], -1)[0].item() for p in enc.tag_pos]
            assert steps == pytest.approx(want, abs=1e-5)
            assert len(steps) == len(step_spans(resp.text)) and all(0 < s < 1 for s in steps)
    batched = get_rm("hf_prm", model=str(prm_dir), progress=False, score_batch_size=8).compute_scores(pool)[0]
    assert [s for p in batched for r in p for s in r] == pytest.approx(
        [s for p in ss.step_scores for r in p for s in r], abs=1e-5)
    assert [len(s) for s in ss.aggregate("prod")] == [2, 1]


def test_options_override_the_checkpoint_format_and_bad_input_is_one_error(prm_dir, tmp_path):
    assert resolve_format(prm_dir, step_tag="#").as_dict() == {"step_tag": "#", "good": "+", "bad": "-",
                                                               "input_format": "prompt"}
    assert resolve_format(tmp_path).step_tag == "ки"  # no prm_config.json: Math-Shepherd's defaults
    with pytest.raises(InputError, match="input format"):
        resolve_format(prm_dir, input_format="chat")
    with pytest.raises(InputError, match="not one known token"):
        label_token_ids(build_tokenizer(), "good", "bad")
    with pytest.raises(InputError, match="--model"):
        get_rm("hf_prm").scoring_identity()


# --- the released Math-Shepherd PRM's layout: sentencepiece tokenizer.model without tokenizer.json -------------------

SHEPHERD_QUESTION = "Janet has 16 eggs. She eats 3 and sells the rest at 2 dollars each. How much does she make?"
SHEPHERD_RESPONSES = [  # one step per line, as Math-Shepherd's and GSM8K's solutions are written
    "Step 1: She eats 3, so 16 - 3 = 13 eggs are left.\nStep 2: She sells 13 * 2 = 26 dollars. The answer is: 26",
    "She eats 3, so 16 - 3 = 13.\nShe sells them: 13 * 2 = 26.\nThe answer is: 26",
    "16 - 3 = 12\n12 * 2 = 24\nThe answer is: 24",
]


def card_step_scores(folder, question: str, output: str) -> list[float]:
    """peiyi9979/math-shepherd-mistral-7b-prm's model card, transcribed: " ки" at the end of every step line,
    input f"{question} {output}", softmax over the '+'/'-' logits at every ки token, P('+')."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    good_token, bad_token, step_tag = "+", "-", "ки"
    tokenizer = AutoTokenizer.from_pretrained(folder)
    candidate_tokens = tokenizer.encode(f"{good_token} {bad_token}")[1:]
    step_tag_id = tokenizer.encode(f"{step_tag}")[-1]
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tagged = "\n".join(line + f" {step_tag}" for line in output.split("\n") if line.strip())
    input_id = torch.tensor([tokenizer.encode(f"{question} {tagged}")])
    with torch.no_grad():
        logits = model(input_id).logits[:, :, candidate_tokens]
        scores = logits.softmax(dim=-1)[:, :, 0]
        return scores[input_id == step_tag_id].tolist()


def test_a_folder_laid_out_like_math_shepherds_release_loads_and_scores_as_its_card(tmp_path, cache_root):
    """tokenizer.model (sentencepiece, converted by transformers with `sentencepiece` + `protobuf`), no
    tokenizer.json, safetensors weights of a MistralForCausalLM: hf_prm with its defaults (ки, +, -, the card's
    "question answer" layout) gives the card's step scores, one per line."""
    import _released as R

    from reward_models.lm.loading import load_tokenizer
    folder = R.shepherd_release(tmp_path / "math-shepherd-mistral-7b-prm")
    assert not (folder / "tokenizer.json").exists()
    tok = load_tokenizer(folder)
    assert tok.convert_ids_to_tokens(tok.encode("+ -"))[1:] == ["▁+", "▁-"] and tok.encode("ки")[-1] == 3
    pool = Pool([Problem("p0", SHEPHERD_QUESTION, "26", [Response(t) for t in SHEPHERD_RESPONSES])])
    got = get_rm("hf_prm", model=str(folder), progress=False, score_batch_size=2).compute_scores(pool)[0][0]
    want = [card_step_scores(folder, SHEPHERD_QUESTION, t) for t in SHEPHERD_RESPONSES]
    assert [len(s) for s in got] == [2, 3, 3]  # the unmarked responses are one step per line
    for g, w in zip(got, want):
        assert g == pytest.approx(w, abs=1e-5)
    assert len({round(s, 6) for s in got[1] + got[2]}) == 6  # a random model still scores every step differently


def test_a_tokenizer_model_without_sentencepiece_is_one_clear_error(tmp_path, monkeypatch):
    """Without sentencepiece, transformers would ask for tiktoken; the message names the packages really needed."""
    import sys

    import _released as R

    from reward_models.lm.loading import load_tokenizer
    folder = tmp_path / "release"
    folder.mkdir()
    (folder / "tokenizer.model").write_bytes(R.sentencepiece_model())
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "sentencepiece", None)  # import sentencepiece now raises ImportError
    with pytest.raises(InputError) as e:
        load_tokenizer(folder)
    assert "sentencepiece" in str(e.value) and "protobuf" in str(e.value) and "tiktoken" not in str(e.value)
