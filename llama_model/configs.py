"""Scale profiles: model, pretraining, data and alignment hyper-parameters, from a 2-core demo to 70B.

The paper profiles (llama-*, llama2-*) use the numbers of SPEC.md exactly; `tiny` and `small` are
scaled down so the whole graph runs on a laptop. This module imports nothing heavy (no torch), so the
data pipeline and the CLI can read it cheaply.

    llama-pipeline config llama-7b      # prints one profile and its parameter count
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field

DEFAULT_PROFILE = "tiny"


@dataclass(frozen=True)
class ModelArgs:
    dim: int = 4096                  # model width d
    n_layers: int = 32
    n_heads: int = 32
    n_kv_heads: int | None = None    # grouped-query attention; None = n_heads (multi-head)
    vocab_size: int = 32000          # SPEC §2
    multiple_of: int = 256           # SwiGLU hidden size is rounded up to a multiple of this
    ffn_dim_multiplier: float | None = None  # Llama-2-70B: 1.3
    norm_eps: float = 1e-6           # RMSNorm eps: 1e-6 LLaMA-1, 1e-5 Llama 2
    rope_theta: float = 10000.0
    max_seq_len: int = 2048          # context: 2048 LLaMA-1, 4096 Llama 2

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def hidden_dim(self) -> int:
        """SwiGLU width: 2/3 of 4d, times the optional multiplier, rounded up to `multiple_of`."""
        hidden = int(2 * (4 * self.dim) / 3)
        if self.ffn_dim_multiplier is not None:
            hidden = int(self.ffn_dim_multiplier * hidden)
        return self.multiple_of * math.ceil(hidden / self.multiple_of)

    def num_params(self) -> int:
        """Exact parameter count of llama_model.model.Transformer (untied embeddings, no biases)."""
        d, h, kv = self.dim, self.hidden_dim, self.kv_heads * self.head_dim
        attn = d * d * 2 + d * kv * 2           # wq, wo, wk, wv
        ffn = 3 * d * h                         # w1, w2, w3
        per_layer = attn + ffn + 2 * d          # + two RMSNorm weights
        return 2 * self.vocab_size * d + self.n_layers * per_layer + d

    def params_json(self) -> dict:
        """The reference code's params.json (SPEC §3): exactly the keys its loader accepts. The reference
        builds `ModelArgs(max_seq_len=..., max_batch_size=..., **params)`, so max_seq_len (and rope_theta,
        not a Llama 2 field) must stay out; `extra_params` carries them in a side file."""
        return {k: getattr(self, k) if k != "n_kv_heads" else self.kv_heads for k in PARAMS_JSON_KEYS}

    def extra_params(self) -> dict:
        """What our loader needs beyond params.json (written to pipeline_params.json next to it)."""
        return {"max_seq_len": self.max_seq_len, "rope_theta": self.rope_theta}


# The keys of the reference params.json (SPEC §3): the fields of Llama 2's ModelArgs other than
# max_batch_size / max_seq_len, which its loader passes itself.
PARAMS_JSON_KEYS = ("dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "multiple_of",
                    "ffn_dim_multiplier", "norm_eps")


@dataclass(frozen=True)
class TrainArgs:
    lr: float = 3.0e-4               # peak learning rate
    min_lr_ratio: float = 0.1        # cosine decays to 10% of the peak
    warmup_steps: int = 2000
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-5
    weight_decay: float = 0.1        # not applied to norms (or embeddings' bias: there are none)
    grad_clip: float = 1.0
    batch_tokens: int = 4_194_304    # global batch in tokens: "4M" = 2048 x 2048 (LLaMA-1), 1024 x 4096 (Llama 2)
    seq_len: int = 2048
    total_tokens: int = 1_000_000_000_000
    micro_batch: int = 1             # sequences per device per forward; grad accumulation fills the batch
    activation_checkpointing: str = "none"   # none | selective | full (`llama-pipeline plan` shows the memory)
    tp: int = 1                      # tensor-parallel degree (2-D mesh: FSDP2 over world / tp, TP inside blocks)
    export_files: int = 1            # consolidated.NN.pth files of an FSDP run's export (Meta's model-parallel split)
    seed: int = 1337
    eval_every: int = 1000
    checkpoint_every: int = 1000

    @property
    def batch_seqs(self) -> int:
        return max(1, self.batch_tokens // self.seq_len)

    def split(self, world: int) -> tuple[int, int]:
        """(micro-batch, accumulation steps) of one rank when the global batch spreads over `world`
        data-parallel ranks: micro x accumulation x world = batch_seqs exactly."""
        if self.batch_seqs % world:
            raise ValueError(f"global batch of {self.batch_seqs} sequences does not split over {world} ranks; "
                             f"use a world size that divides it")
        per_rank = self.batch_seqs // world
        micro = min(self.micro_batch, per_rank)
        while per_rank % micro:          # the largest micro-batch <= micro_batch that divides the share
            micro -= 1
        return micro, per_rank // micro

    @property
    def steps(self) -> int:
        return max(1, self.total_tokens // (self.batch_seqs * self.seq_len))


@dataclass(frozen=True)
class DataArgs:
    token_budget: int = 1_400_000_000_000   # tokens in the mixture (SPEC §1: 1.4T; Llama 2: 2.0T)
    val_fraction: float = 0.005             # held-out share of each source's documents
    tokenizer_sample_chars: int = 1_000_000_000  # characters of mixture text the tokenizer is trained on
    minhash_perms: int = 128                # 9 bands x 13 rows + 11 unused ≈ Jaccard 0.8 threshold
    minhash_bands: int = 9
    minhash_ngram: int = 13                 # word n-grams (shingles)
    # quality_models: training samples are capped (seeded reservoir samples over the streamed files).
    quality_lm_docs: int = 300_000          # Wikipedia articles for the SentencePiece + KenLM model (~1 GB of text)
    quality_classifier_docs: int = 100_000  # cited and random CommonCrawl pages, each class
    quality_seed: int = 0
    # Whether quality_models may fall back when the CCNet recipe cannot run as written: the word-trigram
    # model when KenLM is missing, every Wikipedia language when English is short, cut-offs from Wikipedia
    # when no CommonCrawl page was scored. Demo profiles may (the manifest says which); paper profiles fail.
    quality_fallbacks: bool = True
    # Readers' size caps, as overrides of pipelines/readers/base.py Limits (e.g. {"record_bytes": 8 << 20});
    # empty: its defaults, far above real records, enforced while decompressing.
    reader_limits: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AlignArgs:
    # SFT (SPEC §4)
    sft_lr: float = 2e-5
    sft_weight_decay: float = 0.1
    sft_batch: int = 64
    sft_seq_len: int = 4096
    sft_epochs: int = 2
    sft_packing: bool = True                 # concatenate dialogues into sft_seq_len rows (SPEC §4)
    sft_warmup_steps: int = 0                # SPEC §4 gives a cosine schedule and no warm-up (also RS fine-tuning)
    # Reward models (SPEC §5)
    rm_lr: float = 1e-5
    rm_epochs: int = 1
    rm_batch: int = 512
    rm_warmup_frac: float = 0.03
    rm_min_warmup: int = 5
    rm_margin: str = "small"                 # "small" {3:1, 2:2/3, 1:1/3, 0:0}, "large" {3:3,...}, "none"
    rm_seq_len: int = 4096                   # prompt + answer tokens the RM reads (paper profiles: the context)
    safety_mix: float = 0.1                  # safety RM data: 90% safety pairs, 10% helpfulness pairs
    # Rejection sampling (SPEC §6)
    rs_samples: int = 10                     # K answers per prompt
    rs_temperature: float = 1.2
    rs_lr: float = 2e-5                      # fine-tuning on the best samples: the SFT recipe (SPEC §4)
    max_new_tokens: int = 4096               # generation cap (RS, GAtt, PPO, eval): the context; the prompt's
                                             # length is taken off it when sampling
    pref_samples: int = 4                    # answers per prompt for the week's model comparisons
    pref_temperature: float = 1.0
    # PPO (SPEC §6)
    ppo_lr: float = 1e-6
    ppo_batch: int = 512
    ppo_minibatch: int = 64
    ppo_clip: float = 0.2
    ppo_beta: float = 0.01                   # KL penalty: 0.01 for 7B/13B, 0.005 for 34B/70B
    ppo_iterations: int = 200
    ppo_temperature: float = 1.0             # rollout sampling
    safety_threshold: float = 0.15           # use the safety RM when its score < 0.15 or the prompt is unsafe
    # How the stages train (not paper numbers): recomputation of block activations in SFT, RM, RS and PPO
    # steps, as in pretraining ("selective" for the paper profiles, the paper's recipe; llama_model/model.py
    # enable_activation_checkpointing), and the tensor-parallel degree of the launched stage jobs
    activation_checkpointing: str | None = None
    tp: int = 1
    micro_batch: int = 0                     # items (rows, pairs, rollouts) per forward/backward pass on a
                                             # rank, gradients accumulated over its share (0: one pass)
    # Caps on one row of a user's alignment file (align_data.files.Caps): a row over them is an error
    # naming its file:line, found in linear time (not a RecursionError or a minutes-long parse)
    data_line_bytes: int = 16 * 2**20        # one JSONL line
    data_turns: int = 1000                   # messages in one dialogue / prompt / answer list
    data_depth: int = 32                     # nesting of arrays and objects in one row (trl rows need 4)


@dataclass(frozen=True)
class Profile:
    name: str
    model: ModelArgs
    train: TrainArgs
    data: DataArgs = field(default_factory=DataArgs)
    align: AlignArgs = field(default_factory=AlignArgs)
    paper: bool = False              # numbers come from SPEC.md and must not be changed

    def describe(self) -> dict:
        return {
            "profile": self.name,
            "parameters": self.model.num_params(),
            "model": dataclasses.asdict(self.model) | {"hidden_dim": self.model.hidden_dim},
            "train": dataclasses.asdict(self.train) | {"steps": self.train.steps},
            "data": dataclasses.asdict(self.data),
            "align": dataclasses.asdict(self.align),
        }


# Files of Meta's releases (model-parallel size) by (dim, layers): 7B 1, 13B 2, 33B/34B 4, 65B/70B 8.
_RELEASE_FILES = {(4096, 32): 1, (5120, 40): 2, (6656, 60): 4, (8192, 48): 4, (8192, 80): 8}


def paper_tp(dim: int, layers: int) -> int:
    """Tensor-parallel degree of a paper profile. SPEC gives "model and sequence parallelism" and no degree;
    the model-parallel size of Meta's release of the shape is the split its training code used (33B/34B: 4,
    65B/70B: 8; torchtitan's Llama-2/3 70B also uses 8, one node's NVLink domain). 7B and 13B fit with FSDP2
    alone (`llama-pipeline plan`), where TP would only add all-gathers: 1."""
    files = _RELEASE_FILES[dim, layers]
    return files if files >= 4 else 1


def release_files(args: ModelArgs) -> int:
    """consolidated.NN.pth files of Meta's release of this shape (its model-parallel split); 1 for others."""
    return _RELEASE_FILES.get((args.dim, args.n_layers), 1)


def _llama1(dim: int, heads: int, layers: int, lr: float, tokens: float) -> tuple:
    model = ModelArgs(dim=dim, n_layers=layers, n_heads=heads, norm_eps=1e-6, max_seq_len=2048)
    train = TrainArgs(lr=lr, seq_len=2048, batch_tokens=2048 * 2048, total_tokens=int(tokens),
                      activation_checkpointing="selective", export_files=_RELEASE_FILES[dim, layers],
                      tp=paper_tp(dim, layers))
    return model, train, DataArgs(token_budget=int(1.4e12))


def _llama2(dim: int, heads: int, layers: int, lr: float, kv_heads: int | None = None,
            ffn_dim_multiplier: float | None = None, multiple_of: int = 256) -> tuple:
    model = ModelArgs(dim=dim, n_layers=layers, n_heads=heads, n_kv_heads=kv_heads, norm_eps=1e-5,
                      max_seq_len=4096, ffn_dim_multiplier=ffn_dim_multiplier, multiple_of=multiple_of)
    train = TrainArgs(lr=lr, seq_len=4096, batch_tokens=1024 * 4096, total_tokens=int(2.0e12),
                      activation_checkpointing="selective", export_files=_RELEASE_FILES[dim, layers],
                      tp=paper_tp(dim, layers))
    return model, train, DataArgs(token_budget=int(2.0e12))


def _paper(name: str, parts: tuple, beta: float = 0.01, rm_lr: float = 1e-5) -> Profile:
    model, train, data = parts
    # No silent quality-model fallbacks at paper scale (pipelines/quality/models.py fails the run instead).
    data = dataclasses.replace(data, quality_fallbacks=False)
    # rm_seq_len: the RM reads what the model's context holds (2048 in LLaMA-1, 4096 in Llama 2).
    align = AlignArgs(ppo_beta=beta, rm_lr=rm_lr, max_new_tokens=model.max_seq_len, rm_seq_len=model.max_seq_len,
                      activation_checkpointing=train.activation_checkpointing, micro_batch=1, tp=train.tp)
    return Profile(name, model, train, data, align, paper=True)


PROFILES: dict[str, Profile] = {
    # A few minutes for the whole graph on 2 CPU cores. Exercises GQA (2 KV heads for 4 query heads).
    "tiny": Profile(
        "tiny",
        ModelArgs(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=2048, multiple_of=32,
                  norm_eps=1e-5, max_seq_len=256),
        TrainArgs(lr=3e-3, warmup_steps=20, batch_tokens=16 * 128, seq_len=128, total_tokens=200 * 16 * 128,
                  micro_batch=16, eval_every=50, checkpoint_every=100),
        # token_budget: the 409,600 tokens pretraining reads, plus the < seq_len tokens per shard the
        # loader's windows leave over; on the bundled samples CommonCrawl then repeats ~5x (they are small).
        DataArgs(token_budget=420_000, val_fraction=0.05, tokenizer_sample_chars=3_000_000,
                 # 25 bands x 5 rows: P(candidate | Jaccard 0.8) = 0.99995; candidates are verified exactly.
                 minhash_perms=128, minhash_bands=25, minhash_ngram=5),
        # RS at temperature 0.5: a dim-64 chat model's samples at 1.2 are mostly noise its RM cannot rank.
        # rs_lr 1/20 of the SFT lr: each tiny version should move only towards its best samples, not away
        # from what SFT taught (a dim-64 model forgets fast). 24 new tokens: the longest bundled answer is ~15.
        AlignArgs(sft_lr=2e-3, sft_batch=16, sft_seq_len=256, sft_epochs=2, sft_packing=False, sft_warmup_steps=5,
                  rm_lr=1e-3,
                  rm_batch=32, rm_epochs=3, rm_seq_len=256, rs_samples=4, rs_temperature=0.5, rs_lr=1e-4,
                  max_new_tokens=24, ppo_lr=5e-5, ppo_batch=64, ppo_minibatch=16, ppo_iterations=10),
    ),
    # A workstation or a single GPU.
    "small": Profile(
        "small",
        ModelArgs(dim=256, n_layers=4, n_heads=8, n_kv_heads=4, vocab_size=8000, multiple_of=64,
                  norm_eps=1e-5, max_seq_len=512),
        TrainArgs(lr=1e-3, warmup_steps=100, batch_tokens=32 * 256, seq_len=256, total_tokens=2000 * 32 * 256,
                  micro_batch=32, eval_every=200, checkpoint_every=500),
        DataArgs(token_budget=50_000_000, val_fraction=0.01, tokenizer_sample_chars=50_000_000),
        AlignArgs(sft_lr=2e-4, sft_batch=32, sft_seq_len=512, sft_warmup_steps=5, rm_lr=1e-4, rm_batch=64,
                  rm_seq_len=512, rs_samples=8, rs_lr=1e-5, max_new_tokens=64, ppo_lr=1e-5, ppo_batch=128, ppo_minibatch=32,
                  ppo_iterations=50),
    ),
    # LLaMA-1 (SPEC §3 table; context 2048; RMSNorm eps 1e-6).
    "llama-7b": _paper("llama-7b", _llama1(4096, 32, 32, 3.0e-4, 1.0e12)),
    "llama-13b": _paper("llama-13b", _llama1(5120, 40, 40, 3.0e-4, 1.0e12)),
    "llama-33b": _paper("llama-33b", _llama1(6656, 52, 60, 1.5e-4, 1.4e12), beta=0.005),
    "llama-65b": _paper("llama-65b", _llama1(8192, 64, 80, 1.5e-4, 1.4e12), beta=0.005),
    # Llama 2 (context 4096; eps 1e-5; 2.0T tokens; GQA with 8 KV heads for 34B and 70B; 70B: FFN
    # multiplier 1.3 rounded to 4096 -> 28672; 34B: the released 48 layers of width 8192, FFN 22016).
    "llama2-7b": _paper("llama2-7b", _llama2(4096, 32, 32, 3.0e-4)),
    "llama2-13b": _paper("llama2-13b", _llama2(5120, 40, 40, 3.0e-4)),
    "llama2-34b": _paper("llama2-34b", _llama2(8192, 64, 48, 1.5e-4, kv_heads=8, ffn_dim_multiplier=1.0),
                         beta=0.005),
    "llama2-70b": _paper("llama2-70b", _llama2(8192, 64, 80, 1.5e-4, kv_heads=8, ffn_dim_multiplier=1.3,
                                               multiple_of=4096), beta=0.005, rm_lr=5e-6),
}


def get_profile(name: str | None = None) -> Profile:
    """The profile `name`, else $LLAMA_PROFILE, else tiny. Unknown names fail with the valid ones listed."""
    if os.environ.get("LLAMA_CONFIG"):      # a config file (llama_model/config_file.py) replaces the profile
        from llama_model.config_file import load_config
        configured = load_config(os.environ["LLAMA_CONFIG"], PROFILES)
        # the active profile (what resources ask for: $LLAMA_PROFILE or the default) is the file's
        if name in (None, configured.name, os.environ.get("LLAMA_PROFILE") or DEFAULT_PROFILE):
            return configured
    name = name or os.environ.get("LLAMA_PROFILE") or DEFAULT_PROFILE
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}") from None
