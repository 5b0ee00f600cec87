"""Ghost Attention (SPEC §6, Llama 2 §3.3): keep a first-turn system instruction alive over many turns.

To sample a multi-turn dialogue the instruction is concatenated to every user turn, so the model follows
it each time; the training example keeps the instruction only in the first turn and zeroes the loss on
every earlier turn, so the model learns to answer the last turn as the (now invisible) instruction asks.

    turns = sampling_turns(task.turns, task.system)      # instruction in every user turn
    ex = training_dialogue(task.system, user_msgs, sampled_answers)   # {"system", "turns", "train_turns": "last"}

Sampling the dialogues with a policy and the reward models is `rejection.build_gatt_data` (this module
imports no policy code, so policy.py can use `sampling_turns`).
"""
from __future__ import annotations

from llama_model.chat_format import B_SYS, E_SYS


def with_instruction(user: str, instruction: str) -> str:
    """A user turn with the instruction concatenated in front, in the same form as the first turn's."""
    return f"{B_SYS}{instruction.strip()}{E_SYS}{user.strip()}"


def sampling_turns(turns: list[dict], instruction: str | None) -> list[dict]:
    """Every user turn after the first gets the instruction (the first carries it as the system prompt)."""
    if not instruction:
        return [dict(t) for t in turns]
    return [dict(t, content=with_instruction(t["content"], instruction)) if t["role"] == "user" and i > 0
            else dict(t) for i, t in enumerate(turns)]


def training_dialogue(instruction: str, users: list[str], answers: list[str]) -> dict:
    """The GAtt training example: instruction in the first turn only, loss only on the last answer."""
    if len(users) != len(answers) or not users:
        raise ValueError(f"{len(users)} user turns but {len(answers)} answers")
    turns = []
    for u, a in zip(users, answers):
        turns += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    return {"system": instruction, "turns": turns, "train_turns": "last"}
