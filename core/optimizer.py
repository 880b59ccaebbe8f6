"""The optimizer: AdamW, torch's fused kernel called directly where there is one.

`torch.optim.AdamW` costs twice on a small model: its first use imports torch._dynamo (~900
modules, 1.1–1.7 s between torch's import and the first batch), and each `step` spends about as
long in Python (grouping tensors by device and dtype, hooks, checks) as its fused kernel spends
updating this model's 420k weights, ~0.3 ms of a ~2.5 ms step on a CPU. `FusedAdamW` calls the
same kernel with the same arguments on the same state, and reads and writes torch's
`state_dict` format, so checkpoints load either way. tests/unit/test_optimizer.py holds it to
torch's AdamW, bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

FUSED_DEVICES = ("cpu", "cuda")
"""Where torch (2.4 on) has the fused AdamW kernel, so `FusedAdamW` can run."""


def make_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.AdamW | FusedAdamW:
    """AdamW with the fused kernel where torch has one for the device (fewer launches per step):
    `FusedAdamW` on a CPU or CUDA, so the path to the first batch never imports torch._dynamo."""
    params = list(model.parameters())
    if hasattr(torch, "_fused_adamw_") and all(p.device.type in FUSED_DEVICES for p in params):
        return FusedAdamW(params, lr)
    try:
        return torch.optim.AdamW(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.AdamW(model.parameters(), lr=lr)


class FusedAdamW:
    """`torch.optim.AdamW(fused=True)` without `torch.optim.Optimizer`, whose first use (its
    constructor, `step`, `state_dict`) imports torch._dynamo: ~900 modules, 1.1–1.7 s of CPU that
    landed between torch's import and the first batch (benchmarks/startup_probe.py).

    The same kernel with the same arguments on the same state, made as `AdamW` makes it, and
    torch's `state_dict` format both ways: checkpoints written by either load into the other.
    tests/unit/test_optimizer.py holds it to torch's AdamW, bit for bit."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        self.param_groups: list[dict[str, Any]] = [
            {"params": list(params), "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
             "amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
             "differentiable": False, "fused": True, "decoupled_weight_decay": True}
        ]  # fmt: skip
        """One group, with torch's AdamW keys (what its `state_dict` holds)."""
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}
        """Per parameter, from its first step: `step` (a float32 scalar on its device), `exp_avg`
        and `exp_avg_sq`, as AdamW keeps them."""

    def step(self) -> None:
        """One AdamW update of every parameter that has a gradient."""
        (group,) = self.param_groups
        params = [p for p in group["params"] if p.grad is not None]
        if not params:
            return
        states = [self.state.get(p) or self._fresh_state(p) for p in params]
        steps = [s["step"] for s in states]
        torch._foreach_add_(steps, 1)
        beta1, beta2 = group["betas"]
        torch._fused_adamw_(
            params,
            [p.grad for p in params],
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [],
            steps,
            amsgrad=False,
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
            grad_scale=None,
            found_inf=None,
        )

    def _fresh_state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        state = self.state[p] = {
            "step": torch.zeros((), dtype=torch.float32, device=p.device),
            "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
        }
        return state

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.param_groups[0]["params"]:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def state_dict(self) -> dict[str, Any]:
        """torch's layout: states by parameter index, the group with `params` as indices."""
        (group,) = self.param_groups
        params = group["params"]
        return {
            "state": {i: self.state[p] for i, p in enumerate(params) if p in self.state},
            "param_groups": [
                {**{k: v for k, v in group.items() if k != "params"}, "params": list(range(len(params)))}
            ],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """A state saved by this class or by torch's AdamW (fused or not); ValueError if it does
        not fit: another number of parameters, a shape that differs, AMSGrad."""
        (group,) = self.param_groups
        params = group["params"]
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != 1 or len(saved_groups[0]["params"]) != len(params):
            raise ValueError("the saved optimizer state has other parameter groups than this model")
        saved = saved_groups[0]
        if saved.get("amsgrad"):
            raise ValueError("the saved optimizer state uses AMSGrad, which this optimizer does not")
        state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}
        for index, p in zip(saved["params"], params, strict=True):
            if index not in state_dict["state"]:
                continue
            values = state_dict["state"][index]
            for key in ("exp_avg", "exp_avg_sq"):
                if values[key].shape != p.shape:
                    raise ValueError(
                        f"optimizer {key} has shape {tuple(values[key].shape)}, its parameter {tuple(p.shape)}"
                    )
            state[p] = {
                "step": values["step"].to(dtype=torch.float32, device=p.device, copy=True),
                "exp_avg": values["exp_avg"].to(dtype=p.dtype, device=p.device, copy=True),
                "exp_avg_sq": values["exp_avg_sq"].to(dtype=p.dtype, device=p.device, copy=True),
            }
        for key in ("lr", "betas", "eps", "weight_decay", "maximize"):  # as torch's load: the saved ones
            if key in saved:
                group[key] = saved[key]
        self.state = state
