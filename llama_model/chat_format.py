"""The Llama 2 chat format and its tokenization with an answer-only loss mask (SPEC §4).

One turn is `<s>[INST] {user} [/INST] {answer} </s>`; the system prompt goes inside the first turn:
`<s>[INST] <<SYS>>\\n{system}\\n<</SYS>>\\n\\n{user} [/INST] {answer} </s>` (as in the reference
`chat_completion`). The prompt part and the answer are encoded separately, so the tokens a model sees when
asked to answer at inference are exactly the prompt tokens it was trained with, and the mask is exact:
mask[i] = 1 on answer tokens and their `</s>`, 0 on every prompt token.

    ids, mask = encode_dialogue(tok, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}])
"""
from __future__ import annotations

B_INST, E_INST = "[INST]", "[/INST]"
B_SYS, E_SYS = "<<SYS>>\n", "\n<</SYS>>\n\n"


def user_text(user: str, system: str | None = None) -> str:
    """The text of one [INST] block; `system` only for the first turn."""
    if system:
        user = f"{B_SYS}{system.strip()}{E_SYS}{user.strip()}"
    return f"{B_INST} {user.strip()} {E_INST}"


def format_dialogue(turns: list[dict], system: str | None = None) -> str:
    """The whole dialogue as text (for reading; training uses encode_dialogue)."""
    out = []
    for i in range(0, len(turns), 2):
        s = "<s>" + user_text(turns[i]["content"], system if i == 0 else None)
        if i + 1 < len(turns):
            s += f" {turns[i + 1]['content'].strip()} </s>"
        out.append(s)
    return "".join(out)


def encode_dialogue(tok, turns: list[dict], system: str | None = None,
                    train_turns: str = "all") -> tuple[list[int], list[int]]:
    """Token ids and loss mask of a dialogue ending with an assistant turn or a user turn (a prompt).

    train_turns: "all" puts loss on every answer, "last" only on the final answer (Ghost Attention
    zeroes the loss of the earlier turns), "none" on nothing.
    """
    ids: list[int] = []
    mask: list[int] = []
    n_answers = len(turns) // 2
    for i in range(0, len(turns), 2):
        if turns[i]["role"] != "user":
            raise ValueError(f"turn {i} should be the user's, got {turns[i]['role']!r}")
        p = tok.encode(user_text(turns[i]["content"], system if i == 0 else None), bos=True, eos=False)
        ids += p
        mask += [0] * len(p)
        if i + 1 < len(turns):
            a = tok.encode(turns[i + 1]["content"].strip(), bos=False, eos=False) + [tok.eos_id]
            k = i // 2
            on = train_turns == "all" or (train_turns == "last" and k == n_answers - 1)
            ids += a
            mask += [int(on)] * len(a)
    return ids, mask


def encode_prompt(tok, turns: list[dict], system: str | None = None) -> list[int]:
    """The tokens after which the model writes the answer to the last user turn."""
    if not turns or turns[-1]["role"] != "user":
        raise ValueError("a prompt must end with a user turn")
    return encode_dialogue(tok, turns, system)[0]


def encode_answer(tok, answer: str) -> list[int]:
    """Answer tokens as they follow a prompt (with the closing </s>)."""
    return tok.encode(answer.strip(), bos=False, eos=False) + [tok.eos_id]


def decode_answer(tok, ids: list[int]) -> str:
    """Text of generated answer tokens, cut at the first </s>."""
    ids = list(ids)
    if tok.eos_id in ids:
        ids = ids[: ids.index(tok.eos_id)]
    # a model may have more rows than the tokenizer has pieces (vocab padded): such ids decode to nothing
    return tok.decode([i for i in ids if 0 <= i < tok.n_words]).strip()
