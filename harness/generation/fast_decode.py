"""A lean incremental decoder for Llama-architecture checkpoints, used for sampling on CPU.

Hugging Face's generic cache grows its key/value tensors by concatenation at every step, which for the tiny arith
models costs more than the model itself. This decoder reads the same weights, preallocates the cache once, and
computes exactly the Llama forward pass (RMSNorm, rotary embeddings, SiLU-gated MLP, grouped-query attention);
tests/generation/test_fast_decode.py checks its logits against `LlamaForCausalLM` to 1e-4. Other architectures fall
back to the generic path in harness.generation.sampling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def supports(model) -> bool:
    """A plain Llama in float32 on the CPU (its cache and sampling are CPU code; on a GPU `generate`'s cache is
    not the bottleneck)."""
    cfg = model.config
    p = next(model.parameters())
    return (p.device.type == "cpu" and p.dtype == torch.float32
            and getattr(cfg, "model_type", None) == "llama" and _plain_rope(cfg)
            and not getattr(cfg, "attention_bias", False) and not getattr(cfg, "mlp_bias", False)
            and getattr(cfg, "hidden_act", "silu") == "silu")


def _plain_rope(cfg) -> bool:
    """Unscaled rotary embeddings only. transformers 5 spells them {'rope_type': 'default', 'rope_theta': ...} in
    rope_scaling/rope_parameters, older versions None: both count; a scaled variant (linear, llama3, yarn) does not."""
    for name in ("rope_scaling", "rope_parameters"):
        rs = getattr(cfg, name, None) or {}
        if rs.get("rope_type", rs.get("type", "default")) != "default":
            return False
    return True


class LlamaDecoder:
    def __init__(self, model):
        cfg = model.config
        self.cfg = cfg
        self.m = model.model
        self.lm_head = model.lm_head
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.eps = cfg.rms_norm_eps
        self.scale = self.head_dim ** -0.5
        theta = getattr(cfg, "rope_theta", None) or (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta",
                                                                                                     10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim))

    def _norm(self, x, w):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * w

    def _rope(self, pos):  # pos: [B, T] -> cos, sin [B, 1, T, D]
        freqs = pos.float().unsqueeze(-1) * self.inv_freq
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)

    @staticmethod
    def _rot(x, cos, sin):
        x1, x2 = x.chunk(2, dim=-1)
        return x * cos + torch.cat([-x2, x1], dim=-1) * sin

    def forward(self, ids, pos, kv, start, key_mask):
        """Run tokens `ids` [B, T] at cache slots start..start+T; key_mask [B, start+T] marks real tokens. Returns the
        logits of the last position."""
        x = self._layers(ids, pos, kv, start, key_mask)
        return self.lm_head(self._norm(x[:, -1], self.m.norm.weight))

    def hidden(self, ids, pos, kv, start, key_mask):
        """The final-norm hidden states [B, T, H] of every position of `ids` (see forward). Blocks of several
        tokens attend grouped by kv head (enable_gqa): the search extends long caches by blocks, and copying every
        key `rep` times cost more than the attention itself."""
        return self._norm(self._layers(ids, pos, kv, start, key_mask, grouped=True), self.m.norm.weight)

    def _layers(self, ids, pos, kv, start, key_mask, grouped: bool = False):
        B, T = ids.shape
        x = self.m.embed_tokens(ids)
        cos, sin = (c.to(x.dtype) for c in self._rope(pos))
        end = start + T
        causal = torch.ones(T, end, dtype=torch.bool).tril(diagonal=start)
        mask = causal.unsqueeze(0) & key_mask[:, None, :end]  # [B, T, end]
        mask = mask.unsqueeze(1)
        rep = self.n_heads // self.n_kv
        for i, layer in enumerate(self.m.layers):
            a = layer.self_attn
            h = self._norm(x, layer.input_layernorm.weight)
            q = a.q_proj(h).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
            k = a.k_proj(h).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
            v = a.v_proj(h).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
            q, k = self._rot(q, cos, sin), self._rot(k, cos, sin)
            kv[i][0][:, :, start:end] = k
            kv[i][1][:, :, start:end] = v
            K, V = kv[i][0][:, :, :end], kv[i][1][:, :, :end]
            if T == 1:  # one query: a plain batched matmul beats the fused kernel by far on CPU
                # Grouped-query attention: the `rep` query heads of a kv head attend as one [rep, D] block, so the
                # cache is read once per kv head instead of being copied `rep` times (decoding is bound by reading
                # the cache). rep == 1 is the plain multi-head computation, unchanged.
                qg = q.view(B, self.n_kv, rep, self.head_dim)
                att = (qg @ K.transpose(-1, -2)) * self.scale
                att = att.masked_fill(~mask, float("-inf")).softmax(-1)
                o = (att @ V).view(B, self.n_heads, 1, self.head_dim)
            elif grouped and rep > 1:
                o = F.scaled_dot_product_attention(q, K, V, attn_mask=mask, enable_gqa=True)
            else:
                if rep > 1:
                    K, V = K.repeat_interleave(rep, dim=1), V.repeat_interleave(rep, dim=1)
                o = F.scaled_dot_product_attention(q, K, V, attn_mask=mask)
            x = x + a.o_proj(o.transpose(1, 2).reshape(B, T, -1))
            h = self._norm(x, layer.post_attention_layernorm.weight)
            mlp = layer.mlp
            x = x + mlp.down_proj(F.silu(mlp.gate_proj(h)) * mlp.up_proj(h))
        return x

    @torch.inference_mode()
    def sample(self, input_ids, attention_mask, temperature, max_new_tokens, eos_id, pad_id, gen):
        B, P = input_ids.shape
        L = P + max_new_tokens
        dtype = self.m.embed_tokens.weight.dtype
        kv = [(torch.zeros(B, self.n_kv, L, self.head_dim, dtype=dtype),
               torch.zeros(B, self.n_kv, L, self.head_dim, dtype=dtype)) for _ in self.m.layers]
        key_mask = torch.zeros(B, L, dtype=torch.bool)
        key_mask[:, :P] = attention_mask.bool()
        pos = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        logits = self.forward(input_ids, pos, kv, 0, key_mask)
        next_pos = pos[:, -1:] + 1
        out = torch.full((B, max_new_tokens), pad_id, dtype=torch.long)
        rows = torch.arange(B)                    # which original row each batch row is
        alive = torch.ones(B, dtype=torch.bool)   # batch rows still writing (finished ones ride along until pruned)
        for t in range(max_new_tokens):
            probs = torch.softmax(logits.float() / temperature, dim=-1)
            # One draw per original row, in original order, so dropping finished rows never changes the samples.
            tok = torch.multinomial(_full_probs(probs, rows[alive], alive, B), 1, generator=gen).squeeze(1)[rows]
            out[rows[alive], t] = tok[alive]
            alive &= tok != eos_id
            n_alive = int(alive.sum())
            if n_alive == 0 or t + 1 == max_new_tokens:
                break
            # Copying the whole cache to drop finished rows costs more than carrying them, so prune only when a
            # quarter of the batch is dead weight.
            if n_alive <= 0.75 * len(rows):
                keep = alive
                rows, tok, next_pos, key_mask = rows[keep], tok[keep], next_pos[keep], key_mask[keep]
                alive = alive[keep]
                kv = [(_prune(k, keep, P + t), _prune(v, keep, P + t)) for k, v in kv]
            key_mask[:, P + t] = True
            logits = self.forward(tok.unsqueeze(1), next_pos, kv, P + t, key_mask)
            next_pos = next_pos + 1
        return out


def _prune(cache, keep, filled):
    """The kept rows of a cache tensor [B, H, L, D]; only the filled slots are copied (the rest get overwritten)."""
    out = torch.empty((int(keep.sum()),) + tuple(cache.shape[1:]), dtype=cache.dtype)
    out[:, :, :filled] = cache[keep, :, :filled]
    return out


def _full_probs(probs, live_rows, alive, B):
    """Probabilities for all B original rows: the live rows' own, a dummy for finished rows (drawn, never used)."""
    if len(live_rows) == B:
        return probs
    full = torch.zeros(B, probs.shape[1], dtype=probs.dtype)
    full[:, 0] = 1.0
    full[live_rows] = probs[alive]
    return full
