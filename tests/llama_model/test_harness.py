"""lm-evaluation-harness on our HF export agrees with our own multiple-choice scorer on the same model and
tasks (per-choice log-likelihoods, acc and acc_norm), offline, with task YAMLs over local JSONL files."""
import json

import pytest
import torch

from llama_model.checkpoint import save_meta
from llama_model.configs import ModelArgs
from llama_model.eval.harness import evaluate_models, run_harness, write_task_configs
from llama_model.eval.multiple_choice import (
    bundled_tasks_dir,
    evaluate_task,
    read_tasks_dir,
)
from llama_model.hf import export_model
from llama_model.model import Transformer
from llama_model.tokenizer import Tokenizer
from pipelines.tokenizer_training import train_tokenizer

pytest.importorskip("lm_eval")
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("harness")
    lines = [json.dumps(json.loads(line)) for p in sorted(bundled_tasks_dir().glob("*.jsonl"))
             for line in p.read_text().splitlines()]
    model_bytes, _ = train_tokenizer([" ".join(lines[i:i + 4]) for i in range(0, len(lines), 4)], vocab_size=600)
    (root / "tokenizer.model").write_bytes(model_bytes)
    args = ModelArgs(dim=32, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=600, multiple_of=16, max_seq_len=256)
    torch.manual_seed(0)
    model = Transformer(args).eval()
    save_meta(model, args, root / "meta")
    export_model(model, args, root / "hf", root / "tokenizer.model")
    return root, model


def test_lm_eval_agrees_with_our_scorer(exported, tmp_path):
    root, model = exported
    raw, files = evaluate_models({"m": root / "hf"}, bundled_tasks_dir(), tmp_path, log_samples=True)
    tok = Tokenizer(root / "tokenizer.model")
    tasks = read_tasks_dir(bundled_tasks_dir())
    assert set(files) == set(tasks) == set(raw["m"]["results"])
    for name, items in tasks.items():
        ours = evaluate_task(model, tok, items, max_len=256)
        theirs = raw["m"]["results"][name]
        samples = sorted(raw["m"]["samples"][name], key=lambda s: s["doc_id"])
        assert len(samples) == len(items) and theirs["acc,none"] == pytest.approx(ours["acc"])
        if items[0].prior is None:
            assert theirs["acc_norm,none"] == pytest.approx(ours["acc_norm"])
            for item, sample in zip(ours["items"], samples):
                lls = [r[0] for r in sample["filtered_resps"]]
                assert lls == pytest.approx(item["loglik"], abs=1e-3), name
            continue
        # BoolQ: lm-eval scores "Answer: no" / "Answer: yes" after the passage and question, and after
        # nothing; the shared "Answer:" factor cancels, so its acc_mutual_info is LLaMA-1's
        # P(answer | context) / P(answer | "Answer:") and equals ours, as do the choices' log-odds.
        assert theirs["acc_mutual_info,none"] == pytest.approx(ours["acc_mutual_info"]), name
        for item, sample in zip(ours["items"], samples):
            lls = [r[0] for r in sample["filtered_resps"]]
            assert len(lls) == 4 and lls[1] - lls[0] == pytest.approx(item["loglik"][1] - item["loglik"][0], abs=1e-3)


def test_task_yaml_per_jsonl_with_the_papers_shots(tmp_path):
    user = tmp_path / "bench"
    user.mkdir()
    (user / "mmlu_dev.jsonl").write_text("".join(json.dumps({"question": f"q{i}?", "choices": ["a", "b", "c", "d"],
                                                             "answer": i % 4}) + "\n" for i in range(8)))
    (user / "broken.jsonl").write_text('{"nothing": 1}\n')
    with pytest.raises(ValueError, match="broken.jsonl:1: unknown benchmark layout"):
        write_task_configs(user, tmp_path / "out")
    (user / "broken.jsonl").unlink()
    tasks = write_task_configs(user, tmp_path / "out")
    assert tasks["mmlu_dev"]["layout"] == "mmlu" and tasks["mmlu_dev"]["shots"] == 5
    text = (tmp_path / "out" / "mmlu_dev.yaml").read_text()
    assert "num_fewshot: 5" in text and "output_type: multiple_choice" in text


def test_run_harness_limits_examples_and_keeps_a_stable_json(exported, tmp_path):
    root, _ = exported
    a = run_harness({"m": root / "hf"}, bundled_tasks_dir(), tmp_path / "a", limit=5)
    b = run_harness({"m": root / "hf"}, bundled_tasks_dir(), tmp_path / "b", limit=5)
    assert a == b and json.dumps(a, sort_keys=True)   # no timings or reprs: same inputs, same bytes
    assert all(v["effective"] == 5 for v in a["m"]["n-samples"].values())
    assert a["m"]["n-shot"]["hellaswag_mini"] == 0 and a["m"]["limit"] == 5


def test_boolq_is_scored_against_the_answers_likelihood_after_answer(monkeypatch):
    """LLaMA-1 §3: BoolQ picks the completion of the highest P(completion | context) / P(completion | "Answer:")."""
    from llama_model.eval import multiple_choice as mc

    item = mc.MCItem("q1", "P.\nQuestion: Is it?\nAnswer:", (" no", " yes"), label=0, prior="Answer:")
    seen = []

    def fake_logprobs(model, requests, **kw):     # " yes" likelier after the question, but far likelier a priori
        seen.extend(requests)
        return [-2.0, -1.0, -3.0, -0.5]

    monkeypatch.setattr(mc, "completion_logprobs", fake_logprobs)
    tok = type("Tok", (), {"encode": lambda self, s, bos, eos: [1] * bos + [ord(c) for c in s]})()
    r = mc.evaluate_task(None, tok, [item])
    assert (r["acc"], r["acc_mutual_info"]) == (0.0, 1.0)
    assert [bytes(x for x in ctx[1:]).decode() for ctx, _ in seen[2:]] == ["Answer:", "Answer:"]
    assert mc.read_task.__module__ and mc.paper_metric("BoolQ") == "acc_mutual_info"
    assert (mc.paper_metric("MMLU"), mc.paper_metric("HellaSwag")) == ("acc", "acc_norm")
