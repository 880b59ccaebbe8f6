"""The geometry of a latent space, as pure functions on codes: a 2-D map of them (PCA), paths
between two codes, the Normal quantile grid of a decoded manifold, and orders of the test images.

Kept apart from `tiles.py` (which decodes) so each can be checked by hand on codes built with a
known answer, without a model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

PCA_SEED = 0
"""`torch.pca_lowrank` draws a random basis: a fixed seed (on a forked generator, so the caller's
random stream is untouched) gives the same map on every run, which snapshot tests rely on. The
fork seeds the process-wide generator for the fit's few ms: a thread drawing from it meanwhile
would get seeded numbers (none does after start-up: training draws from its own generators)."""
PCA_EXACT_DIMS = 64
"""Up to this many dimensions the random basis spans every dimension, so the fit is exact (not an
approximation), whatever the draw; above it, 64 directions (PCA cost grows with them)."""
PARALLEL_SINE = 1e-6
"""Below this sin(angle) two codes are treated as parallel and slerp falls back to lerp (its
formula divides by the sine)."""
GRID_QUANTILES = (0.05, 0.95)
"""The manifold grid spans these quantiles of N(0, 1), as in Kingma & Welling's figure 4."""
ORDERS = ("index", "error")


@dataclass(frozen=True)
class Projection:
    """A linear map from codes to a plane: xy = (μ − mean) @ axes; `lift` goes back."""

    mean: Tensor
    """(D,): subtracted before projecting (zeros for the identity)."""
    axes: Tensor
    """(D, 2): orthonormal columns, the first two principal directions."""
    explained: tuple[float, float]
    """Fraction of the codes' total variance (summed over dimensions) along each axis."""
    identity: bool
    """The codes have ≤ 2 dimensions: the map is the latent plane itself, no projection."""

    def project(self, mu: Tensor) -> Tensor:
        """(N, D) codes → (N, 2) map points."""
        return (mu - self.mean) @ self.axes

    def lift(self, xy: Tensor) -> Tensor:
        """(M, 2) map points → (M, D) codes: the code the map shows at each point (within the
        plane through the mean; exact for the identity)."""
        return self.mean + xy @ self.axes.T


def axis_signs(axes: Tensor) -> Tensor:
    """Each column flipped so its largest-magnitude component is positive: an SVD's signs are
    arbitrary, and a map that mirrors itself between refits would be hard to follow."""
    rows = axes.abs().argmax(dim=0)
    signs = torch.sign(axes[rows, torch.arange(axes.shape[1])])
    return axes * torch.where(signs == 0, torch.ones_like(signs), signs)


def explained_fractions(points: Tensor, mu: Tensor) -> tuple[float, float]:
    """Variance of each map coordinate over the codes' total variance (0 when they do not vary)."""
    if mu.shape[0] < 2:
        return 0.0, 0.0
    total = float(mu.double().var(dim=0).sum())
    if total <= 0:
        return 0.0, 0.0
    per_axis = points.double().var(dim=0) / total
    return float(per_axis[0]), float(per_axis[1])


def fit_projection(mu: Tensor) -> Projection:
    """The first two principal components of codes `mu` (N, D), deterministic in sign and draw;
    with D ≤ 2 the plane itself (axes = the identity, padded with a zero axis for D = 1)."""
    n, dims = mu.shape
    mu = mu.detach().float()
    mean = mu.mean(dim=0) if n and dims > 2 else torch.zeros(dims)
    axes = torch.eye(dims, 2)  # the plane itself; also what too few codes to fit get
    if dims > 2 and n >= 2:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(PCA_SEED)
            _, _, v = torch.pca_lowrank(mu, q=min(dims, PCA_EXACT_DIMS), center=True)
        axes = axis_signs(v[:, :2].contiguous())
    explained = explained_fractions((mu - mean) @ axes, mu)
    return Projection(mean, axes, explained, identity=dims <= 2)


def lerp(a: Tensor, b: Tensor, steps: int) -> Tensor:
    """(steps, D): evenly spaced points on the segment from a to b, both ends exact."""
    t = torch.linspace(0, 1, steps, dtype=a.dtype).unsqueeze(1)
    path = torch.lerp(a.unsqueeze(0), b.unsqueeze(0), t)
    return with_ends(path, a, b)


def slerp(a: Tensor, b: Tensor, steps: int) -> Tensor:
    """(steps, D): spherical interpolation (Shoemake 1985; White 2016 for latent codes), which
    keeps the norm of codes of equal norm, where the straight line dips towards 0 — atypical
    under a high-dimensional Gaussian prior. Nearly parallel codes fall back to `lerp`."""
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        return lerp(a, b, steps)
    cos = torch.clamp(torch.dot(a / na, b / nb), -1.0, 1.0)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    if sin.abs() < PARALLEL_SINE:
        return lerp(a, b, steps)
    t = torch.linspace(0, 1, steps, dtype=a.dtype).unsqueeze(1)
    path = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / sin
    return with_ends(path, a, b)


def with_ends(path: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """The path with its first and last points set to exactly a and b (no rounding at the ends)."""
    if path.shape[0] >= 1:
        path[0] = a
    if path.shape[0] >= 2:
        path[-1] = b
    return path


def normal_grid(n: int) -> Tensor:
    """(n,): the N(0, 1) quantiles at n evenly spaced probabilities from 0.05 to 0.95, made exactly
    symmetric about 0 (so an odd grid has 0 in the middle) — the manifold's grid coordinates."""
    p = torch.linspace(*GRID_QUANTILES, n)
    q = torch.distributions.Normal(0.0, 1.0).icdf(p)
    return (q - q.flip(0)) / 2


def image_order(errors: np.ndarray, labels: np.ndarray | None, order: str, label: int | None) -> np.ndarray:
    """Test-image indices in `order`: "index" (as stored; `errors` then only gives the count) or
    "error" (largest first, ties by index); only the images of class `label` when given."""
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r} (choose from {', '.join(ORDERS)})")
    errors = np.asarray(errors)
    indices = np.argsort(-errors, kind="stable") if order == "error" else np.arange(errors.shape[0])
    if label is not None:
        if labels is None:
            raise ValueError("these test images have no labels to select a class by")
        indices = indices[np.asarray(labels)[indices] == label]
    return indices.astype(np.int64)
