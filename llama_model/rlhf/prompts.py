"""Your RLHF prompts: the prompts rejection sampling and PPO sample answers to, instead of the bundled tasks.

JSONL, one prompt per line: the dialogue so far, ending with a user turn, an optional system prompt and an
optional safety tag (an unsafe prompt is always judged by the safety RM, SPEC §6):

    {"system": "Answer in French.", "turns": [{"role": "user", "content": "What is 2 + 2?"}], "unsafe": false}

    tasks = load_prompts_jsonl("prompts.jsonl")     # ValueError("prompts.jsonl:3: ...") on the first bad line

They load as align_data.Task objects with kind "user" and no reference answer (the RMs judge them; the
program judge only knows the bundled tasks).
"""
from __future__ import annotations

import json
from pathlib import Path

from llama_model.align_data import Task

ROLES = ("user", "assistant")


def _bad(path, line: int, msg: str) -> ValueError:
    return ValueError(f"{path}:{line}: {msg}")


def validate_prompt(record, path="<prompts>", line: int = 0) -> Task:
    if not isinstance(record, dict):
        raise _bad(path, line, "expected a JSON object with 'turns'")
    unknown = set(record) - {"system", "turns", "unsafe"}
    if unknown:
        raise _bad(path, line, f"unknown fields {sorted(unknown)} (allowed: system, turns, unsafe)")
    turns = record.get("turns")
    if not isinstance(turns, list) or not turns:
        raise _bad(path, line, "'turns' must be a non-empty list of {role, content}")
    for i, t in enumerate(turns):
        if not isinstance(t, dict) or set(t) != {"role", "content"} or not isinstance(t["content"], str):
            raise _bad(path, line, f"turn {i} must be {{'role': ..., 'content': '...'}}")
        if t["role"] != ROLES[i % 2]:
            raise _bad(path, line, f"turn {i} must have role {ROLES[i % 2]!r} (turns alternate, user first)")
        if not t["content"].strip():
            raise _bad(path, line, f"turn {i} is empty")
    if turns[-1]["role"] != "user":
        raise _bad(path, line, "the last turn must be the user's (the prompt to answer)")
    system = record.get("system")
    if system is not None and not isinstance(system, str):
        raise _bad(path, line, "'system' must be a string")
    unsafe = record.get("unsafe", False)
    if not isinstance(unsafe, bool):
        raise _bad(path, line, "'unsafe' must be true or false")
    return Task(kind="user", turns=[dict(t) for t in turns], answer="", system=system or None, unsafe=unsafe)


def load_prompts_jsonl(path) -> list[Task]:
    path = Path(path)
    out = []
    with open(path, encoding="utf-8") as f:
        for i, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except json.JSONDecodeError as e:
                raise _bad(path, i, f"not valid JSON ({e.msg})") from None
            out.append(validate_prompt(rec, path, i))
    if not out:
        raise ValueError(f"{path}: no prompts")
    return out
