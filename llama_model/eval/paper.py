"""The papers' benchmark numbers per profile, and which benchmark a task file stands for.

    paper_numbers("llama-7b")["HellaSwag"]      # 76.1 (LLaMA-1 Table 3, zero-shot, accuracy %)
    benchmark_of("ARC-Challenge-Test", "arc")   # "ARC-c"

Transcribed from LLaMA-1 Tables 3 (zero-shot common sense), 7 (GSM8k maj1@1), 8 (HumanEval / MBPP pass@1)
and 9 (MMLU 5-shot), and Llama 2 Tables 20 (common sense, MMLU), 21 (code) and 25 (GSM8k); SPEC.md has no
numbers, so check these against the papers when citing them. docs/evaluation.md lists the lm-eval task, shots
and metric for each. Profiles without published numbers (tiny, small) are shown
beside the smallest LLaMA-1 model, labelled as such.
"""
from __future__ import annotations

COLUMNS = ("BoolQ", "PIQA", "SIQA", "HellaSwag", "WinoGrande", "ARC-e", "ARC-c", "OBQA", "MMLU", "GSM8k",
           "HumanEval", "MBPP")

_TABLE = {   # percent, in COLUMNS order (None: not reported for that model)
    "llama-7b": (76.5, 79.8, 48.9, 76.1, 70.1, 72.8, 47.6, 57.2, 35.1, 11.0, 10.5, 17.7),
    "llama-13b": (78.1, 80.1, 50.4, 79.2, 73.0, 74.8, 52.7, 56.4, 46.9, 17.8, 15.8, 22.0),
    "llama-33b": (83.1, 82.3, 50.4, 82.8, 76.0, 80.0, 57.8, 58.6, 57.8, 35.6, 21.7, 30.2),
    "llama-65b": (85.3, 82.8, 52.3, 84.2, 77.0, 78.9, 56.0, 60.2, 63.4, 50.9, 23.7, 37.7),
    "llama2-7b": (77.4, 78.8, 48.3, 77.2, 69.2, 75.2, 45.9, 58.6, 45.3, 14.6, 12.8, 20.8),
    "llama2-13b": (81.7, 80.5, 50.3, 80.7, 72.8, 77.3, 49.4, 57.0, 54.8, 28.7, 18.3, 30.6),
    "llama2-34b": (83.7, 81.9, 50.9, 83.3, 76.7, 79.4, 54.5, 58.2, 62.6, 42.2, 22.6, 33.0),
    "llama2-70b": (85.0, 82.8, 50.7, 85.3, 80.2, 80.2, 57.4, 60.2, 68.9, 56.8, 29.9, 45.0),
}
REFERENCE = "llama-7b"


def paper_numbers(profile: str) -> tuple[str, dict[str, float]]:
    """(the paper model shown, {benchmark: accuracy %}) for a profile; non-paper profiles get LLaMA-7B."""
    name = profile if profile in _TABLE else REFERENCE
    return name, {c: v for c, v in zip(COLUMNS, _TABLE[name]) if v is not None}


def benchmark_of(task: str, layout: str | None) -> str | None:
    """Which paper column a task file measures, from its layout (and name for ARC's two sets)."""
    t = task.lower()
    if layout == "arc" or t.startswith("arc"):
        return "ARC-c" if "challenge" in t or t.endswith("_c") else "ARC-e"
    return {"hellaswag": "HellaSwag", "piqa": "PIQA", "boolq": "BoolQ", "mmlu": "MMLU"}.get(layout or "")
