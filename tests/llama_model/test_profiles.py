"""The paper profiles' numbers (SPEC.md) in one table, batches that split over any cluster, the plan command,
and params.json in the reference loader's form."""
import dataclasses
import json

import pytest

from llama_model.configs import PROFILES, get_profile

# profile: dim, heads, kv heads, layers, hidden, lr, context, batch sequences, tokens, data budget, norm eps,
#          RM lr, PPO beta
PAPER = {
    "llama-7b": (4096, 32, 32, 32, 11008, 3.0e-4, 2048, 2048, 1.0e12, 1.4e12, 1e-6, 1e-5, 0.01),
    "llama-13b": (5120, 40, 40, 40, 13824, 3.0e-4, 2048, 2048, 1.0e12, 1.4e12, 1e-6, 1e-5, 0.01),
    "llama-33b": (6656, 52, 52, 60, 17920, 1.5e-4, 2048, 2048, 1.4e12, 1.4e12, 1e-6, 1e-5, 0.005),
    "llama-65b": (8192, 64, 64, 80, 22016, 1.5e-4, 2048, 2048, 1.4e12, 1.4e12, 1e-6, 1e-5, 0.005),
    "llama2-7b": (4096, 32, 32, 32, 11008, 3.0e-4, 4096, 1024, 2.0e12, 2.0e12, 1e-5, 1e-5, 0.01),
    "llama2-13b": (5120, 40, 40, 40, 13824, 3.0e-4, 4096, 1024, 2.0e12, 2.0e12, 1e-5, 1e-5, 0.01),
    "llama2-34b": (8192, 64, 8, 48, 22016, 1.5e-4, 4096, 1024, 2.0e12, 2.0e12, 1e-5, 1e-5, 0.005),
    "llama2-70b": (8192, 64, 8, 80, 28672, 1.5e-4, 4096, 1024, 2.0e12, 2.0e12, 1e-5, 5e-6, 0.005),
}


def test_paper_profiles_use_the_spec_numbers():
    assert {n for n, p in PROFILES.items() if p.paper} == set(PAPER)
    for name, row in PAPER.items():
        p = get_profile(name)
        m, t, d, a = p.model, p.train, p.data, p.align
        got = (m.dim, m.n_heads, m.kv_heads, m.n_layers, m.hidden_dim, t.lr, m.max_seq_len, t.batch_seqs,
               float(t.total_tokens), float(d.token_budget), m.norm_eps, a.rm_lr, a.ppo_beta)
        assert got == row, name
        assert t.seq_len == m.max_seq_len and t.batch_seqs * t.seq_len == 4_194_304          # "4M" tokens
        assert (t.betas, t.eps, t.weight_decay, t.grad_clip, t.warmup_steps, t.min_lr_ratio) == \
            ((0.9, 0.95), 1e-5, 0.1, 1.0, 2000, 0.1)
        assert (m.vocab_size, m.rope_theta, m.multiple_of in (256, 4096)) == (32000, 10000.0, True)
        # SFT (SPEC §4), RMs (§5), rejection sampling and PPO (§6)
        assert (a.sft_lr, a.sft_weight_decay, a.sft_batch, a.sft_seq_len, a.sft_epochs, a.sft_packing,
                a.sft_warmup_steps) == (2e-5, 0.1, 64, 4096, 2, True, 0)
        assert (a.rm_epochs, a.rm_batch, a.rm_warmup_frac, a.rm_min_warmup, a.rm_seq_len, a.safety_mix) == \
            (1, 512, 0.03, 5, m.max_seq_len, 0.1)
        assert a.rm_seq_len == {"llama-": 2048, "llama2": 4096}[name[:6]]       # the RM reads the context
        assert d.quality_fallbacks is False          # quality_models fails instead of falling back
        assert (a.rs_samples, a.rs_temperature, a.rs_lr) == (10, 1.2, 2e-5)
        assert (a.ppo_lr, a.ppo_batch, a.ppo_minibatch, a.ppo_clip, a.ppo_iterations, a.safety_threshold) == \
            (1e-6, 512, 64, 0.2, 200, 0.15)
        assert a.max_new_tokens == m.max_seq_len


def test_params_json_has_exactly_the_reference_model_args_fields(tmp_path):
    from llama_model.checkpoint import load_meta, save_meta
    from llama_model.model import Transformer

    @dataclasses.dataclass
    class ReferenceModelArgs:          # Llama 2's llama/model.py ModelArgs
        dim: int = 4096
        n_layers: int = 32
        n_heads: int = 32
        n_kv_heads: int | None = None
        vocab_size: int = -1
        multiple_of: int = 256
        ffn_dim_multiplier: float | None = None
        norm_eps: float = 1e-5
        max_batch_size: int = 32
        max_seq_len: int = 2048

    args = dataclasses.replace(get_profile("tiny").model, dim=32, n_layers=1, n_heads=2, n_kv_heads=1)
    save_meta(Transformer(args), args, tmp_path)
    params = json.loads((tmp_path / "params.json").read_text())
    ref = ReferenceModelArgs(max_seq_len=512, max_batch_size=4, **params)      # how the reference loads it
    assert set(params) == {f.name for f in dataclasses.fields(ReferenceModelArgs)} - {"max_batch_size", "max_seq_len"}
    assert (ref.dim, ref.n_kv_heads, ref.norm_eps) == (32, 1, 1e-5)
    _, loaded = load_meta(tmp_path)                      # our loader also restores max_seq_len and rope_theta
    assert loaded == args


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_global_batches_split_over_8_to_1024_ranks(name):
    t = get_profile(name).train
    for world in (8, 16, 32, 64, 128, 256, 512, 1024):
        micro, accum = t.split(world)
        assert micro * accum * world == t.batch_seqs and micro <= t.micro_batch


def test_batch_split_uses_accumulation_when_the_micro_batch_is_smaller():
    t = dataclasses.replace(get_profile("tiny").train, micro_batch=3)     # 16 sequences
    assert t.split(1) == (2, 8) and t.split(2) == (2, 4) and t.split(16) == (1, 1)
    with pytest.raises(ValueError, match="does not split over 3 ranks"):
        t.split(3)


@pytest.mark.slow
def test_plan_70b_fits_on_16_nodes_not_on_one(capsys):
    from assets.cli import main
    from llama_model.plan import format_table, largest_micro_batch, plan

    big = plan(get_profile("llama2-70b"), nodes=16, gpus_per_node=8, gpu_memory_gb=80)     # the profile's tp 8
    assert big["fits"] and big["world_size"] == 128 and big["tp"] == 8 and big["dp"] == 16
    assert big["micro_batch"] * big["accumulation"] * 16 == 1024
    # TP slices of every block (1/8) sharded by FSDP2 over 16 data ranks; the output layer and final norm are
    # not split by TP (the fused loss reads the whole output weight), so a rank holds ~2.6% more than 1/128
    assert big["parameters_per_rank"] == pytest.approx(68_976_648_192 / 128, rel=0.03)
    fsdp_only = plan(get_profile("llama2-70b"), nodes=16, gpus_per_node=8, gpu_memory_gb=80, tp=1)
    # FSDP2's real shards: every parameter split in 128 (dim 0 padded up), so ~1/128 of 69B per rank; with
    # selective recomputation the activations of 80 blocks do not fit without TP's split
    assert fsdp_only["parameters_per_rank"] == pytest.approx(68_976_648_192 / 128, rel=0.01)
    assert not fsdp_only["fits"] and fsdp_only["per_rank_parts"]["activations"] > 7 * big["per_rank_parts"]["activations"]
    # TP's memory headroom buys micro-batches of 8, and FSDP2 all-gathers the weights once per micro-batch:
    # 8 gathers of a 1/8 slice per step instead of 8 gathers of the whole model
    best = largest_micro_batch(get_profile("llama2-70b"), 16, 8, 80.0, tp=8)
    assert best["fits"] and (best["micro_batch"], best["accumulation"]) == (8, 8)
    two_d, one_d = best["communication_per_step"], fsdp_only["communication_per_step"]
    assert two_d["fsdp_bytes"] < one_d["fsdp_bytes"] / 7 and one_d["tp_bytes"] == 0 < two_d["tp_bytes"]
    rows = format_table([fsdp_only, best]).splitlines()      # `plan paper`'s table
    assert rows[1].split()[:6] == ["llama2-70b", "128", "1", "1", "x", "8"] and " NO " in rows[1]
    assert rows[2].split()[:6] == ["llama2-70b", "128", "8", "8", "x", "8"] and " yes " in rows[2]
    assert main(["plan", "llama2-70b"]) == 2                    # --nodes / --gpus-per-node needed but for `paper`
    assert main(["plan", "llama2-70b", "--nodes", "1", "--gpus-per-node", "8", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert {"parameters", "global_batch_sequences", "seq_len", "per_rank_bytes", "fits"} <= set(out)
    assert out["fits"] is False and out["parameters"] == 68_976_648_192 and out["seq_len"] == 4096
    assert out["per_rank_bytes"] > 80 * 2**30 and out["global_batch_sequences"] == 1024


@pytest.mark.slow
def test_stage_plans_70b_on_16_nodes_fit_and_ppo_on_one_node_does_not(capsys):
    """`plan --stage`: the alignment stages with FSDP2-sharded models (llama_model/rlhf/job.py)."""
    from assets.cli import main
    from llama_model.plan import stage_plan

    profile = get_profile("llama2-70b")
    for stage in ("sft", "reward_model", "rejection", "ppo"):
        p = stage_plan(profile, nodes=16, gpus_per_node=8, stage=stage)
        assert p["fits"] and p["stage"] == stage and p["activation_checkpointing"] == "selective", stage
    full = dataclasses.replace(profile, align=dataclasses.replace(profile.align, activation_checkpointing="full"))
    ppo = stage_plan(full, nodes=16, gpus_per_node=8, stage="ppo", tp=1)
    # FSDP2 only, full recomputation: policy (16 bytes a parameter) + reference and both RMs (4 each), as 1/128 shards
    parts = ppo["per_rank_parts"]
    assert parts["frozen_models_fp32"] == 3 * parts["parameters_fp32"]
    assert parts["activations_or_kv_cache"] == 12 * 2 * 80 * 8 * 128 * 4096 * 2      # 12 rows of bf16 K,V
    assert stage_plan(full, nodes=16, gpus_per_node=8, stage="ppo")["per_rank_parts"][
        "activations_or_kv_cache"] == parts["activations_or_kv_cache"] // 8                 # tp 8: K/V heads split
    rm = stage_plan(profile, nodes=16, gpus_per_node=8, stage="reward_model", tp=1)
    assert (rm["micro_batch"], rm["accumulation"], rm["global_batch_sequences"]) == (2, 4, 1024)   # 512 pairs
    rm = stage_plan(profile, nodes=16, gpus_per_node=8, stage="reward_model")       # 16 data ranks: 32 pairs each
    assert (rm["tp"], rm["micro_batch"], rm["accumulation"]) == (8, 2, 32)
    assert main(["plan", "llama2-70b", "--nodes", "1", "--gpus-per-node", "8", "--stage", "ppo", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["stage"] == "ppo" and out["fits"] is False and out["per_rank_bytes"] > 80 * 2**30


def test_paper_profiles_train_the_big_models_with_tensor_parallelism_and_selective_recomputation():
    """tp = the model-parallel size of Meta's release of the shape for 33B/34B (4) and 65B/70B (8), dividing
    their heads, KV heads, SwiGLU width and vocabulary; 7B/13B FSDP2 only. Alignment stages: the same."""
    from llama_model.configs import PROFILES
    from llama_model.tensor_parallel import check_divisible
    tp = {name: p.train.tp for name, p in PROFILES.items() if p.paper}
    assert tp == {"llama-7b": 1, "llama-13b": 1, "llama-33b": 4, "llama-65b": 8,
                  "llama2-7b": 1, "llama2-13b": 1, "llama2-34b": 4, "llama2-70b": 8}
    for name, p in PROFILES.items():
        check_divisible(p.model, p.train.tp)
        if p.paper:
            assert p.align.tp == p.train.tp and p.train.activation_checkpointing == "selective", name
            assert p.align.activation_checkpointing == "selective", name
    assert get_profile("tiny").train.tp == 1 and get_profile("tiny").train.activation_checkpointing == "none"
