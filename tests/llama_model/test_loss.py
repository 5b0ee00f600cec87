"""The fused output-projection + cross-entropy equals the plain path, values and gradients."""
import pytest
import torch
import torch.nn.functional as F

from llama_model.configs import ModelArgs
from llama_model.loss import linear_cross_entropy
from llama_model.model import Transformer


def _plain_and_fused(h, w, t, **kw):
    h1, w1 = h.clone().requires_grad_(), w.clone().requires_grad_()
    plain = F.cross_entropy(h1 @ w1.t(), t, reduction=kw.get("reduction", "mean"))
    plain.backward()
    h2, w2 = h.clone().requires_grad_(), w.clone().requires_grad_()
    fused = linear_cross_entropy(h2, w2, t, **kw)
    fused.backward()
    return (plain, h1.grad, w1.grad), (fused, h2.grad, w2.grad)


@pytest.mark.parametrize("chunk_rows", [7, 64, 1000])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_matches_cross_entropy_with_ignored_targets(chunk_rows, reduction):
    g = torch.Generator().manual_seed(0)
    h, w = torch.randn(150, 24, generator=g), torch.randn(97, 24, generator=g)
    t = torch.randint(0, 97, (150,), generator=g)
    t[[3, 40, 149]] = -100
    (lp, hp, wp), (lf, hf, wf) = _plain_and_fused(h, w, t, chunk_rows=chunk_rows, reduction=reduction)
    assert lf.item() == pytest.approx(lp.item(), rel=1e-6)
    assert torch.allclose(hf, hp, rtol=1e-5, atol=1e-5) and torch.allclose(wf, wp, rtol=1e-5, atol=1e-5)
    assert hf[[3, 40, 149]].abs().max() == 0            # ignored rows get no gradient


def test_extreme_logits_stay_exact():
    """A target whose probability underflows float32 (logit gap > 87) still gets its exact loss."""
    g = torch.Generator().manual_seed(1)
    h, w = torch.randn(20, 8, generator=g) * 60, torch.randn(30, 8, generator=g)
    t = torch.randint(0, 30, (20,), generator=g)
    (lp, hp, wp), (lf, hf, wf) = _plain_and_fused(h, w, t, chunk_rows=8)
    assert lp.item() > 100 and lf.item() == pytest.approx(lp.item(), rel=1e-5)
    assert torch.allclose(hf, hp, atol=1e-4) and torch.allclose(wf, wp, atol=1e-4)


def test_all_targets_ignored_gives_zero_and_no_grad_mode_works():
    h, w = torch.randn(5, 4, requires_grad=True), torch.randn(6, 4, requires_grad=True)
    loss = linear_cross_entropy(h, w, torch.full((5,), -100))
    loss.backward()
    assert loss.item() == 0 and h.grad.abs().max() == 0
    with torch.no_grad():
        t = torch.randint(0, 6, (5,))
        assert linear_cross_entropy(h, w, t).item() == pytest.approx(F.cross_entropy(h @ w.t(), t).item(), rel=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        linear_cross_entropy(h, w, t, reduction="none")


def test_model_forward_with_targets_is_the_mean_cross_entropy():
    torch.manual_seed(0)
    model = Transformer(ModelArgs(dim=32, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=50, multiple_of=16,
                                  max_seq_len=64))
    x = torch.randint(0, 50, (3, 10))
    y = torch.randint(0, 50, (3, 10))
    logits = model(x)
    plain = F.cross_entropy(logits.reshape(-1, 50), y.reshape(-1))
    plain.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    fused = model(x, targets=y)
    fused.backward()
    assert fused.item() == pytest.approx(plain.item(), rel=1e-6)
    for g_plain, p in zip(grads, model.parameters()):
        assert torch.allclose(p.grad, g_plain, atol=1e-6)


def test_autocast_path_matches_plain_cross_entropy_under_the_same_autocast():
    """Under autocast (bf16 on GPU in train.py) the chunks take the non-buffered path; checked here on CPU."""
    g = torch.Generator().manual_seed(2)
    h, w = torch.randn(64, 32, generator=g), torch.randn(40, 32, generator=g) * 0.2
    t = torch.randint(0, 40, (64,), generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        (lp, hp, wp), (lf, hf, wf) = _plain_and_fused(h, w, t, chunk_rows=16)
    assert lf.dtype == torch.float32 and hf.dtype == h.dtype and wf.dtype == w.dtype
    assert lf.item() == pytest.approx(lp.item(), rel=1e-2)
    assert torch.allclose(hf, hp.float(), atol=2e-3) and torch.allclose(wf, wp.float(), atol=2e-3)
