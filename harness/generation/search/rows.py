"""Key/value caches of a batch of partial solutions for one Llama model, extended block by block and forked.

Every extension writes one block of cache slots for the whole batch; a row with fewer new tokens than the block
leaves masked holes, and its position ids count only its real tokens, so a row computes what it would alone (the
decoder's attention masks the holes). Forking a row (a beam kept and expanded M ways) copies its cache rows; nothing
already run is run again. This is what makes q_t of a growing prefix cost one forward of each new token.
"""

from __future__ import annotations

import torch

from harness.generation.fast_decode import LlamaDecoder


class RowCache:
    def __init__(self, decoder: LlamaDecoder, rows: int, capacity: int = 256):
        self.dec = decoder
        dtype = decoder.m.embed_tokens.weight.dtype
        self.kv = [(torch.zeros(rows, decoder.n_kv, capacity, decoder.head_dim, dtype=dtype),
                    torch.zeros(rows, decoder.n_kv, capacity, decoder.head_dim, dtype=dtype))
                   for _ in decoder.m.layers]
        self.key_mask = torch.zeros(rows, capacity, dtype=torch.bool)
        self.n_real = torch.zeros(rows, dtype=torch.long)   # real tokens so far: the next position id
        self.used = 0                                       # slots written (real tokens and holes)
        self.last = torch.zeros(rows, decoder.cfg.hidden_size, dtype=dtype)  # hidden state at each row's last token

    @property
    def rows(self) -> int:
        return self.key_mask.shape[0]

    def _ensure(self, need: int) -> None:
        cap = self.key_mask.shape[1]
        if need <= cap:
            return
        new = max(need, 2 * cap)

        def grow(t):  # [rows, heads, slots, dim]
            out = t.new_zeros(t.shape[:2] + (new,) + t.shape[3:])
            out[:, :, :self.used] = t[:, :, :self.used]
            return out

        self.kv = [(grow(k), grow(v)) for k, v in self.kv]
        mask = torch.zeros(self.rows, new, dtype=torch.bool)
        mask[:, :self.used] = self.key_mask[:, :self.used]
        self.key_mask = mask

    @torch.inference_mode()
    def extend(self, block: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """Run row i's first lens[i] tokens of `block` [rows, T] after its cache; the hidden states [rows, T, H]."""
        rows, T = block.shape
        if T == 0:
            return torch.zeros(rows, 0, self.last.shape[1], dtype=self.last.dtype)
        self._ensure(self.used + T)
        ar = torch.arange(T)
        valid = ar.unsqueeze(0) < lens.unsqueeze(1)
        self.key_mask[:, self.used:self.used + T] = valid
        pos = self.n_real.unsqueeze(1) + ar
        x = self.dec.hidden(block, pos, self.kv, self.used, self.key_mask)
        has = lens > 0
        at = x[torch.arange(rows), (lens - 1).clamp(min=0)]
        self.last = torch.where(has.unsqueeze(1), at, self.last)
        self.n_real = self.n_real + lens
        self.used += T
        return x

    def logits(self) -> torch.Tensor:
        """Next-token logits of every row (after its last real token)."""
        return self.dec.lm_head(self.last)

    def select(self, rows: torch.Tensor, headroom: int = 64) -> "RowCache":
        """A cache of the given rows (repeats allowed: forks), with `headroom` free slots. Only the written slots
        are copied."""
        out = object.__new__(RowCache)
        out.dec = self.dec
        u, cap = self.used, self.used + headroom

        def take(t):
            dst = t.new_zeros((len(rows),) + t.shape[1:2] + (cap,) + t.shape[3:])
            dst[:, :, :u] = t[:, :, :u].index_select(0, rows)
            return dst

        out.kv = [(take(k), take(v)) for k, v in self.kv]
        out.key_mask = torch.zeros(len(rows), cap, dtype=torch.bool)
        out.key_mask[:, :u] = self.key_mask[:, :u].index_select(0, rows)
        out.n_real = self.n_real.index_select(0, rows)
        out.used = self.used
        out.last = self.last.index_select(0, rows)
        return out


def pad_block(seqs: list[list[int]], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded [rows, max len] block and the lengths."""
    width = max((len(s) for s in seqs), default=0)
    block = torch.full((len(seqs), width), pad, dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            block[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return block, torch.tensor([len(s) for s in seqs], dtype=torch.long)
