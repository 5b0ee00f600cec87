"""Ghost Attention (SPEC §6, Llama 2 §3.3): keep a first-turn system instruction alive over many turns.

To sample a multi-turn dialogue the instruction is concatenated to every user turn, so the model follows
it each time; the training example keeps the instruction only in the first turn and zeroes the loss on
every earlier turn, so the model learns to answer the last turn as the (now invisible) instruction asks.

    turns = sampling_turns(task.turns, task.system)      # instruction in every user turn
    ex = training_dialogue(task.system, user_msgs, sampled_answers)   # {"system", "turns", "train_turns": "last"}
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


def build_gatt_data(policy, tok, tasks, hrm, srm, samples: int, temperature: float, generator=None) -> list[dict]:
    """Sample each instruction dialogue turn by turn (instruction in every user turn, best of `samples`
    by the RM at each turn), then emit one training dialogue per dialogue prefix of 2+ turns."""
    from llama_model.chat_format import decode_answer, encode_prompt
    from llama_model.rlhf.policy import reward_scores, sample_answers

    users = [[t["content"] for t in task.turns if t["role"] == "user"] for task in tasks]
    answers: list[list[str]] = [[] for _ in tasks]
    n_turns = max(len(u) for u in users)
    for j in range(n_turns):
        live = [i for i, u in enumerate(users) if len(u) > j]
        prompts = []
        for i in live:
            turns = []
            for k in range(j + 1):
                turns.append({"role": "user", "content": users[i][k]})
                if k < j:
                    turns.append({"role": "assistant", "content": answers[i][k]})
            prompts.append(encode_prompt(tok, sampling_turns(turns, tasks[i].system), tasks[i].system))
        rep = [p for p in prompts for _ in range(samples)]
        outs = sample_answers(policy, tok, rep, temperature=temperature, generator=generator)
        rc, _ = reward_scores(hrm, srm, [p + a for p, a in zip(rep, outs)], [False] * len(rep))
        for n, i in enumerate(live):
            block = rc[n * samples:(n + 1) * samples]
            best = int(block.argmax())
            answers[i].append(decode_answer(tok, outs[n * samples + best]) or "?")
    data = []
    for task, u, a in zip(tasks, users, answers):
        for j in range(2, len(u) + 1):
            data.append(training_dialogue(task.system, u[:j], a[:j]))
    return data
