"""The eval assets as stages (llama_model/eval/stages.py): the torchrun job returns what a direct call returns,
base_eval's perplexity on 2 gloo ranks equals 1 rank's, and an asset run through the launcher reports the
same metadata as an in-process run. Fixtures: test_evaluate.py's tiny tokenizer, shards and models."""
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from test_evaluate import _materialize, artifacts  # noqa: F401  (the module fixture, built once here)

import llama_model
from assets.evaluate import base_model_eval
from llama_model.eval import stages as eval_stages
from llama_model.rlhf import job
from resources import TrainingLauncher

pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = Path(llama_model.__file__).resolve().parent.parent


def _base_kwargs(root: Path, report_dir: Path) -> dict:
    # 5 batches of ~7 per source: rank 0 scores batches 0, 2, 4 and rank 1 batches 1, 3 (an uneven split)
    return {"base_dir": str(root / "base_model"), "tokenizer_path": str(root / "tokenizer" / "tokenizer.model"),
            "shards_dir": str(root / "token_shards"), "report_dir": str(report_dir), "seq_len": 64,
            "max_batches": 5, "lm_eval": False, "profile_name": "tiny"}


def _stage_kwargs(root: Path, tmp: Path) -> dict[str, dict]:
    tok = str(root / "tokenizer" / "tokenizer.model")
    rms = {"hrm_dir": str(root / "helpfulness_rm"), "srm_dir": str(root / "safety_rm")}
    return {
        "base_eval": _base_kwargs(root, tmp / "base"),
        "rm_eval": {**rms, "tokenizer_path": tok, "report_dir": str(tmp / "rm"), "test_pairs": 60, "seed": 2023},
        "chat_eval": {"version_dirs": {v: str(root / v) for v in ("sft_model", "rlhf_v1", "rlhf_v2")},
                      "tokenizer_path": tok, **rms, "report_dir": str(tmp / "chat"), "max_tasks": 8, "lm_eval": False},
    }


def _timeless(result: dict) -> dict:
    return {k: v for k, v in job.jsonable(result).items() if k != "seconds"}


def test_eval_stages_through_the_job_equal_direct_calls(artifacts, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("LLAMA_STAGE_DEVICE", "cpu")      # job.main sets it; restored after the test
    for stage, kwargs in _stage_kwargs(artifacts, tmp_path).items():
        direct = job.STAGES[stage](**kwargs, log=lambda _m: None)
        out = tmp_path / f"{stage}.json"
        assert job.main([stage, "--args-json", json.dumps(kwargs), "--result-json", str(out), "--device", "cpu"]) == 0
        via_job = json.loads(out.read_text())
        assert _timeless(via_job) == _timeless(direct), stage
        assert via_job["seconds"] > 0 and via_job["report"] == str(Path(kwargs["report_dir"]) / "index.html")
        assert (Path(kwargs["report_dir"]) / "summary.json").exists()
    base = json.loads((tmp_path / "base_eval.json").read_text())
    assert base["scorer"] == "ours" and base["lm_eval_results"] is None
    assert base["ppl_all"]["base_model"] < base["ppl_all"]["init (untrained)"]
    assert sorted(r["source"] for r in base["rows"]) == ["all", "books", "c4"]
    rm = json.loads((tmp_path / "rm_eval.json").read_text())
    assert [(o["rm"], o["test_set"]) for o in rm["overall"]] == [
        ("helpfulness RM", "helpfulness test"), ("helpfulness RM", "safety test"),
        ("safety RM", "helpfulness test"), ("safety RM", "safety test")]
    chat = json.loads((tmp_path / "chat_eval.json").read_text())
    assert chat["versions"] == ["sft_model", "rlhf_v1", "rlhf_v2"]
    v1 = chat["win_rates"][0]   # rlhf_v1 has SFT's weights: every answer ties
    assert v1["version"] == "rlhf_v1" and all(v == 0.5 for k, v in v1.items() if k != "version")


def test_run_stage_gives_align_only_to_stages_that_take_it(artifacts, tmp_path):  # noqa: F811
    with pytest.raises(ValueError, match="stage sft needs the profile's AlignArgs"):
        job.run_stage("sft", {"base_dir": "x", "tokenizer_path": "y", "out_dir": "z"})
    kwargs = _stage_kwargs(artifacts, tmp_path)["rm_eval"]
    from llama_model.configs import get_profile
    r = job.run_stage("rm_eval", kwargs, get_profile("tiny").align, log=lambda _m: None)
    assert len(r["overall"]) == 4


def _two_ranks(stage: str, kwargs: dict, result: Path, parallel: str = "auto") -> dict:
    """The stage through torchrun on 2 gloo ranks, models replicated or FSDP2-sharded; rank 0's result dict."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "LLAMA_STAGE_PARALLEL": parallel}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m",
           "llama_model.rlhf.job", stage, "--args-json", json.dumps(kwargs), "--device", "cpu",
           "--result-json", str(result)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(result.read_text())


@pytest.mark.parametrize("parallel", ["replicate", "fsdp"])
def test_base_eval_on_two_gloo_ranks_equals_one_rank(artifacts, tmp_path, parallel):  # noqa: F811
    one = eval_stages.run_base_eval(**_base_kwargs(artifacts, tmp_path / "one"), log=lambda _m: None)
    two = _two_ranks("base_eval", _base_kwargs(artifacts, tmp_path / "two"), tmp_path / "two.json", parallel)
    assert two["ppl_all"] == pytest.approx(one["ppl_all"], rel=1e-5)
    s1, s2 = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("one", "two"))
    for model, per_source in s1["perplexity"].items():
        for source, r in per_source.items():
            assert s2["perplexity"][model][source]["tokens"] == r["tokens"] > 0
            assert s2["perplexity"][model][source]["ppl"] == pytest.approx(r["ppl"], rel=1e-5), (model, source)
    assert s2["tasks"] == s1["tasks"]         # the benchmarks are scored by rank 0 alone: same numbers


def test_base_model_eval_through_the_launcher_reports_the_local_metadata(artifacts):  # noqa: F811
    cfg = {"base_model_eval": {"config": {"max_batches": 3, "lm_eval": False}}}
    local, _ = _materialize([base_model_eval], artifacts, cfg)
    launched, _ = _materialize([base_model_eval], artifacts, cfg,
                               launcher=TrainingLauncher(stages="launcher", env={"PYTHONPATH": str(ROOT)}))
    assert set(launched) == set(local)
    for key, value in local.items():
        if key != "seconds":
            assert launched[key] == value, key
    assert isinstance(launched["seconds"], dg.FloatMetadataValue) and launched["seconds"].value > 0
    assert launched["benchmarks scored by"].value == "ours" and launched["dagster/row_count"].value == 3


@pytest.mark.parametrize("parallel", ["replicate", "fsdp"])
def test_chat_eval_on_two_gloo_ranks_equals_one_rank(artifacts, tmp_path, parallel):  # noqa: F811
    """The ranks split the answers (policy.sample_answers) and RM scores; rank 0 judges and writes: the
    1-rank numbers, with the versions and RMs replicated or FSDP2-sharded."""
    kwargs = _stage_kwargs(artifacts, tmp_path)["chat_eval"]
    one = _timeless(eval_stages.run_chat_eval(**kwargs, log=lambda _m: None))
    two = _timeless(_two_ranks("chat_eval", kwargs | {"report_dir": str(tmp_path / "chat2")}, tmp_path / "two.json",
                               parallel))
    assert (two["win_rates"], two["per_version"]) == (one["win_rates"], one["per_version"])
    assert two["versions"] == ["sft_model", "rlhf_v1", "rlhf_v2"] and len(two["per_version"]) == 3


def test_stage_arguments_travel_as_json():
    from assets.stage_runner import job_args
    from llama_model.configs import get_profile

    args = job_args("chat_eval", version_dirs={"sft_model": Path("/d/sft_model")}, earlier=[Path("/d/a")], n=3)
    assert args[0] == "chat_eval" and "--align-json" not in args
    assert json.loads(args[args.index("--args-json") + 1]) == {"version_dirs": {"sft_model": "/d/sft_model"},
                                                                "earlier": ["/d/a"], "n": 3}
    align = get_profile("tiny").align
    with_align = job_args("sft", align, out_dir=Path("/d/out"))
    assert job.align_from_json(with_align[with_align.index("--align-json") + 1]) == align


def test_rm_eval_on_two_fsdp_ranks_equals_one_rank(artifacts, tmp_path):  # noqa: F811
    kwargs = _stage_kwargs(artifacts, tmp_path)["rm_eval"]
    one = _timeless(eval_stages.run_reward_model_eval(**kwargs, log=lambda _m: None))
    two = _timeless(_two_ranks("rm_eval", kwargs | {"report_dir": str(tmp_path / "rm2")}, tmp_path / "two.json", "fsdp"))
    assert [r["acc"] for r in two["overall"]] == pytest.approx([r["acc"] for r in one["overall"]], abs=1e-9)
    assert two["rows"] == one["rows"] and len(one["overall"]) == 4
