"""Benchmarks through lm-evaluation-harness, offline, on the Hugging Face export of our checkpoints.

    from llama_model.eval.harness import run_harness
    results = run_harness({"base_model": "/tmp/base_hf"}, "llama_model/eval/tasks", "/tmp/work", limit=100)
    results["base_model"]["results"]["hellaswag_mini"]["acc_norm,none"]

Every `*.jsonl` of the tasks folder (the bundled mini tasks, or $LLAMA_EVAL_TASKS_DIR) gets an lm-eval task
YAML written into `<work>/tasks/`: a `multiple_choice` task whose documents come from our JSONL readers
(llama_model/eval/multiple_choice.py: HellaSwag, PIQA, ARC, BoolQ and MMLU layouts, `file:line` errors),
so lm-eval scores exactly the contexts and completions the papers' prompts give (see docs/evaluation.md).
`*.yaml` files in the tasks folder are lm-eval task configs of the user's and run as they are.
Nothing is downloaded: the model is a local folder, the data local files, HF_*_OFFLINE is set.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from common.io import write_text
from llama_model.eval.multiple_choice import PRIOR_CONTEXT, detect_layout, paper_metric, read_task

# Shots of the papers per layout: LLaMA-1 Table 3 common sense is zero-shot, MMLU is 5-shot (Table 9).
FEWSHOT = {"hellaswag": 0, "piqa": 0, "arc": 0, "boolq": 0, "mmlu": 5}

TASK_YAML = """\
# Written by llama_model/eval/harness.py for {jsonl}
task: {name}
custom_dataset: !function llama_docs.load
dataset_kwargs:
  jsonl: {jsonl_json}
test_split: test
fewshot_split: test
output_type: multiple_choice
doc_to_text: {text_field}
doc_to_choice: {choice_field}
doc_to_target: label
target_delimiter: ""
fewshot_delimiter: "\\n\\n"
num_fewshot: {shots}
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
{extra_metrics}metadata:
  version: 1.0
  layout: {layout}
"""

DOCS_PY = '''"""Documents of the tasks in this folder, read by llama_model's JSONL readers (written by harness.py)."""
from llama_model.eval.harness import load_docs as load  # noqa: F401
'''


def load_docs(jsonl: str, **_metadata):
    """lm-eval `custom_dataset`: one JSONL benchmark file as a {"test": Dataset} of context/choices/label.
    The choices keep their leading space (target_delimiter is ""), so acc_norm divides by the same number
    of characters as the papers' (and our scorer's) length normalization."""
    import datasets

    rows = []
    for it in read_task(jsonl):
        row = {"id": it.id, "context": it.context, "choices": list(it.choices), "label": it.label}
        if it.prior is not None and it.context.endswith(it.prior):
            # BoolQ: the prior context ("Answer:") moves into every choice. P(prior + choice | rest) and
            # P(prior + choice | nothing) each carry one factor common to all choices, so lm-eval's
            # acc_mutual_info (conditional minus unconditional log-likelihood) picks the choice of the
            # highest P(choice | context) / P(choice | "Answer:"), LLaMA-1's BoolQ scoring.
            row["context_before_prior"] = it.context[: -len(it.prior)]
            row["choices_with_prior"] = [it.prior + c for c in it.choices]
        rows.append(row)
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


MUTUAL_INFO_METRIC = """\
  - metric: acc_mutual_info
    aggregation: mean
    higher_is_better: true
"""


def write_task_configs(tasks_dir: str | os.PathLike, out_dir: str | os.PathLike) -> dict[str, dict]:
    """An lm-eval YAML per JSONL file of tasks_dir into out_dir; returns {task name: {layout, shots, file}}."""
    tasks_dir, out = Path(tasks_dir), Path(out_dir)
    files = sorted(tasks_dir.glob("*.jsonl"))
    if not files and not any(tasks_dir.glob("*.yaml")):
        raise FileNotFoundError(f"no *.jsonl benchmark files (or lm-eval *.yaml tasks) in {tasks_dir}")
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "llama_docs.py", DOCS_PY)
    tasks = {}
    for f in files:
        first = next((line for line in f.read_text(encoding="utf-8").splitlines() if line.strip()), "{}")
        try:
            layout = detect_layout(json.loads(first))
        except ValueError as e:
            raise ValueError(f"{f}:1: {e}") from None
        name = f.stem
        tasks[name] = {"layout": layout, "shots": FEWSHOT[layout], "file": str(f.resolve())}
        prior = layout in PRIOR_CONTEXT
        write_text(out / f"{name}.yaml", TASK_YAML.format(
            name=name, jsonl=f.name, jsonl_json=json.dumps(str(f.resolve())), shots=FEWSHOT[layout], layout=layout,
            text_field="context_before_prior" if prior else "context",
            choice_field="choices_with_prior" if prior else "choices",
            extra_metrics=MUTUAL_INFO_METRIC if prior else ""))
    return tasks


def _offline() -> None:
    for k in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(k, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def evaluate_models(hf_dirs: dict[str, str | os.PathLike], tasks_dir: str | os.PathLike, work_dir: str | os.PathLike,
                    limit: int | None = None, batch_size: int = 16, log_samples: bool = False, chat: bool = False
                    ) -> tuple[dict[str, dict], dict[str, dict]]:
    """(lm-eval's simple_evaluate output for each HF model folder, the JSONL tasks' {layout, shots, file}).
    chat: contexts go through the export's chat template (Llama 2 format; it starts with <s> itself)."""
    _offline()
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    tasks = write_task_configs(tasks_dir, Path(work_dir) / "tasks")
    include = [str(Path(work_dir) / "tasks")] + ([str(tasks_dir)] if any(Path(tasks_dir).glob("*.yaml")) else [])
    manager = TaskManager(include_path=include, include_defaults=False)
    names = list(tasks) + [n for n in manager.all_tasks if n not in tasks]
    # lm-eval warns once per task that custom_dataset kwargs can come from --metadata: not our case.
    logging.getLogger("lm_eval.api.task").setLevel(logging.ERROR)
    out = {}
    for model_name, d in hf_dirs.items():
        # add_bos_token: score after <s>, as the papers' models (and our scorer) do.
        lm = HFLM(pretrained=str(d), device="cpu", dtype="float32", batch_size=batch_size, add_bos_token=not chat)
        out[model_name] = lm_eval.simple_evaluate(
            model=lm, tasks=names, task_manager=manager, limit=limit or None, log_samples=log_samples,
            apply_chat_template=chat, fewshot_as_multiturn=chat,
            bootstrap_iters=100, random_seed=0, numpy_random_seed=0, torch_random_seed=0, fewshot_random_seed=0)
    return out, tasks


def summarize(raw: dict, tasks_dir: str | os.PathLike, limit: int | None, task_files: dict) -> dict:
    """The stable part of lm-eval's results JSON (no timings, environment or function reprs): results,
    n-shot, n-samples, versions and higher_is_better per task, plus what was run."""
    keep = ("results", "n-shot", "n-samples", "versions", "higher_is_better")
    return {"harness": f"lm-evaluation-harness {_version()}", "tasks_dir": str(tasks_dir), "limit": limit or None,
            "task_files": task_files} | {k: raw.get(k) for k in keep}


def run_harness(hf_dirs: dict[str, str | os.PathLike], tasks_dir: str | os.PathLike, work_dir: str | os.PathLike,
                limit: int | None = None, batch_size: int = 16, chat: bool = False) -> dict[str, dict]:
    """{model name: summarize(lm-eval results)} for every model folder."""
    raw, task_files = evaluate_models(hf_dirs, tasks_dir, work_dir, limit, batch_size, chat=chat)
    return {name: summarize(r, tasks_dir, limit, task_files) | {"chat_template": chat} for name, r in raw.items()}


def results_rows(harness: dict[str, dict]) -> list[dict]:
    """One row per task: shots, then acc and acc_norm (%) of every model."""
    first = next(iter(harness.values()))
    rows = []
    for task in sorted(first.get("results") or {}):
        row = {"task": task, "shots": (first.get("n-shot") or {}).get(task)}
        for model, summary in harness.items():
            for name in ("acc", "acc_norm"):
                v = metric(summary, task, name)
                row[f"{model} {name} %"] = None if v is None else 100 * v
        rows.append(row)
    return rows


def metric(summary: dict, task: str, name: str) -> float | None:
    """A metric of one task from summarize()'s dict ("acc" / "acc_norm"; lm-eval keys them "acc,none")."""
    return (summary.get("results") or {}).get(task, {}).get(f"{name},none")


def bench_from_harness(summary: dict, tasks: dict) -> dict[str, dict]:
    """{task: {n, acc, acc_norm, chance}} from one model's lm-eval results (the shape our scorer returns);
    chance only for tasks read from JSONL (`tasks`: {name: [MCItem]})."""
    out = {}
    for task, _r in sorted((summary.get("results") or {}).items()):
        items = tasks.get(task) or []
        samples = (summary.get("n-samples") or {}).get(task, {})
        out[task] = {
            "n": samples.get("effective", len(items)),
            "acc": metric(summary, task, "acc"),
            "acc_norm": _nan(metric(summary, task, "acc_norm")),
            **({"acc_mutual_info": metric(summary, task, "acc_mutual_info")}
               if metric(summary, task, "acc_mutual_info") is not None else {}),
            "chance": sum(1 / len(i.choices) for i in items) / len(items) if items else None,
        }
    return out


def _nan(x):
    return float("nan") if x is None else x


def paper_section(harness: dict[str, dict], tasks: dict, profile: str):
    """The report section "lm-eval beside the paper": per task, the benchmark it stands for, shots, the
    paper's metric for each model and the paper's number for the profile; and that table as a dict."""
    from llama_model.eval import report as rep
    from llama_model.eval.paper import benchmark_of, paper_numbers

    paper_model, numbers = paper_numbers(profile)
    first = next(iter(harness.values()))
    rows = []
    for task in sorted(first.get("results") or {}):
        bench = benchmark_of(task, (first.get("task_files") or {}).get(task, {}).get("layout"))
        name = paper_metric(bench)                                   # the papers' metric per benchmark
        row = {"task": task, "benchmark": bench or "-", "shots": (first.get("n-shot") or {}).get(task),
               "metric": name}
        for model, summary in harness.items():
            v = metric(summary, task, name)
            row[f"{model} %"] = None if v is None else 100 * v
        row[f"paper {paper_model} %"] = numbers.get(bench) if bench else None
        rows.append(row)
    text = (f"lm-evaluation-harness {_version()} on the Hugging Face export (offline, local task files). "
            f"Paper column: {paper_model}" + ("" if paper_model == profile else
                                             f" (profile {profile or '?'} has no published numbers)")
            + "; the bundled mini tasks are small stand-ins, so only a real benchmark folder "
              "($LLAMA_EVAL_TASKS_DIR) is comparable.")
    return rep.Section("lm-evaluation-harness beside the paper", rows, text=text), \
        {"model": paper_model, "rows": rows}


def _version() -> str:
    from importlib.metadata import version
    return version("lm_eval")
