"""Chat format and SFT: answer-only loss masking, the exact Llama 2 template, training reduces the loss."""
import pytest
import torch
import torch.nn.functional as F
from align_helpers import tiny_model, tokenizer

from llama_model import chat_format as cf
from llama_model.sft import cosine_lr, masked_lm_loss, pad_batch, sft_examples, train_sft

pytestmark = pytest.mark.usefixtures("one_thread")

DIALOGUE = [{"role": "user", "content": "What is 2 + 3?"}, {"role": "assistant", "content": "The answer is 5."},
            {"role": "user", "content": "Reverse the word cat."}, {"role": "assistant", "content": "tac"}]


def test_template_matches_llama2():
    text = cf.format_dialogue(DIALOGUE[:2], system="Be brief.")
    assert text == "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nWhat is 2 + 3? [/INST] The answer is 5. </s>"
    assert cf.format_dialogue(DIALOGUE).count("<s>[INST]") == 2


def test_mask_covers_answers_only():
    tok = tokenizer()
    ids, mask = cf.encode_dialogue(tok, DIALOGUE, system="Be brief.")
    assert len(ids) == len(mask) and ids[0] == tok.bos_id and ids.count(tok.bos_id) == 2
    answers = [i for i, m in zip(ids, mask) if m]
    assert tok.decode(answers) == "The answer is 5.tac" or tok.decode(answers).replace(" ", "") == "Theansweris5.tac"
    assert sum(1 for i, m in zip(ids, mask) if m and i == tok.eos_id) == 2       # each answer closes with </s>
    _, last = cf.encode_dialogue(tok, DIALOGUE, train_turns="last")
    first_answer_end = ids.index(tok.eos_id)
    assert sum(last[: first_answer_end + 1]) == 0 and sum(last) > 0
    prompt = cf.encode_prompt(tok, DIALOGUE[:3], "Be brief.")
    assert ids[: len(prompt)] == prompt                                          # inference sees training's prefix


def test_prompt_tokens_contribute_zero_loss_and_gradient():
    torch.manual_seed(0)
    ids = torch.randint(3, 50, (2, 7))
    mask = torch.tensor([[0, 0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1, 0]], dtype=torch.float)
    logits = torch.randn(2, 7, 50, requires_grad=True)
    loss = masked_lm_loss(logits, ids, mask)
    # hand computation: CE of target t+1 from position t, averaged over targets with mask 1
    ce = F.cross_entropy(logits[:, :-1].reshape(-1, 50), ids[:, 1:].reshape(-1), reduction="none").view(2, 6)
    hand = (ce * mask[:, 1:]).sum() / mask[:, 1:].sum()
    assert torch.allclose(loss, hand)
    loss.backward()
    g = logits.grad.abs().sum(-1)                              # [2, 7]
    predicts_answer = mask[:, 1:] > 0
    assert torch.all(g[:, :-1][~predicts_answer] == 0) and torch.all(g[:, -1] == 0)
    assert torch.all(g[:, :-1][predicts_answer] > 0)
    # changing a prompt target changes nothing
    ids2 = ids.clone()
    ids2[0, 1] = (ids2[0, 1] + 1) % 50
    assert torch.allclose(masked_lm_loss(logits, ids2, mask), loss)


def test_fused_model_loss_on_answer_targets_is_the_masked_loss():
    from llama_model.configs import ModelArgs
    from llama_model.model import Transformer
    from llama_model.sft import answer_targets

    torch.manual_seed(0)
    model = Transformer(ModelArgs(dim=32, n_layers=1, n_heads=4, n_kv_heads=2, vocab_size=50, multiple_of=16,
                                  max_seq_len=32))
    ids = torch.randint(3, 50, (2, 7))
    mask = torch.tensor([[0, 0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1, 0]], dtype=torch.float)
    fused = model(ids[:, :-1], targets=answer_targets(ids, mask))
    assert torch.allclose(fused, masked_lm_loss(model(ids), ids, mask), atol=1e-6)


def test_pad_batch_right_pads():
    ids, mask = pad_batch([([1, 5, 6], [0, 1, 1]), ([1, 7], [0, 1])])
    assert ids.tolist() == [[1, 5, 6], [1, 7, 0]] and mask.tolist() == [[0, 1, 1], [0, 1, 0]]


def test_cosine_schedule():
    assert cosine_lr(0, 100, 1.0, warmup=10) == 0.1
    assert abs(cosine_lr(10, 100, 1.0, warmup=10) - 1.0) < 1e-9
    assert abs(cosine_lr(100, 100, 1.0, warmup=10) - 0.1) < 1e-9


def test_sft_lowers_answer_loss():
    tok = tokenizer()
    model, _ = tiny_model(tok.n_words)
    dialogues = [{"turns": DIALOGUE[:2]}, {"system": "Answer in one word.", "turns": DIALOGUE[2:]}] * 8
    examples = sft_examples(tok, dialogues, max_len=64)
    losses = train_sft(model, examples, lr=2e-2, batch=8, epochs=6)
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3


def test_activation_checkpointing_of_the_stages_trains_the_same_model():
    """AlignArgs.activation_checkpointing ("selective" in the paper profiles) recomputes block activations in
    the stages' gradient steps: the same losses and weights as keeping them."""
    from llama_model import align_data as ad
    from llama_model.configs import get_profile
    from llama_model.rlhf.stages import trainable

    assert get_profile("llama2-70b").align.activation_checkpointing == "selective"
    assert get_profile("tiny").align.activation_checkpointing is None
    tok = tokenizer()
    examples = sft_examples(tok, ad.sft_dialogues(16, seed=1), max_len=96)
    runs = []
    for mode in (None, "selective"):
        model, _ = tiny_model(tok.n_words, seed=0)
        trainable(model, get_profile("tiny").align.__class__(activation_checkpointing=mode))
        assert all(layer.checkpoint == mode for layer in model.layers)
        runs.append((train_sft(model, examples, lr=1e-2, batch=8, epochs=1, seed=0), model.state_dict()))
    (plain, w0), (recomputed, w1) = runs
    assert len(plain) == 2 and recomputed == pytest.approx(plain, rel=1e-5)
    assert all(torch.allclose(w0[k], w1[k], atol=1e-6) for k in w0)
