"""The align stage's assets on a tiny base model: every asset materializes, lineage and checks are reported."""
import dataclasses
import json

import dagster as dg
import pytest
import sentencepiece as spm
import torch

from assets import align
from llama_model import align_data
from llama_model.chat_format import format_dialogue
from llama_model.configs import get_profile
from llama_model.rlhf import stages
from resources import ArtifactStorage, ProfileResource, TrainingLauncher


class _TinierProfile(ProfileResource):
    """tiny with fewer samples and PPO iterations, so the whole chain runs in seconds."""

    def get(self):
        p = get_profile("tiny")
        return dataclasses.replace(p, align=dataclasses.replace(p.align, rs_samples=2, ppo_iterations=2,
                                                                ppo_batch=8, ppo_minibatch=4, sft_epochs=1))


def _setup(root):
    from llama_model.checkpoint import save_meta
    from llama_model.model import Transformer
    (root / "tokenizer").mkdir(parents=True)
    text = "\n".join(format_dialogue(d["turns"], d.get("system")) for d in align_data.sft_dialogues(300, seed=5))
    (root / "corpus.txt").write_text(text)
    spm.SentencePieceTrainer.train(
        input=str(root / "corpus.txt"), model_prefix=str(root / "tokenizer" / "tokenizer"), vocab_size=512,
        hard_vocab_limit=False, model_type="bpe", split_digits=True, byte_fallback=True, unk_id=0, bos_id=1,
        eos_id=2, pad_id=-1, minloglevel=2)
    args = dataclasses.replace(get_profile("tiny").model, dim=32, n_layers=1, n_heads=2, n_kv_heads=1)
    torch.manual_seed(0)
    save_meta(Transformer(args), args, root / "base_model")


@pytest.mark.slow
def test_align_chain_materializes(data_dir, monkeypatch):
    monkeypatch.setattr(stages, "BUNDLED", {"sft": 64, "pairs_per_week": 60, "model_pair_prompts": 8, "rm_test_pairs": 40, "rs_prompts": 12,
                                            "gatt_dialogues": 4, "ppo_prompts": 8})
    monkeypatch.setattr(align_data, "eval_tasks", lambda n=240, n_gatt=60, seed=7: (
        align_data.sample_tasks(12, seed, align_data.EVAL_SHAPES, "eval")
        + align_data.sample_tasks(4, seed + 1, {"gatt": 1.0}, "eval")))
    _setup(data_dir)
    resources = {"storage": ArtifactStorage(root=str(data_dir)), "profile": _TinierProfile(), "launcher": TrainingLauncher()}
    instance = dg.DagsterInstance.ephemeral()
    weeks = align.preference_weeks.get_partition_keys()
    assert len(weeks) >= 3
    assert dg.materialize([align.sft_model], resources=resources, instance=instance).success
    for week in weeks[-2:]:
        r = dg.materialize([align.preference_data], partition_key=week, resources=resources, instance=instance)
        assert r.success
    rest = [align.helpfulness_rm, align.safety_rm, align.rlhf_v1, align.rlhf_v2, align.rlhf_v3,
            align.rlhf_v4, align.rlhf_v5]
    r = dg.materialize(rest + align.CHECKS, resources=resources, instance=instance)
    assert r.success
    mats = {}
    for e in r.get_asset_materialization_events():
        m = e.event_specific_data.materialization
        mats[m.asset_key.to_user_string()] = m.metadata
    assert mats["helpfulness_rm"]["weeks"].value == ", ".join(weeks[-2:])
    assert mats["helpfulness_rm"]["version"].value == f"helpfulness_rm@{weeks[-1]}"
    assert mats["rlhf_v5"]["judged_by"].value == f"helpfulness_rm@{weeks[-1]}, safety_rm@{weeks[-1]}"
    # The weekly loop: a new week after V5 exists samples its comparisons from V5, and the RMs retrain on it.
    week = dg.materialize([align.preference_data], partition_key=weeks[-1], resources=resources, instance=instance)
    md = week.get_asset_materialization_events()[0].event_specific_data.materialization.metadata
    assert md["sampled_from"].value == "rlhf_v5"
    rm = dg.materialize([align.helpfulness_rm], resources=resources, instance=instance)
    md = rm.get_asset_materialization_events()[0].event_specific_data.materialization.metadata
    assert md["weeks_sampled_from"].value == {weeks[-2]: "sft_model", weeks[-1]: "rlhf_v5"}
    v3 = mats["rlhf_v3"]
    assert v3["pooled_from"].value == "rlhf_v1, rlhf_v2" and v3["gatt_dialogues"].value > 0
    assert v3["data_weeks"].value == ", ".join(weeks[-2:]) and "helpfulness_rm" in v3["helpfulness_rm"].value
    assert "kl_last" in mats["rlhf_v5"] and "success_rate" in mats["rlhf_v5"]
    # Every stage's curves as a TensorBoard event file beside its checkpoint (`tensorboard --logdir data`).
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from llama_model.train_log import STAGE_EVENTS
    for name, tag in (("sft_model", "sft/loss"), ("helpfulness_rm", "helpfulness_rm/loss"),
                      ("safety_rm", "safety_rm/loss"), ("rlhf_v1", "rlhf_v1/loss"), ("rlhf_v5", "ppo/kl")):
        events = EventAccumulator(str((data_dir / name / STAGE_EVENTS).parent))
        events.Reload()
        assert len(events.Scalars(tag)) >= 1, name
    meta = json.loads((data_dir / "rlhf_v5" / stages.META_FILE).read_text())
    assert meta["parent"].endswith("rlhf_v4") and (data_dir / "rlhf_v5" / "consolidated.00.pth").exists()
    checks = {c.check_name for c in r.get_asset_check_evaluations()}
    assert {"accuracy_above_chance", "safety_not_worse_than_sft"} <= checks


def test_bad_user_preferences_fail_with_file_and_line(data_dir, tmp_path):
    bad = tmp_path / "prefs.jsonl"
    bad.write_text('{"prompt": "hi", "chosen": "a", "rejected": "b", "rating": 9}\n')
    resources = {"storage": ArtifactStorage(root=str(data_dir)), "profile": ProfileResource(name="tiny"),
                 "launcher": TrainingLauncher()}
    week = align.preference_weeks.get_partition_keys()[-1]
    with pytest.raises(ValueError, match=r"prefs.jsonl:1: rating must be"):
        dg.materialize([align.preference_data], partition_key=week, resources=resources,
                       run_config={"ops": {"preference_data": {"config": {"source_path": str(bad)}}}})


@pytest.mark.slow
def test_sft_through_the_launcher_on_two_gloo_ranks_equals_in_process(data_dir):
    """stages="launcher": torchrun with 2 CPU ranks runs llama_model.rlhf.job; same losses and weights as
    the in-process run, and the result comes back as metadata."""
    from llama_model.checkpoint import load_meta
    _setup(data_dir)
    sft = data_dir / "sft.jsonl"
    sft.write_text(align_data.sft_to_jsonl(align_data.sft_dialogues(48, seed=3)))
    profile = _TinierProfile()
    run_config = {"ops": {"sft_model": {"config": {"dialogues_path": str(sft)}}}}
    results = {}
    for name, launcher in (("local", TrainingLauncher()),
                           ("torchrun", TrainingLauncher(stages="launcher", nproc_per_node=2))):
        r = dg.materialize([align.sft_model], resources={"storage": ArtifactStorage(root=str(data_dir)),
                                                         "profile": profile, "launcher": launcher},
                           run_config=run_config)
        assert r.success
        md = r.get_asset_materialization_events()[0].event_specific_data.materialization.metadata
        results[name] = (md["loss_first"].value, md["loss_last"].value, md["steps"].value,
                         load_meta(data_dir / "sft_model")[0].state_dict())
    (a0, a1, an, wa), (b0, b1, bn, wb) = results["local"], results["torchrun"]
    assert an == bn and b0 == pytest.approx(a0, rel=1e-5) and b1 == pytest.approx(a1, rel=1e-4)
    assert all(torch.allclose(wa[k], wb[k], atol=1e-5) for k in wa)


def test_user_preferences_from_parquet_are_written_as_trl_rows(data_dir, tmp_path):
    """A week from an UltraFeedback-binarized Parquet file with typed safety labels: read, checked, written
    back in trl's conversational preference format (issue 15)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def m(role, content):
        return {"role": role, "content": content}

    rows = [{"prompt": f"Name a prime above {i}.", "prompt_id": str(i), "score_chosen": 8.0, "score_rejected": 2.0,
             "chosen": [m("user", f"Name a prime above {i}."), m("assistant", "13")],
             "rejected": [m("user", f"Name a prime above {i}."), m("assistant", "12")],
             "rating": 2, "safety": {"unsafe_prompt": i == 0, "chosen_safe": True, "rejected_safe": i != 0}}
            for i in range(3)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "uf.parquet")
    week = align.preference_weeks.get_partition_keys()[-1]
    r = dg.materialize([align.preference_data], partition_key=week,
                       resources={"storage": ArtifactStorage(root=str(data_dir)), "profile": ProfileResource(name="tiny"),
                                  "launcher": TrainingLauncher()},
                       run_config={"ops": {"preference_data": {"config": {"source_path": str(tmp_path / "uf.parquet")}}}})
    assert r.success
    meta = r.get_asset_materialization_events()[0].event_specific_data.materialization.metadata
    assert (meta["pairs"].value, meta["unsafe_prompts"].value, meta["rating_2"].value) == (3, 1, 3)
    written = [json.loads(line) for line in (data_dir / "preference_data" / week / stages.PREFERENCES_FILE).open()]
    assert written[0] == {"prompt": [m("user", "Name a prime above 0.")], "chosen": [m("assistant", "13")],
                          "rejected": [m("assistant", "12")], "rating": 2,
                          "safety": {"unsafe_prompt": True, "chosen_safe": True, "rejected_safe": False}}


@pytest.mark.slow
def test_reward_model_through_the_launcher_on_two_gloo_ranks_equals_in_process(data_dir, tmp_path):
    """A second stage through llama_model.rlhf.job: the helpfulness RM on 2 gloo ranks == in-process, with the
    trunk replicated (the CPU default) and FSDP2-sharded (the GPU default; loaded shard by shard, gathered to
    save)."""
    from llama_model.reward import load_rm
    _setup(data_dir)
    prefs = tmp_path / "prefs.jsonl"
    prefs.write_text(align_data.preferences_to_jsonl(align_data.preference_pairs(40, seed=1)))
    storage = ArtifactStorage(root=str(data_dir))
    base = {"storage": storage, "profile": _TinierProfile(), "launcher": TrainingLauncher()}
    sft = data_dir / "sft.jsonl"
    sft.write_text(align_data.sft_to_jsonl(align_data.sft_dialogues(16, seed=3)))
    assert dg.materialize([align.sft_model], resources=base,
                          run_config={"ops": {"sft_model": {"config": {"dialogues_path": str(sft)}}}}).success
    week = align.preference_weeks.get_partition_keys()[-1]
    assert dg.materialize([align.preference_data], partition_key=week, resources=base,
                          run_config={"ops": {"preference_data": {"config": {"source_path": str(prefs)}}}}).success
    results = {}
    for name, launcher in (("local", TrainingLauncher()),
                           ("torchrun", TrainingLauncher(stages="launcher", nproc_per_node=2)),
                           ("fsdp", TrainingLauncher(stages="launcher", nproc_per_node=2, stage_parallel="fsdp"))):
        r = dg.materialize([align.helpfulness_rm], resources=base | {"launcher": launcher})
        md = r.get_asset_materialization_events()[0].event_specific_data.materialization.metadata
        rm = load_rm(data_dir / "helpfulness_rm")
        results[name] = (md["loss_first"].value, md["loss_last"].value, md["accuracy"].value,
                         rm.head.weight.detach().clone(), rm.trunk.state_dict())
    a0, a1, aacc, wa, ta = results["local"]
    for name in ("torchrun", "fsdp"):
        b0, b1, bacc, wb, tb = results[name]
        assert b0 == pytest.approx(a0, rel=1e-5) and b1 == pytest.approx(a1, rel=1e-4) and aacc == bacc, name
        assert torch.allclose(wa, wb, atol=1e-5), name
        assert all(torch.allclose(ta[k], tb[k], atol=1e-5) for k in ta), name
