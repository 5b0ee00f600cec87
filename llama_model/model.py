"""The LLaMA / Llama 2 decoder-only transformer (SPEC §3), written like the reference model.py.

    from llama_model.configs import get_profile
    from llama_model.model import Transformer
    model = Transformer(get_profile("tiny").model)
    logits = model(tokens)                 # tokens LongTensor [B, T] -> float32 logits [B, T, vocab]
    hidden = model.forward_hidden(tokens)  # final-RMSNorm'd hidden states [B, T, dim] (reward / value heads)

Pre-normalization with RMSNorm, SwiGLU feed-forward (hidden 2/3·4d rounded up to `multiple_of`), rotary
position embeddings on adjacent pairs (the reference's complex form), grouped-query attention, no biases,
untied embeddings. Causal attention goes through `F.scaled_dot_product_attention`, which picks the flash /
memory-efficient kernels on GPU (no attention matrix is stored). Parameter names are exactly the keys of
the reference checkpoints (`tok_embeddings`, `layers.N.attention.wq`, ..., `norm`, `output`), so a Meta
`consolidated.00.pth` loads with `load_state_dict` as is.

Parallelism is applied from outside (torchtitan style): `enable_activation_checkpointing(model)` and
FSDP2's `fully_shard` (llama_model/train.py) do not change parameter names.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from llama_model.configs import ModelArgs
from llama_model.loss import linear_cross_entropy


class RMSNorm(nn.Module):
    """x / rms(x) * weight, computed in float32 (as the reference does) and cast back."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        out = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return out.type_as(x) * self.weight


def precompute_freqs_cis(head_dim: int, end: int, theta: float = 10000.0, device=None) -> torch.Tensor:
    """Complex rotations e^{i·m·θ_k} for positions m < end and pair k: [end, head_dim // 2] complex64."""
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=device)[: head_dim // 2].float() / head_dim))
    t = torch.arange(end, device=device, dtype=torch.float32)
    freqs = torch.outer(t, freqs)
    return torch.polar(torch.ones_like(freqs), freqs)


def apply_rotary_emb(xq: torch.Tensor, xk: torch.Tensor, freqs_cis: torch.Tensor):
    """Rotate adjacent pairs (x[2k], x[2k+1]) of q and k [B, T, H, hd] by freqs_cis [T, hd/2]."""
    xq_ = torch.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    xk_ = torch.view_as_complex(xk.float().reshape(*xk.shape[:-1], -1, 2))
    f = freqs_cis.view(1, xq_.shape[1], 1, xq_.shape[-1])
    xq_out = torch.view_as_real(xq_ * f).flatten(3)
    xk_out = torch.view_as_real(xk_ * f).flatten(3)
    return xq_out.type_as(xq), xk_out.type_as(xk)


class KVCache:
    """Keys and values of every layer for positions [0, max_len): [B, n_kv_heads, max_len, head_dim] each."""

    def __init__(self, args: ModelArgs, batch_size: int, max_len: int | None = None,
                 device: torch.device | str | None = None, dtype: torch.dtype = torch.float32):
        self.max_len = max_len or args.max_seq_len
        shape = (batch_size, args.kv_heads, self.max_len, args.head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(args.n_layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(args.n_layers)]

    def update(self, layer: int, start_pos: int, k: torch.Tensor, v: torch.Tensor):
        """Store k, v [B, n_kv, T, hd] at start_pos; return all keys/values [B, n_kv, start_pos+T, hd]."""
        end = start_pos + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"KV cache holds {self.max_len} positions; asked for {end}")
        self.k[layer][:, :, start_pos:end] = k
        self.v[layer][:, :, start_pos:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]


class Attention(nn.Module):
    """Multi-head attention with grouped-query K/V heads (n_kv_heads divides n_heads) and RoPE."""

    def __init__(self, args: ModelArgs, layer_id: int):
        super().__init__()
        self.layer_id = layer_id
        self.n_heads, self.n_kv_heads, self.head_dim = args.n_heads, args.kv_heads, args.head_dim
        assert self.n_heads % self.n_kv_heads == 0, "n_kv_heads must divide n_heads"
        self.wq = nn.Linear(args.dim, self.n_heads * self.head_dim, bias=False)
        self.wk = nn.Linear(args.dim, self.n_kv_heads * self.head_dim, bias=False)
        self.wv = nn.Linear(args.dim, self.n_kv_heads * self.head_dim, bias=False)
        self.wo = nn.Linear(self.n_heads * self.head_dim, args.dim, bias=False)

    def forward(self, x: torch.Tensor, freqs_cis: torch.Tensor, start_pos: int = 0,
                kv_cache: KVCache | None = None) -> torch.Tensor:
        B, T, _ = x.shape
        q, k, v = self.wq(x), self.wk(x), self.wv(x)
        q = q.view(B, T, self.n_heads, self.head_dim)
        k = k.view(B, T, self.n_kv_heads, self.head_dim)
        v = v.view(B, T, self.n_kv_heads, self.head_dim)
        q, k = apply_rotary_emb(q, k, freqs_cis)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)   # [B, H, T, hd]
        if kv_cache is not None:
            k, v = kv_cache.update(self.layer_id, start_pos, k.to(kv_cache.k[0].dtype), v.to(kv_cache.v[0].dtype))
            k, v = k.to(q.dtype), v.to(q.dtype)
        S = k.shape[2]
        # GQA: each K/V head serves n_heads // n_kv_heads query heads; SDPA broadcasts them itself
        # (enable_gqa), so the keys and values (and the whole KV cache) are never copied per query head.
        gqa = self.n_kv_heads != self.n_heads
        if gqa and q.is_cuda and (q.dtype == torch.float32 or S != T):
            # On GPU only the flash kernel (bf16/fp16, no mask) takes enable_gqa; for the others expand
            # K/V so the memory-efficient kernel is used instead of the math one.
            k = k.repeat_interleave(self.n_heads // self.n_kv_heads, dim=1)
            v = v.repeat_interleave(self.n_heads // self.n_kv_heads, dim=1)
            gqa = False
        if S == T:          # no cached prefix: plain causal attention (flash / memory-efficient kernels)
            out = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1, enable_gqa=gqa)
        elif T == 1:        # one new token attends to everything cached
            out = F.scaled_dot_product_attention(q, k, v, enable_gqa=gqa)
        else:               # a chunk after a cached prefix: query i sees keys j <= S - T + i
            mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=gqa)
        return self.wo(out.transpose(1, 2).reshape(B, T, -1))


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x)."""

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden_dim, bias=False)
        self.w2 = nn.Linear(hidden_dim, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class TransformerBlock(nn.Module):
    """Pre-norm residual block: h = x + attn(norm(x)); out = h + ffn(norm(h))."""

    def __init__(self, layer_id: int, args: ModelArgs):
        super().__init__()
        self.layer_id = layer_id
        self.attention = Attention(args, layer_id)
        self.feed_forward = FeedForward(args.dim, args.hidden_dim)
        self.attention_norm = RMSNorm(args.dim, eps=args.norm_eps)
        self.ffn_norm = RMSNorm(args.dim, eps=args.norm_eps)
        self.checkpoint: str | None = None   # None, "full" or "selective"; set by enable_activation_checkpointing

    def forward(self, x: torch.Tensor, freqs_cis: torch.Tensor, start_pos: int = 0,
                kv_cache: KVCache | None = None) -> torch.Tensor:
        h = x + self.attention(self.attention_norm(x), freqs_cis, start_pos, kv_cache)
        return h + self.feed_forward(self.ffn_norm(h))


class Transformer(nn.Module):
    """Token embedding -> n_layers TransformerBlocks -> RMSNorm -> output projection (untied)."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.vocab_size, self.n_layers = args.vocab_size, args.n_layers
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)
        self.layers = nn.ModuleList(TransformerBlock(i, args) for i in range(args.n_layers))
        self.norm = RMSNorm(args.dim, eps=args.norm_eps)
        self.output = nn.Linear(args.dim, args.vocab_size, bias=False)
        # RoPE table: a plain attribute, not a buffer, so it never enters state_dict nor gets cast to
        # bf16 with the weights; built lazily on the device of the first forward (meta-device init safe).
        self._freqs_cis: torch.Tensor | None = None
        if not any(p.is_meta for p in self.parameters()):
            self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """N(0, 0.02) everywhere, residual projections (wo, w2) scaled by 1/sqrt(2·n_layers) (GPT-2 style);
        norms at one. Seed torch beforehand for reproducible weights."""
        std = 0.02
        for name, p in self.named_parameters():
            if p.dim() == 1:
                nn.init.ones_(p)
            elif name.endswith(("attention.wo.weight", "feed_forward.w2.weight")):
                nn.init.normal_(p, mean=0.0, std=std / math.sqrt(2 * self.n_layers))
            else:
                nn.init.normal_(p, mean=0.0, std=std)

    def freqs_cis(self, device: torch.device) -> torch.Tensor:
        f = self._freqs_cis
        if f is None or f.device != device:
            # Twice the context, like the reference, so generation may run a little past max_seq_len.
            # Built outside inference mode: a table first made inside generate() would otherwise be an
            # inference tensor and break every later training step of the same model.
            with torch.inference_mode(False):
                f = precompute_freqs_cis(self.args.head_dim, self.args.max_seq_len * 2, self.args.rope_theta, device)
            self._freqs_cis = f
        return f

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def new_kv_cache(self, batch_size: int, max_len: int | None = None, dtype: torch.dtype | None = None) -> KVCache:
        p = self.tok_embeddings.weight
        return KVCache(self.args, batch_size, max_len, device=p.device, dtype=dtype or p.dtype)

    def forward_hidden(self, tokens: torch.Tensor, start_pos: int = 0, kv_cache: KVCache | None = None) -> torch.Tensor:
        """tokens [B, T] at positions start_pos.. -> final RMSNorm'd hidden states [B, T, dim]."""
        return self._hidden(tokens, start_pos, kv_cache)

    def hidden_and_logits(self, tokens: torch.Tensor, start_pos: int = 0, kv_cache: KVCache | None = None,
                          last_only: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(hidden states [B, T, dim], float32 logits [B, T, vocab]); last_only keeps the last position
        (generation). One call, so that FSDP2, which wraps it as a forward method, gathers the output
        projection's weights with the rest (llama_model/parallel.py shard_stage_model)."""
        h = self._hidden(tokens, start_pos, kv_cache)
        if last_only:
            h = h[:, -1:]
        return h, self.output(h).float()

    def _hidden(self, tokens: torch.Tensor, start_pos: int, kv_cache: KVCache | None) -> torch.Tensor:
        B, T = tokens.shape
        h = self.tok_embeddings(tokens)
        freqs = self.freqs_cis(h.device)
        if start_pos + T > freqs.shape[0]:
            raise ValueError(f"positions up to {start_pos + T} exceed the RoPE table ({freqs.shape[0]})")
        freqs = freqs[start_pos:start_pos + T]
        for layer in self.layers:
            if layer.checkpoint and self.training and torch.is_grad_enabled():
                h = _checkpointed(layer, h, freqs)
            else:
                h = layer(h, freqs, start_pos, kv_cache)
        return self.norm(h)

    def forward(self, tokens: torch.Tensor, start_pos: int = 0, kv_cache: KVCache | None = None,
                targets: torch.Tensor | None = None, ignore_index: int = -100) -> torch.Tensor:
        """tokens [B, T] -> next-token logits [B, T, vocab] in float32; with targets [B, T], the mean
        cross-entropy instead (targets equal to ignore_index skipped), computed fused with the output
        projection so the logits are never stored (llama_model/loss.py). Going through forward keeps
        FSDP2's and DDP's hooks in the loop."""
        h = self._hidden(tokens, start_pos, kv_cache)
        if targets is not None:
            return linear_cross_entropy(h, self.output.weight, targets, ignore_index=ignore_index)
        return self.output(h).float()


# --- activation checkpointing, applied from outside the model --------------------------------------

# Ops whose outputs selective checkpointing keeps (the expensive ones: linear layers and attention);
# cheap element-wise ops (norms, SiLU, RoPE) are recomputed in the backward pass (SPEC §3, "Efficiency").
_SAVE_OPS = {torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.bmm.default,
             torch.ops.aten._scaled_dot_product_flash_attention.default,
             torch.ops.aten._scaled_dot_product_efficient_attention.default,
             torch.ops.aten._scaled_dot_product_cudnn_attention.default,
             torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default}      # SDPA's CPU kernel


def _selective_context():
    from torch.utils.checkpoint import CheckpointPolicy, create_selective_checkpoint_contexts

    def policy(ctx, op, *args, **kwargs):
        return CheckpointPolicy.MUST_SAVE if op in _SAVE_OPS else CheckpointPolicy.PREFER_RECOMPUTE
    return create_selective_checkpoint_contexts(policy)


def _checkpointed(layer: TransformerBlock, h: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    from torch.utils.checkpoint import checkpoint

    if layer.checkpoint == "selective":
        return checkpoint(layer, h, freqs, use_reentrant=False, context_fn=_selective_context)
    return checkpoint(layer, h, freqs, use_reentrant=False)


def enable_activation_checkpointing(model: Transformer, mode: str | None = "selective") -> Transformer:
    """Recompute each block's activations in backward: "full" keeps only block inputs; "selective" also
    keeps matmul/attention outputs (recomputes only cheap ops). None turns it off. Names are unchanged."""
    if mode not in (None, "full", "selective"):
        raise ValueError(f"activation checkpointing mode must be None, 'full' or 'selective', not {mode!r}")
    for layer in model.layers:
        layer.checkpoint = mode
    return model
