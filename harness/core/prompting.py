"""How a problem becomes the prompt a generator continues and a reward model conditions on.

Generation, training and scoring all go through this one function, so a response is always scored in exactly the
context it was written in.
"""

from __future__ import annotations


def build_prompt(tokenizer, problem: str, system: str | None = None) -> str:
    if getattr(tokenizer, "chat_template", None):
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": problem}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return (system + "\n\n" if system else "") + problem + "\n"
