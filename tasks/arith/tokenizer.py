"""A character-level tokenizer for the arith world, built in code as a real `PreTrainedTokenizerFast`.

Every printable ASCII character and newline is one token, so offsets map one-to-one onto characters and any text a
generator writes can be encoded. A chat template wraps the problem as a user turn, the way instruction-tuned
generators are prompted.
"""

from __future__ import annotations

import string

from tokenizers import Tokenizer, decoders, models
from transformers import PreTrainedTokenizerFast

SPECIAL = {"pad": "<pad>", "bos": "<s>", "eos": "</s>", "unk": "<unk>"}
CHAT = ["<|user|>", "<|assistant|>"]
CHARS = list(string.digits + string.ascii_letters + string.punctuation + " \n")

CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}<|user|>{{ m['content'] }}\n"
    "{% elif m['role'] == 'assistant' %}<|assistant|>{{ m['content'] }}</s>{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {tok: i for i, tok in enumerate(list(SPECIAL.values()) + CHAT + CHARS)}
    # BPE with no merges splits text into single characters and keeps exact character offsets.
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=SPECIAL["unk"]))
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=SPECIAL["pad"], bos_token=SPECIAL["bos"], eos_token=SPECIAL["eos"], unk_token=SPECIAL["unk"],
        additional_special_tokens=CHAT,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "right"
    return fast
