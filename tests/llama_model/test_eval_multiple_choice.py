"""Multiple-choice scoring (log-likelihood, acc vs acc_norm) and the benchmark readers."""
import json
import math

import pytest
import torch
from eval_fakes import BigramLM, CharTokenizer

from llama_model.eval.multiple_choice import (
    MCItem,
    bundled_tasks_dir,
    completion_logprobs,
    detect_layout,
    encode_pair,
    evaluate_task,
    read_task,
    read_tasks_dir,
)


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_completion_logprobs_is_the_sum_over_completion_tokens_and_batch_independent():
    torch.manual_seed(0)
    model = BigramLM(10)
    with torch.no_grad():
        model.table.normal_()
    reqs = [([1, 3, 4], [5, 6]), ([1, 3], [7]), ([1, 4, 4, 4, 4], [3, 3, 9])]
    logp = torch.log_softmax(model.table.detach(), -1)
    expected = [sum(float(logp[seq[i - 1], seq[i]]) for i in range(len(ctx), len(seq)))
                for ctx, comp in reqs for seq in [ctx + comp]]
    one = completion_logprobs(model, reqs, batch_size=1)
    many = completion_logprobs(model, reqs, batch_size=8)
    assert one == pytest.approx(expected, abs=1e-5)
    assert many == pytest.approx(expected, abs=1e-5)


def test_left_truncation_keeps_the_completion():
    model = BigramLM(10)
    out = completion_logprobs(model, [([1] + [3] * 50, [4, 5])], max_len=8)
    assert out[0] == pytest.approx(2 * math.log(1 / 10), abs=1e-5)


def test_acc_prefers_short_completions_acc_norm_corrects_for_length():
    tok = CharTokenizer()
    a = tok.encode("a", False, False)[0]
    # After "a", another "a" has p=0.5 and "b" p≈0.01: eight a's (total -5.5, -0.69/char) vs one b (-4.6/char).
    model = BigramLM(tok.n_words, {(a, a): 0.5})
    item = MCItem("x", "xa", ("aaaaaaaa", "b"), label=0)
    r = evaluate_task(model, tok, [item])
    assert r["items"][0]["pred"] == 1 and r["items"][0]["pred_norm"] == 0
    assert (r["acc"], r["acc_norm"], r["chance"], r["n"]) == (0.0, 1.0, 0.5, 1)


def test_encode_pair_moves_trailing_space_to_the_completion():
    tok = CharTokenizer()
    ctx, comp = encode_pair(tok, "Answer: ", "yes")
    assert tok.decode(ctx) == "Answer:" and ctx[0] == tok.bos_id
    assert tok.decode(comp) == " yes"


def test_readers_of_each_public_layout(tmp_path):
    hs = read_task(_write(tmp_path / "hs.jsonl", [{"ctx": "A man [title] sits", "endings": ["a", "b", "c", "d"], "label": 2}]))
    assert hs[0].choices == (" a", " b", " c", " d") and hs[0].label == 2 and "[title]" not in hs[0].context

    _write(tmp_path / "valid.jsonl", [{"goal": "Dry hair", "sol1": "towel", "sol2": "water"}] * 2)
    (tmp_path / "valid-labels.lst").write_text("0\n1\n")
    piqa = read_task(tmp_path / "valid.jsonl")
    assert [i.label for i in piqa] == [0, 1] and piqa[0].context == "Question: Dry hair\nAnswer:"

    ai2 = {"question": {"stem": "Sky?", "choices": [{"text": "red", "label": "A"}, {"text": "blue", "label": "B"}]},
           "answerKey": "B"}
    hf = {"question": "Sky?", "choices": {"text": ["red", "blue"], "label": ["1", "2"]}, "answerKey": "2"}
    arc = read_task(_write(tmp_path / "arc.jsonl", [ai2, hf]))
    assert [i.label for i in arc] == [1, 1] and arc[0].choices == (" red", " blue")

    boolq = read_task(_write(tmp_path / "bq.jsonl", [{"question": "is it", "passage": "P.", "answer": True}]))
    assert boolq[0].choices == (" no", " yes") and boolq[0].label == 1
    assert boolq[0].context == "P.\nQuestion: Is it?\nAnswer:"

    mmlu = read_task(_write(tmp_path / "mmlu.jsonl", [{"question": "2+2?", "choices": ["3", "4"], "answer": 1},
                                                      {"question": "1+1?", "choices": ["2", "3"], "answer": "A"}]))
    assert mmlu[0].choices == (" A", " B") and [i.label for i in mmlu] == [1, 0]
    assert mmlu[0].context == "2+2?\nA. 3\nB. 4\nAnswer:"


def test_bad_input_names_the_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"ctx": "a", "endings": ["x"], "label": 0}\n{not json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not valid JSON"):
        read_task(p)
    _write(p, [{"foo": 1}])
    with pytest.raises(ValueError, match=r"bad.jsonl:1: unknown benchmark layout"):
        read_task(p)
    _write(p, [{"ctx": "a", "endings": ["x", "y"], "label": 5}])
    with pytest.raises(ValueError, match=r"bad.jsonl:1: label 5 outside"):
        read_task(p)
    _write(p, [{"question": "q", "choices": {"text": ["a"], "label": ["A"]}, "answerKey": "E"}])
    with pytest.raises(ValueError, match=r"bad.jsonl:1: bad arc record"):
        read_task(p)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no \\*.jsonl"):
        read_tasks_dir(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_tasks_dir(tmp_path / "missing")


def test_detect_layout():
    assert detect_layout({"goal": 1, "sol1": 1, "sol2": 1, "label": 0}) == "piqa"
    assert detect_layout({"question": 1, "passage": 1, "answer": 1}) == "boolq"
    assert detect_layout({"question": 1, "choices": 1, "answer": 1}) == "mmlu"


def test_bundled_tasks_load_in_four_layouts():
    tasks = read_tasks_dir(bundled_tasks_dir())
    assert {k: len(v) for k, v in tasks.items()} == {"arc_mini": 30, "boolq_mini": 30, "hellaswag_mini": 32,
                                                     "piqa_mini": 30}
    assert {len(i.choices) for i in tasks["hellaswag_mini"]} == {4}


def test_bundled_tasks_are_rebuilt_byte_identical(tmp_path, monkeypatch):
    from llama_model.eval.tasks import build_tasks

    monkeypatch.setattr(build_tasks, "HERE", tmp_path)
    build_tasks.main()
    for p in tmp_path.glob("*.jsonl"):
        assert p.read_bytes() == (bundled_tasks_dir() / p.name).read_bytes(), p.name
