"""Alignment rows as trl / datasets users have them, checked and turned into our records; and back.

SFT rows (one dialogue each), any of:
- {"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...]}          trl conversational
- {"prompt": str | messages, "completion": str | [assistant message]}                trl prompt-completion
- {"system"?: str, "turns": [user, assistant, ...]}                                  this project's first format
Preference rows (one comparison each), any of:
- {"prompt": str | messages, "chosen": str | [assistant message], "rejected": ...}  trl explicit prompt
- {"chosen": messages, "rejected": messages}           trl implicit prompt: the shared messages are the prompt
- UltraFeedback-binarized: a "prompt" string and chosen/rejected conversations that repeat it
- Anthropic HH: chosen/rejected "\\n\\nHuman: ...\\n\\nAssistant: ..." transcripts sharing their prompt
plus our optional fields "rating" (0-3, default 0) and "safety" ({"unsafe_prompt", "chosen_safe",
"rejected_safe"}: booleans; defaults false, true, true). Other fields (prompt_id, score_chosen...) are ignored.
The rejected answer alone may be empty: a model that says nothing is a real answer to rank low (our own
model-sampled pairs have them); an empty chosen answer is a data error.

Types are checked, never coerced: "false" is not a boolean and true is not a rating. A system message may
only come first; turns alternate user/assistant from the user; no text may be empty. The parsers raise
FormatError(what is wrong); the file readers (files.py) put the file and line or row in front.

Internal records (what sft.py, reward.py and the RLHF stages consume):
dialogue {"system"?: str, "turns": [...]}, comparison {"system"?, "prompt": turns, "chosen": str,
"rejected": str, "rating": int, "safety": {three booleans}}. We write trl rows (`sft_row`, `preference_row`,
`sample_row`) so `datasets.load_dataset("json", ...)` and trl read our outputs as they are.
"""
from __future__ import annotations

import re

ROLES = ("system", "user", "assistant")
SAFETY_DEFAULTS = {"unsafe_prompt": False, "chosen_safe": True, "rejected_safe": True}
RATINGS = (0, 1, 2, 3)
HH_TURN = re.compile(r"\n\n(Human|Assistant):")     # the Anthropic HH-RLHF transcript separator


class FormatError(ValueError):
    """A row that is not a dialogue / comparison we can train on; the message says why."""


def _kind(x) -> str:
    """The JSON type of a value, for error messages."""
    if x is None:
        return "null"
    if isinstance(x, bool):
        return f"the boolean {str(x).lower()}"
    if isinstance(x, (int, float)):
        return f"the number {x!r}"
    if isinstance(x, str):
        return f"the string {x[:40]!r}" if x.strip() else "an empty string"
    if isinstance(x, (list, tuple)):
        return "a list"
    if isinstance(x, dict):
        return "an object"
    return type(x).__name__


def _text(x, what: str, empty_ok: bool = False) -> str:
    if not isinstance(x, str):
        raise FormatError(f"{what} must be text, got {_kind(x)}")
    if not x.strip() and not empty_ok:
        raise FormatError(f"{what} is empty")
    return x


def _messages(x, what: str, empty_last_ok: bool = False) -> list[dict]:
    """A list of {role, content} messages, each typed (extra keys such as `name` are ignored)."""
    if not isinstance(x, (list, tuple)) or not x:
        raise FormatError(f"{what} must be a non-empty list of {{role, content}} messages, got {_kind(x)}")
    out = []
    for i, m in enumerate(x):
        if not isinstance(m, dict):
            raise FormatError(f"{what}[{i}] must be an object {{role, content}}, got {_kind(m)}")
        if m.get("role") not in ROLES:
            raise FormatError(f"{what}[{i}] has role {m.get('role')!r}: expected system, user or assistant")
        if isinstance(m.get("content"), list):
            raise FormatError(f"{what}[{i}] content is a list of parts (multimodal): only text content is supported")
        out.append({"role": m["role"], "content": _text(m.get("content"), f"{what}[{i}] ({m['role']}) content",
                                                        empty_last_ok and i == len(x) - 1)})
    return out


def _dialogue(msgs: list[dict], what: str, last: str) -> tuple[str | None, list[dict]]:
    """(system, turns) of messages: an optional leading system message, then user/assistant alternating
    from the user, ending with `last`."""
    system, offset = None, 0          # offset: index in the row's list, for the error messages
    if msgs and msgs[0]["role"] == "system":
        system, msgs, offset = msgs[0]["content"], msgs[1:], 1
    if not msgs:
        raise FormatError(f"{what} has no user turn")
    for i, m in enumerate(msgs):
        want = "user" if i % 2 == 0 else "assistant"
        if m["role"] == "system":
            raise FormatError(f"{what}[{i + offset}] is a system message: a system message may only come first")
        if m["role"] != want:
            raise FormatError(f"{what}[{i + offset}] is {m['role']!r} where {want!r} belongs (turns alternate "
                              f"user/assistant, starting with the user)")
    if msgs[-1]["role"] != last:
        raise FormatError(f"{what} must end with a{'n' if last == 'assistant' else ''} {last} turn")
    return system, msgs


def _prompt(x, what: str = "'prompt'") -> tuple[str | None, list[dict]]:
    """A prompt: a string (one user turn, or an HH transcript ending in 'Assistant:') or messages ending with a user turn."""
    if isinstance(x, str):
        if HH_TURN.search("\n\n" + x.lstrip("\n")) and x.rstrip().endswith("Assistant:"):
            turns = _split_hh(x, what, allow_empty_last=True)
            return None, _dialogue(turns[:-1], what, "user")[1]
        return None, [{"role": "user", "content": _text(x, what)}]
    return _dialogue(_messages(x, what), what, "user")


def _split_hh(text: str, what: str, allow_empty_last: bool = False) -> list[dict]:
    """'\\n\\nHuman: .. \\n\\nAssistant: ..' -> messages (the HH-RLHF transcript format)."""
    text = _text(text, what)
    parts = HH_TURN.split("\n\n" + text.lstrip("\n"))
    if len(parts) == 1:
        raise FormatError(f"{what} is text without '\\n\\nHuman:' / '\\n\\nAssistant:' turns: give a 'prompt' "
                          f"with it, or transcripts in the HH format")
    if parts[0].strip():
        raise FormatError(f"{what} has text before the first '\\n\\nHuman:': not an HH transcript")
    turns = [{"role": "user" if r == "Human" else "assistant", "content": c.strip()} for r, c in zip(parts[1::2], parts[2::2])]
    for i, t in enumerate(turns[:-1] if allow_empty_last else turns):
        if not t["content"]:
            raise FormatError(f"{what}: turn {i} ({'Human' if t['role'] == 'user' else 'Assistant'}) is empty")
    return turns


# --------------------------------------------------------------------------------------------- SFT
def parse_sft(row) -> dict:
    """One SFT row in any accepted format -> {"system"?, "turns"} (ends with an assistant turn)."""
    if not isinstance(row, dict):
        raise FormatError(f"a dialogue must be an object, got {_kind(row)}")
    if row.get("messages") is not None:
        system, turns = _dialogue(_messages(row["messages"], "'messages'"), "'messages'", "assistant")
    elif row.get("completion") is not None or row.get("prompt") is not None:
        for k in ("prompt", "completion"):
            if row.get(k) is None:
                raise FormatError(f"a prompt-completion row needs both 'prompt' and 'completion' (no {k!r})")
        system, turns = _prompt(row["prompt"])
        turns = turns + [{"role": "assistant", "content": _completion(row["completion"], "'completion'", system, turns)}]
    elif row.get("turns") is not None:
        system = row.get("system")
        if system is not None:
            _text(system, "'system'")
        turns = _dialogue(_messages(row["turns"], "'turns'"), "'turns'", "assistant")[1]
    elif row.get("text") is not None:
        raise FormatError("a 'text' row is plain language-model text, not a dialogue: give 'messages' "
                          "(or 'prompt' and 'completion')")
    else:
        raise FormatError(f"no dialogue: expected 'messages' (trl), 'prompt' + 'completion', or 'turns'; "
                          f"the row has {sorted(row) or 'no fields'}")
    return ({"system": system} if system else {}) | {"turns": turns}


def _completion(x, what: str, system: str | None, prompt: list[dict], empty_ok: bool = False) -> str:
    """One answer: text, or messages ending with one assistant message (a repeat of the prompt before it,
    as in UltraFeedback-binarized, is allowed when it is the same prompt)."""
    if isinstance(x, str):
        return _text(x, what, empty_ok)
    if not isinstance(x, (list, tuple)):
        raise FormatError(f"{what} must be text or a list of messages, got {_kind(x)}")
    msgs = _messages(x, what, empty_ok)
    if len(msgs) > 1:
        repeated = _plain(msgs[:-1])
        if repeated != _plain(prompt) and repeated != _plain(_with_system(system, prompt)):
            raise FormatError(f"{what} holds {len(msgs)} messages that are not the prompt followed by one "
                              f"assistant answer")
    if msgs[-1]["role"] != "assistant":
        raise FormatError(f"{what} must end with the assistant's answer, got a {msgs[-1]['role']} message")
    return msgs[-1]["content"]


def _plain(msgs: list[dict]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"].strip()) for m in msgs]


# --------------------------------------------------------------------------------------------- preferences
def _rating(x) -> int:
    if x is None:
        return 0
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise FormatError(f"rating must be 0, 1, 2 or 3 (a JSON number), got {_kind(x)}")
    if x not in RATINGS:
        raise FormatError(f"rating must be 0, 1, 2 or 3 (got {x!r})")
    return int(x)


def _safety(x) -> dict:
    if x is None:
        return dict(SAFETY_DEFAULTS)
    if not isinstance(x, dict):
        raise FormatError(f"'safety' must be an object of booleans {sorted(SAFETY_DEFAULTS)}, got {_kind(x)}")
    unknown = sorted(set(x) - set(SAFETY_DEFAULTS))
    if unknown:
        raise FormatError(f"'safety' has unknown labels {unknown}: expected {sorted(SAFETY_DEFAULTS)}")
    out = {}
    for k, default in SAFETY_DEFAULTS.items():
        v = x.get(k)
        if v is not None and not isinstance(v, bool):
            raise FormatError(f"'safety.{k}' must be true or false (a JSON boolean), got {_kind(v)}")
        out[k] = default if v is None else v
    return out


def parse_preference(row) -> dict:
    """One comparison in any accepted format -> {"system"?, "prompt", "chosen", "rejected", "rating", "safety"}."""
    if not isinstance(row, dict):
        raise FormatError(f"a comparison must be an object, got {_kind(row)}")
    missing = [k for k in ("chosen", "rejected") if row.get(k) is None]
    if missing:
        raise FormatError(f"no {' or '.join(repr(k) for k in missing)}: a comparison needs 'chosen' and 'rejected' "
                          f"(and a 'prompt' unless they are whole conversations)")
    chosen, rejected = row["chosen"], row["rejected"]
    if row.get("prompt") is not None:
        system, turns = _prompt(row["prompt"])
        chosen = _completion(chosen, "'chosen'", system, turns)
        rejected = _completion(rejected, "'rejected'", system, turns, empty_ok=True)
    elif isinstance(chosen, str) and isinstance(rejected, str):       # Anthropic HH transcripts
        system, (turns, chosen), (turns_r, rejected) = None, _answered(chosen, "'chosen'"), _answered(rejected, "'rejected'", empty_ok=True)
        if turns != turns_r:
            raise FormatError("chosen and rejected transcripts must share the same prompt turns")
    elif isinstance(chosen, (list, tuple)) and isinstance(rejected, (list, tuple)):   # trl implicit prompt
        (system, turns, chosen), (system_r, turns_r, rejected) = (_conversation(chosen, "'chosen'"),
                                                                  _conversation(rejected, "'rejected'", empty_ok=True))
        if (system, turns) != (system_r, turns_r):
            raise FormatError("'chosen' and 'rejected' conversations must share every message before the last "
                              "(the prompt); or give the 'prompt' separately")
    else:
        raise FormatError(f"'chosen' and 'rejected' must both be text or both be message lists, got "
                          f"{_kind(chosen)} and {_kind(rejected)}")
    top = row.get("system")             # this project's first format kept the system prompt beside the prompt
    if top is not None:
        _text(top, "'system'")
        if system and system != top:
            raise FormatError("'system' differs from the system message of the prompt")
        system = top
    out = {"prompt": turns, "chosen": chosen, "rejected": rejected, "rating": _rating(row.get("rating")),
           "safety": _safety(row.get("safety"))}
    return ({"system": system} if system else {}) | out


def _answered(text, what: str, empty_ok: bool = False) -> tuple[list[dict], str]:
    """An HH transcript -> (prompt turns, last assistant answer)."""
    turns = _split_hh(text, what, allow_empty_last=empty_ok)
    if turns[-1]["role"] != "assistant":
        raise FormatError(f"{what} transcript must end with '\\n\\nAssistant: <answer>'")
    return _dialogue(turns[:-1], what, "user")[1], turns[-1]["content"]


def _conversation(x, what: str, empty_ok: bool = False) -> tuple[str | None, list[dict], str]:
    system, turns = _dialogue(_messages(x, what, empty_ok), what, "assistant")
    if len(turns) < 2:
        raise FormatError(f"{what} has an answer but no prompt")
    return system, turns[:-1], turns[-1]["content"]


# --------------------------------------------------------------------------------------------- writing
def _with_system(system: str | None, turns: list[dict]) -> list[dict]:
    return ([{"role": "system", "content": system}] if system else []) + [
        {"role": t["role"], "content": t["content"]} for t in turns]


def sft_row(d: dict) -> dict:
    """A dialogue as trl's conversational SFT row {"messages": [...]}."""
    return {"messages": _with_system(d.get("system"), d["turns"])}


def preference_row(p: dict) -> dict:
    """A comparison as trl's conversational preference row (explicit prompt) plus our rating and safety labels."""
    return {"prompt": _with_system(p.get("system"), p["prompt"]),
            "chosen": [{"role": "assistant", "content": p["chosen"]}],
            "rejected": [{"role": "assistant", "content": p["rejected"]}],
            "rating": p["rating"], "safety": dict(p["safety"])}


def sample_row(r: dict) -> dict:
    """A rejection-sampling record (rejection.best_of_k) as an SFT row plus its key, rewards and safety tag."""
    return {"messages": _with_system(r.get("system"), list(r["turns"]) + [{"role": "assistant", "content": r["answer"]}]),
            "key": r["key"], "unsafe": r["unsafe"], "reward": r["reward"], "mean_reward": r["mean_reward"]}


def sample_from_row(row: dict) -> dict:
    """sample_row's inverse (the answer may be empty: a model can say nothing)."""
    if "messages" not in row:           # written before samples were trl rows: already a record
        return row
    msgs = row["messages"]
    system = msgs[0]["content"] if msgs[0]["role"] == "system" else None
    turns = [dict(m) for m in msgs[1 if system else 0:-1]]
    return {"key": row["key"], "system": system, "turns": turns, "unsafe": row["unsafe"],
            "answer": msgs[-1]["content"], "reward": row["reward"], "mean_reward": row["mean_reward"]}
