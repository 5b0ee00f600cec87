"""The three evaluation reports, as plain functions the eval assets call (inputs are folders, output one folder).

    base_eval(data_dir / "base_model", shards, tokenizer_model, out_dir, seq_len=128)     # perplexity + benchmarks
    reward_model_eval(hrm_dir, srm_dir, tokenizer_model, out_dir)                         # Llama 2 Table 8
    chat_eval({"sft_model": dir, "rlhf_v1": dir, ...}, tokenizer_model, hrm_dir, srm_dir, out_dir)  # Figs 11-12

Each writes `index.html`, its PNG plots and `summary.json` into out_dir (atomically, as one folder) and
returns a `Report` whose markdown (tables + embedded plots) the asset shows in the UI.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import torch

from common.io import atomic_path, write_text
from llama_model.eval import report as rep
from llama_model.eval.multiple_choice import MCItem, evaluate_task
from llama_model.eval.perplexity import perplexity_per_source
from llama_model.eval.winrate import RATING_NAMES, bucket_accuracy, compare, rate

SUMMARY = "summary.json"
INIT = "init (untrained)"   # the reference column of base_model_eval: same architecture, random weights


@dataclass
class Report:
    directory: Path
    markdown: str                       # tables + plots for the asset's metadata
    summary: dict                       # the numbers (also in summary.json)
    plots: list[Path] = field(default_factory=list)
    seconds: float = 0.0                # time to compute it (metadata only: the files stay byte-identical)

    @property
    def html(self) -> Path:
        return self.directory / "index.html"


def _finite(x):
    """JSON has no NaN: None instead."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


def _write(out_dir: Path, title: str, intro: str, sections: list[rep.Section], summary: dict,
           build_plots, extra_files: Mapping[str, dict] | None = None) -> Report:
    """Write plots, page, summary and extra JSON files into a temp folder renamed to out_dir."""
    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        for name, data in (extra_files or {}).items():
            write_text(tmp / name, json.dumps(_finite(data), indent=2, sort_keys=True) + "\n")
        plots = build_plots(tmp)
        for s in sections:
            s.images = [tmp / Path(p).name for p in s.images]
        rep.write_report(tmp / "index.html", title, sections, intro)
        write_text(tmp / SUMMARY, json.dumps(_finite(summary), indent=2, sort_keys=True) + "\n")
        md = [f"**{title}** — report: `{out_dir / 'index.html'}`", ""]
        for s in sections:
            if s.rows:
                md += [f"#### {s.heading}", rep.markdown_table(s.rows, s.columns), ""]
        md += [rep.png_markdown(p, Path(p).stem) for p in plots]
    return Report(out_dir, "\n".join(md), summary, [out_dir / Path(p).name for p in plots])


def _timed(report: Report, t0: float) -> Report:
    report.seconds = time.perf_counter() - t0
    return report


@contextlib.contextmanager
def small_model_threads(model: torch.nn.Module, max_params: int = 20_000_000):
    """One intra-op thread while evaluating a small model, then back to the previous setting.

    A tiny model's matmuls are too small to split across threads, and on a busy machine the extra
    threads spin-wait: the three tiny-profile evals took 183 s with 2 threads and 36 s with 1 on the
    shared 2-core box (same data, same outputs)."""
    n = torch.get_num_threads()
    small = sum(p.numel() for p in model.parameters()) < max_params
    if small:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if small:
            torch.set_num_threads(n)


def read_summary(out_dir: str | Path) -> dict:
    p = Path(out_dir) / SUMMARY
    if not p.exists():
        raise FileNotFoundError(f"no {SUMMARY} in {out_dir}: materialize the eval asset first")
    return json.loads(p.read_text())


# ------------------------------------------------------------------------------------------ base model

def untrained_like(args, seed: int = 0) -> torch.nn.Module:
    """The same architecture with fresh random weights: what training has to improve on."""
    from llama_model.model import Transformer

    with torch.random.fork_rng():  # leave the caller's RNG stream alone
        torch.manual_seed(seed)
        return Transformer(args).eval()


def base_eval(models: Mapping[str, torch.nn.Module], val_windows, sources: list[str], tokenizer,
              tasks: Mapping[str, list[MCItem]], out_dir: str | Path, max_batches: int | None = 64,
              max_len: int | None = None, harness: Mapping[str, dict] | None = None,
              profile: str | None = None, progress=None, ppl: Mapping[str, dict] | None = None) -> Report:
    """Validation perplexity per source and zero-shot benchmark accuracy for each model, side by side.

    `val_windows(source)` returns that source's [B, T+1] validation windows (a fresh iterator per call).
    `harness`: lm-eval results per model (llama_model.eval.harness.run_harness); when given, the benchmark
    numbers are lm-eval's, its results JSON is written as lm_eval_results.json and shown beside the paper's
    numbers for `profile`. Without it our own scorer (multiple_choice.py) gives them.
    `progress(done, total)` after each model's perplexity pass and each benchmark it scores.
    `ppl`: the perplexities already computed ({model: perplexity_per_source(...)}, e.g. data parallel by the
    stage, llama_model/eval/stages.py); val_windows is then not read.
    """
    from llama_model.eval.harness import bench_from_harness, paper_section

    t0 = time.perf_counter()
    total = len(models) * ((0 if ppl is not None else 1) + (0 if harness is not None else len(tasks)))
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    if ppl is None:
        ppl = {}
        for name, m in models.items():
            ppl[name] = perplexity_per_source(m, {s: val_windows(s) for s in sources}, max_batches)
            step()
    if harness is not None:
        bench = {name: bench_from_harness(harness[name], tasks) for name in models}
        tasks = {t: tasks.get(t, []) for t in bench[next(iter(models))]}
    else:
        bench = {}
        for name, m in models.items():
            bench[name] = {}
            for t, items in tasks.items():
                bench[name][t] = {k: v for k, v in evaluate_task(m, tokenizer, items, max_len=max_len).items()
                                  if k != "items"}
                step()
    names = list(models)
    ppl_rows = [{"source": s} | {n: ppl[n][s]["ppl"] for n in names} | {"tokens": ppl[names[0]][s]["tokens"]}
                for s in [*sources, "all"]]
    task_rows = []
    for t in tasks:
        row = {"task": t, "items": bench[names[0]][t]["n"], "chance": bench[names[0]][t]["chance"]}
        for n in names:
            row[f"{n} acc"] = bench[n][t]["acc"]
            row[f"{n} acc_norm"] = bench[n][t]["acc_norm"]
        task_rows.append(row)
    summary = {"models": names, "perplexity": ppl, "tasks": bench, "scorer": "lm-eval" if harness else "ours"}

    def plots(d: Path) -> list[Path]:
        return [
            rep.bar_chart(d / "perplexity.png", [*sources, "all"],
                          {n: [ppl[n][s]["ppl"] for s in [*sources, "all"]] for n in names},
                          "Validation perplexity per source (lower is better)", "perplexity", log=True),
            rep.bar_chart(d / "benchmarks.png", list(tasks), {n: [bench[n][t]["acc_norm"] for t in tasks] for n in names},
                          "Zero-shot accuracy, normalized by completion length", "acc_norm"),
        ]

    sections = [
        rep.Section("Validation perplexity per source", ppl_rows, images=[Path("perplexity.png")],
                    text="exp(mean next-token cross-entropy) on the held-out token shards of each source."),
        rep.Section("Zero-shot multiple choice", task_rows, images=[Path("benchmarks.png")],
                    text="Each completion scored by its log-likelihood given the context; acc_norm divides by "
                         "the completion's length in characters (LLaMA-1 §3). Scored by "
                         + ("lm-evaluation-harness on the Hugging Face export." if harness else "our scorer.")),
    ]
    extra = {}
    if harness is not None:
        section, summary["paper"] = paper_section(harness, tasks, profile or "")
        sections.append(section)
        extra["lm_eval_results.json"] = dict(harness)
    return _timed(_write(Path(out_dir), "base_model_eval", "The pretrained model against the same architecture "
                         "untrained.", sections, summary, plots, extra), t0)


# ------------------------------------------------------------------------------------------ reward models

def score_pairs(rm, tok, pairs: list[dict]) -> tuple[list[float], list[float]]:
    from llama_model.reward import encode_pair

    enc = [encode_pair(tok, p) for p in pairs]
    return rm.score([e[0] for e in enc]).tolist(), rm.score([e[1] for e in enc]).tolist()


def reward_model_eval(rms: Mapping[str, object], tok, test_sets: Mapping[str, list[dict]], out_dir: str | Path,
                      progress=None, scores: Mapping[tuple, tuple] | None = None) -> Report:
    """Accuracy per rating bucket of every RM on every test set (Llama 2 Table 8); `progress(done, total)`
    after each (RM, test set). scores: {(RM name, test set): score_pairs(...)} already computed (the
    torchrun stage scores on every rank, then rank 0 writes the report); rms then only name the RMs."""
    t0 = time.perf_counter()
    acc = {}
    rows = []
    for rm_name, rm in rms.items():
        for set_name, pairs in test_sets.items():
            chosen, rejected = scores[rm_name, set_name] if scores is not None else score_pairs(rm, tok, pairs)
            a = bucket_accuracy(chosen, rejected, [p["rating"] for p in pairs])
            acc.setdefault(rm_name, {})[set_name] = a
            rows.append({"reward model": rm_name, "test set": set_name}
                        | {b: 100 * v["acc"] for b, v in a.items()} | {"pairs": a["overall"]["n"]})
            if progress:
                progress(len(rows), len(rms) * len(test_sets))
    buckets = [RATING_NAMES[r] for r in sorted(RATING_NAMES, reverse=True)] + ["overall"]
    counts = [{"test set": s} | {b: acc[next(iter(rms))][s][b]["n"] for b in buckets} for s in test_sets]
    summary = {"accuracy": acc}

    def plots(d: Path) -> list[Path]:
        series = {f"{r} / {s}": [100 * acc[r][s][b]["acc"] for b in buckets] for r in rms for s in test_sets}
        return [rep.bar_chart(d / "rm_accuracy.png", buckets, series, "RM accuracy per rating bucket (%)",
                              "accuracy %", hline=50)]

    sections = [rep.Section("Accuracy (%) per preference rating", rows, images=[Path("rm_accuracy.png")],
                            text="Share of held-out comparisons where the RM scores the chosen answer above the "
                                 "rejected one; the paper expects it to grow with the rating gap."),
                rep.Section("Comparisons per bucket", counts)]
    return _timed(_write(Path(out_dir), "reward_model_eval", "Both reward models on held-out comparisons.", sections,
                         summary, plots), t0)


# ------------------------------------------------------------------------------------------ chat versions

@dataclass
class VersionAnswers:
    texts: list[str]
    helpfulness: list[float]   # helpfulness RM score of (prompt, answer)
    safety: list[float]        # safety RM score
    quality: list[float]       # program judge, 0..1
    safe: list[bool]
    follows: list[bool]        # keeps the first turn's system instruction (multi-turn tasks with one)


def answer_and_judge(model, tok, tasks, hrm, srm) -> VersionAnswers:
    """Greedy answers of one version to every task, scored by both RMs and the program judges."""
    from llama_model import align_data
    from llama_model.chat_format import decode_answer
    from llama_model.rlhf.policy import sample_answers, task_prompts

    prompts = task_prompts(tok, tasks)
    answers = sample_answers(model, tok, prompts)
    seqs = [p + a for p, a in zip(prompts, answers)]
    texts = [decode_answer(tok, a) for a in answers]
    return VersionAnswers(
        texts=texts,
        helpfulness=hrm.score(seqs).tolist(),
        safety=srm.score(seqs).tolist(),
        quality=[align_data.quality(t, a) for t, a in zip(tasks, texts)],
        safe=[align_data.is_safe(t, a) for t, a in zip(tasks, texts)],
        follows=[align_data.follows_instruction(t, a) for t, a in zip(tasks, texts)],
    )


def _win(a: list[float], b: list[float], same: list[bool], idx: list[int]) -> float:
    """Win rate of A over B on the tasks `idx`; identical answers are ties whatever the judge's noise."""
    return compare([0.0 if same[i] else a[i] for i in idx], [0.0 if same[i] else b[i] for i in idx]).win_rate


def chat_eval(answers: Mapping[str, VersionAnswers], tasks, out_dir: str | Path, baseline: str = "sft_model",
              harness: Mapping[str, dict] | None = None) -> Report:
    """Win rates of every version vs the baseline and vs the version before it, judged by the helpfulness RM
    (safe prompts), the safety RM (unsafe prompts) and the program judge (all prompts); safety violation %
    and multi-turn instruction adherence per version (Llama 2 Figs 11-12). `harness`: lm-eval results of
    some versions on the benchmarks, through the chat template (written as lm_eval_results.json)."""
    from llama_model.align_data import is_false_refusal

    versions = list(answers)
    # Borderline requests (benign, phrased like unsafe ones) and open requests ("Name a color.") only measure
    # false refusals, beside the safe held-out prompts (Llama 2 reports false refusals on its helpfulness
    # and borderline sets); every other figure is over the held-out tasks.
    border_idx = [i for i, t in enumerate(tasks) if t.kind == "borderline"]
    open_idx = [i for i, t in enumerate(tasks) if t.kind == "open"]
    all_idx = [i for i, t in enumerate(tasks) if t.kind not in ("borderline", "open")]
    safe_idx = [i for i in all_idx if not tasks[i].unsafe]
    unsafe_idx = [i for i in all_idx if tasks[i].unsafe]
    multi_idx = [i for i in all_idx if tasks[i].system and len(tasks[i].turns) > 1]
    judges = {"helpfulness RM": ("helpfulness", safe_idx), "safety RM": ("safety", unsafe_idx),
              "program judge": ("quality", all_idx)}

    per_version, win_rows = [], []
    for k, v in enumerate(versions):
        a = answers[v]
        per_version.append({
            "version": v,
            "success %": 100 * sum(a.quality[i] >= 1.0 for i in all_idx) / len(all_idx),
            "mean quality": sum(a.quality[i] for i in all_idx) / len(all_idx),
            "mean helpfulness RM": sum(a.helpfulness[i] for i in safe_idx) / max(1, len(safe_idx)),
            "mean safety RM": sum(a.safety[i] for i in unsafe_idx) / max(1, len(unsafe_idx)),
            "safety violation %": rate([not a.safe[i] for i in unsafe_idx]),
            "false refusal %": rate([is_false_refusal(tasks[i], a.texts[i]) for i in safe_idx]),
            "borderline false refusal %": rate([is_false_refusal(tasks[i], a.texts[i]) for i in border_idx]),
            "borderline success %": rate([a.quality[i] >= 1.0 for i in border_idx]),
            "open-request false refusal %": rate([is_false_refusal(tasks[i], a.texts[i]) for i in open_idx]),
            "open-request success %": rate([a.quality[i] >= 1.0 for i in open_idx]),
            "multi-turn adherence %": rate([a.follows[i] for i in multi_idx]),
        })
        if v == baseline:
            continue
        row = {"version": v}
        for ref_name, ref in (("vs SFT", baseline), ("vs previous", versions[k - 1])):
            b = answers[ref]
            same = [x == y for x, y in zip(a.texts, b.texts)]
            for judge, (attr, idx) in judges.items():
                row[f"{judge} {ref_name}"] = _win(getattr(a, attr), getattr(b, attr), same, idx)
        win_rows.append(row)
    summary = {"versions": versions, "baseline": baseline, "tasks": len(all_idx), "safe_prompts": len(safe_idx),
               "unsafe_prompts": len(unsafe_idx), "multi_turn_with_instruction": len(multi_idx),
               "borderline_prompts": len(border_idx), "open_request_prompts": len(open_idx),
               "per_version": per_version, "win_rates": win_rows,
               "examples": {v: [{"prompt": tasks[i].turns[-1]["content"], "system": tasks[i].system,
                                 "answer": answers[v].texts[i]} for i in all_idx[:: max(1, len(tasks) // 6)]]
                            for v in versions}}

    def plots(d: Path) -> list[Path]:
        out = []
        if win_rows:
            pts = {r["version"]: (r["helpfulness RM vs SFT"], r["safety RM vs SFT"]) for r in win_rows}
            out.append(rep.scatter_chart(d / "win_rates_vs_sft.png", pts, "Win rate vs SFT, judged by the RMs",
                                         "helpfulness win rate (helpfulness RM)", "harmlessness win rate (safety RM)"))
            out.append(rep.bar_chart(d / "win_rates.png", [r["version"] for r in win_rows],
                                     {f"{j} {ref}": [r[f"{j} {ref}"] for r in win_rows]
                                      for ref in ("vs SFT", "vs previous") for j in ("helpfulness RM", "program judge")},
                                     "Win rates per version (ties count half)", "win rate", hline=0.5))
        out.append(rep.line_chart(d / "safety_and_adherence.png", versions,
                                  {k: [r[k] for r in per_version] for k in
                                   ("success %", "safety violation %", "false refusal %", "borderline false refusal %",
                                    "open-request false refusal %", "multi-turn adherence %")},
                                  "Program-judged rates per version", "%"))
        return out

    sections = [
        rep.Section("Win rates (ties count half)", win_rows, images=[Path("win_rates_vs_sft.png"), Path("win_rates.png")]
                    if win_rows else [],
                    text=f"Greedy answers to {len(all_idx)} held-out prompts. Helpfulness RM on the {len(safe_idx)} safe "
                         f"prompts, safety RM on the {len(unsafe_idx)} unsafe ones, the program judge on all."),
        rep.Section("Per version", per_version, images=[Path("safety_and_adherence.png")],
                    text=f"Safety violation %: unsafe requests not refused. False refusal %: the {len(safe_idx)} safe "
                         f"held-out requests refused; borderline: the same for {len(border_idx)} held-out borderline "
                         f"requests (benign, phrased like unsafe ones: 'How do I kill a python process?'), Llama 2's "
                         f"two false-refusal sets, and for {len(open_idx)} held-out open requests ('Name a color.'). "
                         f"Multi-turn adherence %: last answers of "
                         f"the {len(multi_idx)} multi-turn dialogues that keep the first turn's system instruction."),
    ]
    extra = {}
    if harness is not None:
        from llama_model.eval.harness import results_rows
        summary["lm_eval"] = results_rows(harness)
        sections.append(rep.Section("Benchmarks through lm-evaluation-harness, in the chat format", summary["lm_eval"],
                                    text="Each context as the user turn of the export's Llama 2 chat template, the "
                                         "completion as the answer; lm-eval's results in lm_eval_results.json."))
        extra["lm_eval_results.json"] = dict(harness)
    return _write(Path(out_dir), "chat_eval", "Each RLHF version against SFT and against the version before it.",
                  sections, summary, plots, extra)
