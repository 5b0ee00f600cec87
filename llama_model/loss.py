"""Next-token cross-entropy fused with the output projection, computed in row chunks.

    loss = linear_cross_entropy(hidden, model.output.weight, targets)   # == F.cross_entropy(hidden @ W.T, targets)

The plain path materializes float32 logits [N, vocab], keeps them for backward, then runs log-softmax
backward over all of them again. Here each chunk of rows is projected and put through one fused softmax
that gives both its loss and its gradient (softmax - one_hot) while the chunk is still in cache; the
chunk's share of the hidden-state and weight gradients is taken right away and the chunk is dropped.
Same math, fewer passes over the logits, and the largest activation of a LLaMA step (N x 32000 floats)
is never stored. Targets equal to `ignore_index` add nothing to the loss nor to the gradients.
"""
from __future__ import annotations

import torch


def _row_losses(logits: torch.Tensor, p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """-log softmax(logits)[t] per row, given p = softmax(logits)."""
    if p.device.type == "cpu":
        # -log p[t] directly; rows where p[t] underflowed (a logit gap > ~87) are redone exactly.
        loss = p.gather(1, t[:, None]).squeeze(1).log().neg_()
        bad = torch.isinf(loss).nonzero().squeeze(1)
        if len(bad):
            rows = logits[bad]
            loss[bad] = torch.logsumexp(rows, dim=1) - rows.gather(1, t[bad, None]).squeeze(1)
        return loss
    # On GPU without a host sync: logsumexp read off each row's most likely token, whose probability
    # (>= 1/V) never underflows: lse = logit[m] - log p[m].
    m = p.argmax(dim=1, keepdim=True)
    lse = logits.gather(1, m).squeeze(1) - p.gather(1, m).squeeze(1).log()
    return lse - logits.gather(1, t[:, None]).squeeze(1)


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, targets, row_weights, chunk_rows):
        # hidden [N, d], weight [V, d], targets [N] (long, >= 0), row_weights [N] float32 (0 = ignored row).
        n = hidden.shape[0]
        want_h, want_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ctx.weight_dtype = weight.dtype
        # Plain float32 (CPU, or GPU without autocast): write into reused buffers, because every fresh
        # large tensor costs page faults on CPU. Under autocast the matmuls run in bf16 and cast back.
        plain = hidden.dtype == weight.dtype == torch.float32 and not torch.is_autocast_enabled(hidden.device.type)
        grad_h = torch.empty_like(hidden) if want_h else None
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if want_w else None
        loss = torch.zeros((), dtype=torch.float32, device=hidden.device)
        logits_buf = probs_buf = None
        for s in range(0, n, chunk_rows):
            h, t, r = hidden[s:s + chunk_rows], targets[s:s + chunk_rows], row_weights[s:s + chunk_rows]
            if plain:
                if logits_buf is None:
                    logits_buf, probs_buf = (torch.empty((len(h), weight.shape[0]), device=h.device) for _ in "lp")
                logits = torch.mm(h, weight.t(), out=logits_buf[:len(h)])
                p = torch.softmax(logits, dim=1, out=probs_buf[:len(h)])
            else:
                logits = (h @ weight.t()).float()
                p = torch.softmax(logits, dim=1)
            loss += (_row_losses(logits, p, t) * r).sum()
            if not (want_h or want_w):
                continue
            # d loss_i / d logits_i = r_i * (softmax_i - one_hot(t_i)); the row weights r are applied to
            # the small [rows, d] factors instead of the [rows, V] chunk.
            p[torch.arange(len(t), device=p.device), t] -= 1.0
            if plain:
                if want_h:
                    torch.mm(p, weight, out=grad_h[s:s + chunk_rows]).mul_(r[:, None])
                if want_w:
                    grad_w.addmm_(p.t(), h * r[:, None])
            else:
                g = p.to(h.dtype)
                if want_h:
                    grad_h[s:s + chunk_rows] = (g @ weight) * r[:, None].to(h.dtype)
                if want_w:
                    grad_w += (g.t() @ (h * r[:, None].to(h.dtype))).float()
        ctx.save_for_backward(grad_h, grad_w)
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        grad_h, grad_w = ctx.saved_tensors
        gh = grad_h * grad_loss.to(grad_h.dtype) if grad_h is not None else None
        gw = (grad_w * grad_loss).to(ctx.weight_dtype) if grad_w is not None else None
        return gh, gw, None, None, None


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                         ignore_index: int = -100, reduction: str = "mean", chunk_rows: int = 512) -> torch.Tensor:
    """Cross-entropy of logits = hidden @ weight.T against targets, without materializing the logits.

    hidden [..., d], weight [V, d], targets [...] (long). reduction "mean" (over targets that are not
    ignore_index, like F.cross_entropy) or "sum". Gradients flow to hidden and weight.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', not {reduction!r}")
    h = hidden.reshape(-1, hidden.shape[-1])
    t = targets.reshape(-1)
    keep = t != ignore_index
    r = keep.float()
    if reduction == "mean":
        r = r / r.sum().clamp(min=1.0)
    return _LinearCrossEntropy.apply(h, weight, t.masked_fill(~keep, 0), r, chunk_rows)
