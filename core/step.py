"""One training step's forward and backward pass: by hand in few kernels ("fused"), or by autograd.

Both compute the same loss and gradients (the reference objective, core/loss.py) from the same
batch and noise, and leave the gradients in each parameter's `.grad` for the optimizer.

Why by hand: on a CPU, autograd's step of this small model spends about a third of its time
outside the matrix products, in ~30 elementwise kernels with their dispatch and graph
bookkeeping (BCE-with-logits' log-sigmoid alone takes longer than the largest product). The
fused step does the same products (μ and log σ² as one, from their stacked weights) and ~15
elementwise kernels, with the textbook gradients; tests/unit/test_step.py holds it to autograd's.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .loss import LossTerms, log_sum, vae_loss
from .model import VAE

Step = Callable[[VAE, Tensor, Tensor, float], LossTerms]


@torch.no_grad()
def fused_step(model: VAE, x: Tensor, eps: Tensor, beta: float) -> LossTerms:
    """Loss terms of the batch `x` (n, pixels) with noise `eps` (n, latent), gradients set.

    With logits ℓ, z = μ + ε·σ, σ = exp(½ log σ²), the loss is
    (1/n) Σ [softplus(ℓ) − x·ℓ] + β·(−1/2n) Σ [1 + log σ² − μ² − σ²], so
    ∂/∂ℓ = (sigmoid(ℓ) − x)/n, ∂/∂μ = ∂/∂z + βμ/n, ∂/∂log σ² = ∂/∂z·ε·σ/2 + β(σ² − 1)/2n,
    and each layer's products and ReLU masks pass those back as usual.
    """
    n, latent = x.shape[0], model.latent_dim
    fc1, fc2, fc3 = model.fc1, model.fc2, model.fc3
    enc_w = torch.cat((model.fc_mu.weight, model.fc_logvar.weight))  # (2·latent, hidden)
    enc_b = torch.cat((model.fc_mu.bias, model.fc_logvar.bias))

    h1 = torch.addmm(fc1.bias, x, fc1.weight.t()).relu_()
    enc = torch.addmm(enc_b, h1, enc_w.t())
    mu, logvar = enc[:, :latent], enc[:, latent:]
    std = logvar.mul(0.5).exp_()
    z = torch.addcmul(mu, eps, std)
    h2 = torch.addmm(fc2.bias, z, fc2.weight.t()).relu_()
    logits = torch.addmm(fc3.bias, h2, fc3.weight.t())

    probs = torch.sigmoid(logits)
    var = std * std
    bce = (softplus_total(logits, probs) - torch.dot(x.reshape(-1), logits.reshape(-1))) / n
    kld = (mu.pow(2).sum() + var.sum() - logvar.sum() - mu.numel()) * (0.5 / n)

    d_logits = probs.sub_(x).div_(n)
    _set_grads(fc3, d_logits, h2)
    d_h2 = relu_backward(torch.mm(d_logits, fc3.weight), h2)
    _set_grads(fc2, d_h2, z)
    d_z = torch.mm(d_h2, fc2.weight)
    d_enc = torch.empty_like(enc)
    torch.mul(mu, beta / n, out=d_enc[:, :latent]).add_(d_z)  # mul, not alpha=: β may be huge
    d_enc[:, latent:] = d_z.mul_(eps).mul_(std).add_(var.sub_(1).mul_(beta / n)).mul_(0.5)
    enc_grad = torch.mm(d_enc.t(), h1)
    enc_bias_grad = d_enc.sum(0)
    model.fc_mu.weight.grad, model.fc_logvar.weight.grad = enc_grad[:latent], enc_grad[latent:]
    model.fc_mu.bias.grad, model.fc_logvar.bias.grad = enc_bias_grad[:latent], enc_bias_grad[latent:]
    d_h1 = relu_backward(torch.mm(d_enc, enc_w), h1)
    _set_grads(fc1, d_h1, x)
    return LossTerms(bce + beta * kld, bce, kld)


def softplus_total(logits: Tensor, probs: Tensor) -> Tensor:
    """Σ softplus(ℓ) over all logits, from their sigmoids, already needed for the gradient:
    softplus(ℓ) = max(ℓ, 0) − log max(σ(ℓ), 1 − σ(ℓ)), the logs taken 112 at a time
    (`loss.log_sum`). Where σ(ℓ) rounds to 1 (|ℓ| > 17) the term it drops is below 1e-7 nats."""
    return logits.clamp(min=0).sum() - log_sum(torch.maximum(probs, 1 - probs)).sum()


def relu_backward(grad: Tensor, out: Tensor) -> Tensor:
    """`grad` where the ReLU's output `out` is positive, 0 elsewhere: one kernel (autograd's own)."""
    return torch.ops.aten.threshold_backward(grad, out, 0)


def _set_grads(layer: torch.nn.Linear, d_out: Tensor, inputs: Tensor) -> None:
    """A linear layer's gradients from the gradient of its output and its input."""
    layer.weight.grad = torch.mm(d_out.t(), inputs)
    layer.bias.grad = d_out.sum(0)


def autograd_step(model: VAE, x: Tensor, eps: Tensor, beta: float) -> LossTerms:
    """The same step through autograd, as the reference trains (and the fused step's yardstick)."""
    for p in model.parameters():
        p.grad = None
    mu, logvar = model.encode(x)
    z = mu + eps * torch.exp(0.5 * logvar)
    terms = vae_loss(model.decode_logits(z), x, mu, logvar, beta)
    terms.total.backward()
    return LossTerms(*(t.detach() for t in terms))


STEPS: dict[str, Step] = {"fused": fused_step, "autograd": autograd_step}
"""The step each value of `TrainConfig.step` names."""
