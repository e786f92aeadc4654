"""Tiny randomly initialised stand-ins for released reward models: the same architecture class, special tokens and
chat-template layout as the published checkpoint, saved the way the release is (safetensors + tokenizer files)."""

from __future__ import annotations

import json
from pathlib import Path

CHATML = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
LLAMA3 = ("{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + "
          "m['content'] | trim + '<|eot_id|>' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}")
CORPUS = ["Step 1: 3 * 4 = 12", "Step 2: 12 + 2 = 14", "The answer is 14", "Compute 7 * 8 - 6", "system user",
          "assistant Please reason step by step, and put your final answer within \\boxed{}.", "+ - \n\n \n x"]


def tokenizer(specials: list[str], template: str, bos: str | None, eos: str, pad: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS * 20, trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, pad_token=pad,
                                   additional_special_tokens=[s for s in specials if s not in (bos, eos, pad)])
    fast.chat_template = template
    return fast


def qwen_tokenizer(extra=("<extra_0>",), bos=None):
    return tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>", *extra], CHATML, bos, "<|im_end|>",
                     "<|endoftext|>")


def llama3_tokenizer():
    return tokenizer(["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                      "<|eot_id|>"], LLAMA3, "<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>")


def qwen2_config(tok, **kw):
    from transformers import Qwen2Config
    return Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                       pad_token_id=tok.pad_token_id, tie_word_embeddings=False, **kw)


def llama_config(tok, **kw):
    from transformers import LlamaConfig
    return LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                       pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                       **kw)


def save_with_head(folder: Path, body_state: dict, head_state: dict, config, tok, architecture: str,
                   auto_map: dict | None = None) -> Path:
    """A checkpoint laid out as the release is: body tensors under their names plus the head's under its prefix."""
    from safetensors.torch import save_file
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in {**body_state, **head_state}.items()}, str(folder / "model.safetensors"))
    config.architectures = [architecture]
    config.save_pretrained(folder)
    if auto_map:  # the release points at remote code; the adapter must not need it
        cfg = json.loads((folder / "config.json").read_text())
        cfg["auto_map"] = auto_map
        (folder / "config.json").write_text(json.dumps(cfg))
    tok.save_pretrained(folder)
    return folder


def mistral_tokenizer():
    """A Llama-2/Mistral-style tokenizer (sentencepiece's "▁" word marks, bos added on encode, "ки" one token as in
    math-shepherd-mistral-7b-prm's vocabulary), saved as tokenizer.json."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast
    corpus = [c.replace("\n\n", " ки\n") for c in CORPUS] + ["+ - ки\n## Step 3: so 14 ки"]
    alphabet = sorted(set("".join(corpus)) | set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                                  " .,:;!?()[]{}\\$*/=+-#_^'\"<>|&%@~`"))
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split("\n", "isolated"),
                                                 pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    tok.train_from_iterator(corpus * 20, trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"],
                                                             initial_alphabet=alphabet))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A",
                                                       special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="</s>")


def mistral_config(tok, **kw):
    from transformers import MistralConfig
    return MistralConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         **kw)


# --- the tiny releases, saved the way each is published ------------------------------------------------------------

def qwen_prm(folder: Path, seed: int = 0):
    """Qwen2.5-Math-PRM: a Qwen2 body plus its two-layer `score` head, remote code named in config.json.
    Returns (folder, body, head)."""
    import torch
    from transformers import Qwen2Model
    torch.manual_seed(seed)
    tok = qwen_tokenizer()
    cfg = qwen2_config(tok)
    body = Qwen2Model(cfg).eval()
    head = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
    for p in head.parameters():
        torch.nn.init.normal_(p, std=0.5)
    save_with_head(folder, {f"model.{k}": v for k, v in body.state_dict().items()},
                   {f"score.{k}": v for k, v in head.state_dict().items()}, cfg, tok, "Qwen2ForProcessRewardModel",
                   {"AutoModel": "modeling_qwen2_rm.Qwen2ForProcessRewardModel"})
    return folder, body, head


def skywork_prm(folder: Path, seed: int = 1):
    """Skywork-o1-Open-PRM: a Qwen2ForCausalLM plus `v_head.summary`. Returns (folder, causal LM, value head)."""
    import torch
    from transformers import Qwen2ForCausalLM
    torch.manual_seed(seed)
    tok = qwen_tokenizer(extra=(), bos="<|endoftext|>")
    cfg = qwen2_config(tok)
    lm = Qwen2ForCausalLM(cfg).eval()
    v_head = torch.nn.Linear(32, 1)
    torch.nn.init.normal_(v_head.weight, std=0.5)
    save_with_head(folder, lm.state_dict(), {f"v_head.summary.{k}": v for k, v in v_head.state_dict().items()}, cfg,
                   tok, "Qwen2ForCausalLM")
    return folder, lm, v_head


def saved(folder: Path, model, tok):
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder, model


def rlhflow_prm(folder: Path, seed: int = 2):
    """RLHFlow's Llama3.1-8B-PRM: a Llama causal LM with the Llama 3 chat template. Returns (folder, model)."""
    import torch
    from transformers import LlamaForCausalLM
    torch.manual_seed(seed)
    tok = llama3_tokenizer()
    return saved(folder, LlamaForCausalLM(llama_config(tok)).eval(), tok)


def hf_orm(folder: Path, seed: int = 3):
    """Skywork-Reward-Llama-3.1: a LlamaForSequenceClassification with one label. Returns (folder, model)."""
    import torch
    from transformers import LlamaForSequenceClassification
    torch.manual_seed(seed)
    tok = llama3_tokenizer()
    return saved(folder, LlamaForSequenceClassification(llama_config(tok, num_labels=1)).eval(), tok)


def shepherd_prm(folder: Path, seed: int = 6):
    """math-shepherd-mistral-7b-prm: a MistralForCausalLM with a bos-adding tokenizer. Returns (folder, model)."""
    import torch
    from transformers import MistralForCausalLM
    torch.manual_seed(seed)
    tok = mistral_tokenizer()
    return saved(folder, MistralForCausalLM(mistral_config(tok)).eval(), tok)


# --- Math-Shepherd's release: a Mistral body and a sentencepiece tokenizer.model, no tokenizer.json -----------------

SHEPHERD_CORPUS = ["Janet has 16 eggs. She eats 3, so 16 - 3 = 13 eggs are left.",
                   "She sells 13 - 4 = 9 eggs at 2 dollars, so 9 * 2 = 18. The answer is: 18",
                   "Step 1: 2 + 3 = 5 ки", "Step 2: 5 * 2 = 10 ки", "Step 3: 10 - 4 = 6 ки", "The answer is 6 ки",
                   "Compute 7 * 8 - 6 and 3 * 4 + 2. Let x = 4 so x + 1 = 5 and x - 1 = 3."]


def sentencepiece_model() -> bytes:
    """A tiny Llama-style sentencepiece BPE model (byte fallback, identity normalisation, digits split, bos/eos/unk at
    1/2/0) where "ки" is one piece and "+" / "-" after a space are the pieces "▁+" / "▁-", as in Mistral's vocabulary
    that the released Math-Shepherd PRM uses."""
    import io

    import sentencepiece as spm
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SHEPHERD_CORPUS * 30), model_writer=out, vocab_size=400, model_type="bpe",
        byte_fallback=True, split_digits=True, user_defined_symbols=["ки"], unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        normalization_rule_name="identity", remove_extra_whitespaces=False, allow_whitespace_only_pieces=True,
        hard_vocab_limit=False, character_coverage=1.0, minloglevel=2)
    return out.getvalue()


def shepherd_release(folder: Path, seed: int = 0) -> Path:
    """A folder laid out as peiyi9979/math-shepherd-mistral-7b-prm's release (config.json of a MistralForCausalLM,
    generation_config.json, tokenizer.model, tokenizer_config.json, special_tokens_map.json; no tokenizer.json),
    with a tiny random Mistral saved as safetensors (the release's Hub PR branch; main holds pickle files)."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    from reward_models.lm.loading import save_model
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.model").write_bytes(sentencepiece_model())
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(specials))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        **specials, "tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False,
        "legacy": True, "pad_token": None, "model_max_length": 1000000000000000019884624838656,
        "clean_up_tokenization_spaces": False}))
    torch.manual_seed(seed)
    config = MistralConfig(vocab_size=400, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                           bos_token_id=1, eos_token_id=2, sliding_window=None)
    save_model(MistralForCausalLM(config).eval(), None, folder)
    return folder


def fake_hub(cache: Path, repo_id: str, revisions: dict[str, Path]) -> Path:
    """A Hugging Face hub cache (the layout huggingface_hub reads offline: refs/<revision> holds a commit hash,
    snapshots/<hash>/ the files) holding `repo_id` at each revision, e.g. {"main": folder, "refs/pr/4": folder}."""
    import hashlib
    import shutil
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    for revision, folder in revisions.items():
        commit = hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()
        shutil.copytree(folder, repo / "snapshots" / commit)
        ref = repo / "refs" / revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(commit)
    return cache


def pickle_only(folder: Path, out: Path, marker: Path) -> Path:
    """`folder`'s config and tokenizer files beside a pytorch_model.bin whose unpickling would create `marker`: the
    layout of a release whose main branch holds only pickle weights."""
    import pickle
    import shutil
    out.mkdir(parents=True)
    for f in folder.iterdir():
        if f.suffix != ".safetensors":
            shutil.copy(f, out / f.name)
    with open(out / "pytorch_model.bin", "wb") as fh:
        pickle.dump(Unpickled(str(marker)), fh)
    return out


class Unpickled:
    """Unpickling this creates a marker file: the proof that a pickle-only checkpoint was never unpickled."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))
