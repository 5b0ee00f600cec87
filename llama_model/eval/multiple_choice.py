"""Zero-shot multiple choice scored like the LLaMA papers: the log-likelihood of each completion.

Every benchmark item becomes a context and a list of completions. The model scores each completion by
the sum of its tokens' log-probabilities given the context; the prediction is the best one (`acc`) or
the best one per character of the completion (`acc_norm`, LLaMA-1 §3: "normalized by the number of
characters in the completion"), which stops short completions from winning just by being short. For BoolQ
(and OpenBookQA) LLaMA-1 follows GPT-3 instead: the completion with the highest P(completion | context) /
P(completion | "Answer:") wins (`acc_mutual_info`, lm-eval's name for that normalization); items carry the
prior context in `MCItem.prior`.

Readers take the JSONL layouts that the public benchmarks ship (one JSON object per line):

    layout     fields                                                   context / completions
    hellaswag  ctx, endings[4], label (int)                             ctx / " " + ending
    piqa       goal, sol1, sol2, label (0/1; or a sibling *-labels.lst) "Question: goal\\nAnswer:" / " " + sol
    arc        question{stem, choices[{text, label}]}, answerKey        "Question: stem\\nAnswer:" / " " + text
               (the HF layout question: str, choices{text[], label[]} is read too)
    boolq      question, passage, answer (bool)                         "passage\\nQuestion: question?\\nAnswer:" / " no", " yes"
    mmlu       question, choices[], answer (int or letter)              question + lettered choices / " A", " B", ...

    from llama_model.eval.multiple_choice import read_tasks_dir, evaluate_task
    tasks = read_tasks_dir("/data/benchmarks")          # {file stem: [MCItem, ...]}, layout detected per file
    result = evaluate_task(model, tokenizer, tasks["hellaswag_val"])   # {"acc", "acc_norm", "chance", ...}
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F

LAYOUTS = ("hellaswag", "piqa", "arc", "boolq", "mmlu")
LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class MCItem:
    id: str
    context: str
    choices: tuple[str, ...]   # completions, each scored after the context (leading space included)
    label: int                 # index of the correct completion
    prior: str | None = None   # context of the unconditional likelihood the papers divide by (BoolQ: "Answer:")


# LLaMA-1 §3: BoolQ is scored by P(completion | context) / P(completion | "Answer:").
PRIOR_CONTEXT = {"boolq": "Answer:"}


def bundled_tasks_dir() -> Path:
    """The small benchmark files shipped with the package (see tasks/README.md)."""
    return Path(__file__).resolve().parent / "tasks"


# ---------------------------------------------------------------------------------------------- readers

def detect_layout(record: dict) -> str:
    """Which public layout a JSON record is in, from its field names."""
    keys = set(record)
    if {"ctx", "endings"} <= keys:
        return "hellaswag"
    if {"goal", "sol1", "sol2"} <= keys:
        return "piqa"
    if {"question", "answerKey"} <= keys:
        return "arc"
    if {"question", "passage", "answer"} <= keys:
        return "boolq"
    if {"question", "choices", "answer"} <= keys:
        return "mmlu"
    raise ValueError(f"unknown benchmark layout with fields {sorted(keys)}; expected one of {', '.join(LAYOUTS)} "
                     f"(see llama_model/eval/multiple_choice.py for the fields of each)")


def _hellaswag_text(s: str) -> str:
    # HellaSwag's WikiHow contexts carry markup such as "[title]" and "[header]"; keep the words.
    s = s.strip().replace(" [title]", ". ")
    s = re.sub(r"\[.*?\]", "", s)
    return s.replace("  ", " ")


def _parse(layout: str, rec: dict, item_id: str) -> MCItem:
    if layout == "hellaswag":
        endings = [" " + _hellaswag_text(e) for e in rec["endings"]]
        return MCItem(item_id, _hellaswag_text(rec["ctx"]), tuple(endings), int(rec["label"]))
    if layout == "piqa":
        ctx = f"Question: {rec['goal'].strip()}\nAnswer:"
        return MCItem(item_id, ctx, (" " + rec["sol1"].strip(), " " + rec["sol2"].strip()), int(rec["label"]))
    if layout == "arc":
        q = rec["question"]
        if isinstance(q, dict):  # AI2's own layout
            stem, texts, labels = q["stem"], [c["text"] for c in q["choices"]], [c["label"] for c in q["choices"]]
        else:                    # the Hugging Face datasets layout
            stem, texts, labels = q, list(rec["choices"]["text"]), list(rec["choices"]["label"])
        key = str(rec["answerKey"]).strip()
        if key not in labels:
            raise ValueError(f"answerKey {key!r} is not one of the choice labels {labels}")
        ctx = f"Question: {stem.strip()}\nAnswer:"
        return MCItem(item_id, ctx, tuple(" " + t.strip() for t in texts), labels.index(key))
    if layout == "boolq":
        q = rec["question"].strip().rstrip("?")
        q = q[:1].upper() + q[1:]
        ctx = f"{rec['passage'].strip()}\nQuestion: {q}?\nAnswer:"
        answer = rec["answer"]
        if isinstance(answer, str):
            answer = answer.strip().lower() in ("true", "yes", "1")
        return MCItem(item_id, ctx, (" no", " yes"), int(bool(answer)), prior=PRIOR_CONTEXT["boolq"])
    if layout == "mmlu":
        choices = list(rec["choices"])
        lines = [rec["question"].strip()] + [f"{LETTERS[i]}. {c}" for i, c in enumerate(choices)] + ["Answer:"]
        answer = rec["answer"]
        label = LETTERS.index(answer.strip().upper()) if isinstance(answer, str) else int(answer)
        return MCItem(item_id, "\n".join(lines), tuple(f" {LETTERS[i]}" for i in range(len(choices))), label)
    raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")


def read_task(path: str | Path, layout: str | None = None) -> list[MCItem]:
    """Read one JSONL benchmark file; the layout is detected from the first record unless given.

    Errors name the file and line. PIQA's labels may sit in a sibling `<stem>-labels.lst` (as shipped).
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    records = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append((n, json.loads(line)))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{n}: not valid JSON ({e.msg})") from None
    if not records:
        raise ValueError(f"{path}: no records")
    labels_file = path.with_name(path.stem + "-labels.lst")
    if labels_file.exists():
        extra = [l.strip() for l in labels_file.read_text().splitlines() if l.strip()]
        if len(extra) != len(records):
            raise ValueError(f"{labels_file}: {len(extra)} labels for {len(records)} records in {path.name}")
        records = [(n, {**r, "label": int(lab)}) for (n, r), lab in zip(records, extra)]
    try:
        layout = layout or detect_layout(records[0][1])
    except ValueError as e:
        raise ValueError(f"{path}:{records[0][0]}: {e}") from None
    items = []
    for n, rec in records:
        try:
            item = _parse(layout, rec, str(rec.get("id", rec.get("ind", f"{path.stem}-{n}"))))
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise ValueError(f"{path}:{n}: bad {layout} record ({type(e).__name__}: {e})") from None
        if not 0 <= item.label < len(item.choices):
            raise ValueError(f"{path}:{n}: label {item.label} outside the {len(item.choices)} choices")
        items.append(item)
    return items


def read_tasks_dir(folder: str | Path) -> dict[str, list[MCItem]]:
    """Every `*.jsonl` of a folder (sorted by name) as {file stem: items}."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"benchmark folder {folder} does not exist")
    tasks = {p.stem: read_task(p) for p in sorted(folder.glob("*.jsonl"))}
    if not tasks:
        raise FileNotFoundError(f"no *.jsonl benchmark files in {folder}")
    return tasks


# ---------------------------------------------------------------------------------------------- scoring

def encode_pair(tokenizer, context: str, completion: str) -> tuple[list[int], list[int]]:
    """Token ids of (BOS + context, completion) so that their concatenation is the tokenized whole text.

    Trailing spaces move from the context to the completion (SentencePiece attaches a space to the word
    after it); the completion's tokens are the tail of the encoded whole text when its prefix matches the
    encoded context, else the completion encoded alone.
    """
    n = len(context) - len(context.rstrip(" "))
    if n:
        context, completion = context[:-n], context[-n:] + completion
    ctx = tokenizer.encode(context, bos=True, eos=False)
    whole = tokenizer.encode(context + completion, bos=True, eos=False)
    if len(whole) > len(ctx) and whole[: len(ctx)] == ctx:
        return ctx, whole[len(ctx):]
    return ctx, tokenizer.encode(completion, bos=False, eos=False)


@torch.inference_mode()
def completion_logprobs(model: torch.nn.Module, requests: Sequence[tuple[list[int], list[int]]],
                        batch_size: int = 16, max_len: int | None = None) -> list[float]:
    """Sum of log p(completion tokens | context) for each (context ids, completion ids) request.

    Sequences longer than `max_len` tokens lose tokens from the left of the context. Batches are
    right-padded (a causal model never looks at later positions) and sorted by length to waste little.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = [0.0] * len(requests)
    seqs = []
    for ctx, comp in requests:
        if not comp:
            raise ValueError("empty completion: nothing to score")
        seq = list(ctx) + list(comp)
        if max_len is not None and len(seq) > max_len + 1:
            seq = seq[-(max_len + 1):]
        seqs.append((seq, len(comp)))
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i][0]))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        width = max(len(seqs[i][0]) for i in idx) - 1
        x = torch.zeros(len(idx), width, dtype=torch.long)
        y = torch.zeros(len(idx), width, dtype=torch.long)
        for row, i in enumerate(idx):
            seq = torch.tensor(seqs[i][0], dtype=torch.long)
            x[row, : len(seq) - 1] = seq[:-1]
            y[row, : len(seq) - 1] = seq[1:]
        logp = F.log_softmax(model(x.to(device)).float(), dim=-1)
        tok = logp.gather(-1, y.to(device).unsqueeze(-1)).squeeze(-1)  # [B, T]: log p of each next token
        for row, i in enumerate(idx):
            seq, n_comp = seqs[i]
            end = len(seq) - 1
            out[i] = float(tok[row, end - n_comp:end].sum())
    model.train(was_training)
    return out


def evaluate_task(model: torch.nn.Module, tokenizer, items: Iterable[MCItem], batch_size: int = 16,
                  max_len: int | None = None) -> dict:
    """Accuracy, length-normalized accuracy and the chance level of one task (plus each item's picks);
    `acc_mutual_info` too when the items have a prior context (BoolQ: normalized by P(completion | "Answer:"))."""
    items = list(items)
    if not items:
        raise ValueError("no items to evaluate")
    requests = [encode_pair(tokenizer, item.context, c) for item in items for c in item.choices]
    priors = [encode_pair(tokenizer, item.prior, c) for item in items if item.prior is not None for c in item.choices]
    scores = completion_logprobs(model, requests + priors, batch_size=batch_size, max_len=max_len)
    prior_scores = iter(scores[len(requests):])
    per_item, pos = [], 0
    correct = correct_norm = correct_mi = 0
    for item in items:
        ll = scores[pos:pos + len(item.choices)]
        pos += len(item.choices)
        norm = [s / max(1, len(c)) for s, c in zip(ll, item.choices)]
        pred = max(range(len(ll)), key=ll.__getitem__)
        pred_norm = max(range(len(norm)), key=norm.__getitem__)
        correct += pred == item.label
        correct_norm += pred_norm == item.label
        row = {"id": item.id, "label": item.label, "pred": pred, "pred_norm": pred_norm, "loglik": ll}
        if item.prior is not None:
            mi = [s - next(prior_scores) for s in ll]
            row["pred_mutual_info"] = max(range(len(mi)), key=mi.__getitem__)
            correct_mi += row["pred_mutual_info"] == item.label
        per_item.append(row)
    n = len(items)
    out = {
        "n": n,
        "acc": correct / n,
        "acc_norm": correct_norm / n,
        "chance": sum(1 / len(i.choices) for i in items) / n,
        "items": per_item,
    }
    if all(i.prior is not None for i in items):
        out["acc_mutual_info"] = correct_mi / n
    return out


def paper_metric(benchmark: str | None) -> str:
    """The metric the papers report for a benchmark: BoolQ normalized by P(answer | "Answer:"), MMLU plain
    accuracy, the others normalized by the completion's characters."""
    return {"BoolQ": "acc_mutual_info", "MMLU": "acc"}.get(benchmark or "", "acc_norm")
