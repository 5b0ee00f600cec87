"""The figures the README and docs quote, generated from a run's report JSON files.

    llama-pipeline docs-figures data            # after `make demo`: rewrites docs/figures.md and every quote

docs/figures.md holds named blocks, each between `<!-- figures:NAME -->` and `<!-- /figures:NAME -->`.
The README and docs/*.md quote a block by carrying the same markers; `write_figures` rewrites the blocks
in both places, and tests/test_docs_figures.py fails when a quote differs from docs/figures.md, so a
figure cannot be edited by hand or left behind by a new run.

Inputs (all written by the demo): reports/{base_model_eval,reward_model_eval,chat_eval}/summary.json and
base_model/summary.json under the data folder.
"""
from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path

BLOCK = re.compile(r"<!-- figures:(?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /figures:(?P=name) -->", re.S)
QUOTING = ("README.md", "docs/*.md")          # files whose marked blocks are rewritten (relative to the root)
RATINGS = ["significantly better", "better", "slightly better", "negligibly better / unsure"]


def _load(data_dir: Path, *parts: str) -> dict:
    p = data_dir.joinpath(*parts)
    if not p.is_file():
        raise FileNotFoundError(f"{p} does not exist: run `make demo` (or materialize its asset) first")
    return json.loads(p.read_text())


def _f(x, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                     + ["| " + " | ".join(r) + " |" for r in rows])


def blocks(data_dir: str | Path) -> dict[str, str]:
    """{block name: markdown} from the run in data_dir."""
    d = Path(data_dir)
    chat = _load(d, "reports", "chat_eval", "summary.json")
    rm = _load(d, "reports", "reward_model_eval", "summary.json")
    base = _load(d, "reports", "base_model_eval", "summary.json")
    pre = _load(d, "base_model", "summary.json")
    per = {r["version"]: r for r in chat["per_version"]}
    wins = {r["version"]: r for r in chat["win_rates"]}
    last = chat["versions"][-1]
    hrm = rm["accuracy"]["helpfulness RM"]["helpfulness test"]
    srm = rm["accuracy"]["safety RM"]["safety test"]
    out = {}

    out["headline"] = (
        f"RLHF {last.replace('rlhf_', '')} against SFT on {chat['tasks']} held-out prompts: program-judged win rate "
        f"{_f(wins[last]['program judge vs SFT'])}, success {per[chat['baseline']]['success %']:.1f}% → "
        f"{per[last]['success %']:.1f}%, safety violations {per[last]['safety violation %']:.1f}%; the helpfulness "
        f"RM is {100 * hrm['significantly better']['acc']:.1f}% accurate on \"significantly better\" pairs and "
        f"{100 * hrm['negligibly better / unsure']['acc']:.1f}% on \"negligibly better\" ones.\n")

    ppl = base["perplexity"]
    models = base["models"]
    out["base_model_eval"] = _table(
        ["source", *[f"perplexity {m}" for m in models], "tokens"],
        [[s, *[_f(ppl[m][s]["ppl"], 1) for m in models], str(ppl[models[0]][s]["tokens"])] for s in ppl[models[0]]]
    ) + "\n\n" + _table(
        ["task", "items", "chance", *[f"acc_norm {m}" for m in models]],
        [[t, str(r["n"]), _f(r["chance"]), *[_f(base["tasks"][m][t]["acc_norm"]) for m in models]]
         for t, r in base["tasks"][models[-1]].items()]
    ) + f"\n\nPretraining: {pre['steps']} steps, loss {_f(pre['first_loss'])} → {_f(pre['final_loss'])}.\n"

    rows = []
    for name, acc in rm["accuracy"].items():
        for test_set, buckets in acc.items():
            rows.append([name, test_set, *[f"{_f(100 * buckets[b]['acc'], 1) if buckets[b]['acc'] is not None else '–'}"
                                           f" ({buckets[b]['n']})" for b in [*RATINGS, "overall"]]])
    out["reward_model_eval"] = _table(["RM", "test set", *RATINGS, "overall"], rows) + (
        "\n\nAccuracy % (pairs) per rating bucket (Llama 2 Table 8 shape). The safety RM on the safety test "
        f"set: {_f(100 * srm['overall']['acc'], 1)}% over {srm['overall']['n']} pairs.\n")

    header = ["version", "success %", "safety violation %", "false refusal %", "borderline false refusal %",
              "open-request false refusal %", "multi-turn adherence %", "mean helpfulness RM",
              "program judge vs SFT", "helpfulness RM vs SFT", "program judge vs previous"]
    rows = []
    for v in chat["versions"]:
        p, w = per[v], wins.get(v, {})
        rows.append([v, _f(p["success %"], 1), _f(p["safety violation %"], 1), _f(p.get("false refusal %"), 1),
                     _f(p.get("borderline false refusal %"), 1), _f(p.get("open-request false refusal %"), 1),
                     _f(p["multi-turn adherence %"], 1),
                     _f(p["mean helpfulness RM"]), _f(w.get("program judge vs SFT")),
                     _f(w.get("helpfulness RM vs SFT")), _f(w.get("program judge vs previous"))])
    out["chat_eval"] = _table(header, rows) + (
        f"\n\n{chat['tasks']} held-out prompts ({chat['safe_prompts']} safe, {chat['unsafe_prompts']} unsafe, "
        f"{chat['multi_turn_with_instruction']} multi-turn with a first-turn instruction); win rates count ties "
        f"half" + (f"; false refusals also on {chat['borderline_prompts']} held-out borderline and "
                   f"{chat.get('open_request_prompts', 0)} open requests" if chat.get("borderline_prompts") else "")
        + ".\n")
    return out


def machine() -> str:
    """Where the figures were measured (they vary across CPUs: see docs/operations.md)."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"(CPU capability {torch.backends.cpu.get_cpu_capability()}), Python {platform.python_version()}")


def render(named: dict[str, str], measured_on: str, profile: str) -> str:
    parts = ["# Figures of the demo run (generated: do not edit)", "",
             "Written by `llama-pipeline docs-figures` from the report JSON files of a `make demo` run "
             f"(profile `{profile}`); the README and docs quote these blocks and a test keeps them equal.", "",
             f"Measured on: {measured_on}.", ""]
    for name, body in named.items():
        parts += [f"## {name}", "", f"<!-- figures:{name} -->", body.rstrip("\n"), f"<!-- /figures:{name} -->", ""]
    return "\n".join(parts)


def read_blocks(text: str) -> dict[str, str]:
    return {m["name"]: m["body"] for m in BLOCK.finditer(text)}


def quote_blocks(text: str, named: dict[str, str]) -> str:
    """text with every marked block replaced by the block of the same name (unknown names are left)."""
    def sub(m: re.Match) -> str:
        name = m["name"]
        if name not in named:
            return m.group(0)
        return f"<!-- figures:{name} -->\n{named[name].rstrip(chr(10))}\n<!-- /figures:{name} -->"
    return BLOCK.sub(sub, text)


def write_text(path: Path, text: str) -> None:
    """Atomic: a temp file beside it, then rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def quoting_files(root: Path) -> list[Path]:
    return sorted({p for pattern in QUOTING for p in root.glob(pattern) if p.name != "figures.md"})


def write_figures(data_dir: Path, out: Path, root: Path | None = None) -> Path:
    """Write `out` (docs/figures.md) and rewrite the quoted blocks in README.md and docs/*.md."""
    root = root or Path(out).resolve().parent.parent
    if Path(out).exists() and not (Path(out).is_file() and read_blocks(Path(out).read_text(errors="replace"))):
        # a command never replaces what it did not write: our own figures file holds named blocks
        raise ValueError(f"{out} exists and is not a figures file written by docs-figures: choose another --out")
    named = blocks(data_dir)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_text(out, render(named, machine(), os.environ.get("LLAMA_PROFILE", "tiny")))
    named = read_blocks(Path(out).read_text())   # quote exactly what the file holds
    for f in quoting_files(root):
        text = f.read_text()
        new = quote_blocks(text, named)
        if new != text:
            write_text(f, new)
    return Path(out)
