"""The latent-space geometry against answers known by construction: codes laid on known axes with
known variances, the plane itself for 2-D codes, paths whose points are known, quantiles of N(0, 1).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vae_tui.core.latent_space import fit_projection, image_order, lerp, normal_grid, slerp

# Codes on a full 3-D grid of coordinates: a product grid has exactly zero covariance between its
# coordinates, so the principal axes are exactly the grid's, ordered by their spreads.
SPREADS = (3.0, 1.0, 0.2)
"""Half-widths of the grid along the first, second and third known axes."""


def known_codes(dims: int = 6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(codes (N, dims), the known orthonormal axes (dims, 3), their mean (dims,), the grid (N, 3))."""
    line = torch.linspace(-1, 1, 7, dtype=torch.float64)
    grid = torch.cartesian_prod(
        line * SPREADS[0], line * SPREADS[1], torch.linspace(-1, 1, 3).double() * SPREADS[2]
    )
    generator = torch.Generator().manual_seed(7)
    axes, _ = torch.linalg.qr(torch.randn(dims, 3, generator=generator, dtype=torch.float64))
    mean = torch.randn(dims, generator=generator, dtype=torch.float64)
    return (mean + grid @ axes.T).float(), axes.float(), mean.float(), grid.float()


def by_largest_component(axis: torch.Tensor) -> torch.Tensor:
    """The axis with the sign the map uses: its largest-magnitude component positive."""
    return axis * torch.sign(axis[axis.abs().argmax()])


def test_the_map_finds_the_known_axes_and_their_share_of_the_variance() -> None:
    mu, axes, mean, grid = known_codes()
    projection = fit_projection(mu)
    assert not projection.identity
    for k in range(2):
        torch.testing.assert_close(projection.axes[:, k], by_largest_component(axes[:, k]), atol=1e-5, rtol=0)
    torch.testing.assert_close(projection.mean, mean, atol=1e-5, rtol=0)
    # By hand: linspace(-1, 1, 7) has variance 4/9 (over N), linspace(-1, 1, 3) 2/3; the shares
    # are ratios of variances, the same over N or N − 1.
    variances = (SPREADS[0] ** 2 * 4 / 9, SPREADS[1] ** 2 * 4 / 9, SPREADS[2] ** 2 * 2 / 3)
    expected = tuple(v / sum(variances) for v in variances[:2])
    assert projection.explained == pytest.approx(expected, abs=1e-6)
    # The map shows each code at its grid coordinates (up to the axis's sign), and a map point
    # lifts back to the code in the plane: the code without its third coordinate.
    xy = projection.project(mu)
    signs = torch.sign(projection.axes.T @ axes[:, :2]).diagonal()
    torch.testing.assert_close(xy, grid[:, :2] * signs, atol=1e-4, rtol=0)
    torch.testing.assert_close(projection.lift(xy), mean + grid[:, :2] @ axes[:, :2].T, atol=1e-4, rtol=0)


def test_the_map_is_the_same_every_fit_and_leaves_the_random_stream_alone() -> None:
    mu = known_codes()[0]
    state = torch.random.get_rng_state()
    first, second = fit_projection(mu), fit_projection(mu)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(first.axes, second.axes) and first.explained == second.explained
    # Mirrored codes give the same axes: the sign follows the axis, not the SVD's whim.
    torch.testing.assert_close(fit_projection(-mu).axes, first.axes, atol=1e-5, rtol=0)


def test_two_dimensional_codes_are_mapped_as_they_are() -> None:
    mu = torch.tensor([[0.0, 1.0], [2.0, -1.0], [4.0, 3.0], [-2.0, 1.0]])
    projection = fit_projection(mu)
    assert projection.identity
    assert torch.equal(projection.axes, torch.eye(2)) and torch.equal(projection.mean, torch.zeros(2))
    assert torch.equal(projection.project(mu), mu) and torch.equal(projection.lift(mu), mu)
    # Sample variances by hand: x = 0, 2, 4, −2 → 20/3; y = 1, −1, 3, 1 → 8/3.
    assert projection.explained == pytest.approx((20 / 28, 8 / 28))


def test_one_dimensional_codes_lie_on_the_first_map_axis() -> None:
    mu = torch.tensor([[1.0], [-1.0], [3.0]])
    projection = fit_projection(mu)
    assert projection.identity and projection.explained == pytest.approx((1.0, 0.0))
    assert torch.equal(projection.project(mu), torch.cat([mu, torch.zeros(3, 1)], dim=1))


def test_paths_start_and_end_exactly_at_their_codes() -> None:
    generator = torch.Generator().manual_seed(3)
    a, b = torch.randn(5, generator=generator), torch.randn(5, generator=generator)
    for path in (lerp(a, b, 7), slerp(a, b, 7)):
        assert path.shape == (7, 5)
        assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    torch.testing.assert_close(lerp(a, b, 3)[1], (a + b) / 2)


def test_slerp_keeps_to_the_sphere() -> None:
    a, b = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    path = slerp(a, b, 9)
    torch.testing.assert_close(path.norm(dim=1), torch.ones(9))
    torch.testing.assert_close(path[4], (a + b) / math.sqrt(2))
    assert lerp(a, b, 9)[4].norm() == pytest.approx(1 / math.sqrt(2))  # the straight line dips


def test_slerp_of_parallel_codes_is_the_straight_line() -> None:
    a = torch.tensor([1.0, 2.0, 2.0])
    torch.testing.assert_close(slerp(a, 3 * a, 5), lerp(a, 3 * a, 5))
    torch.testing.assert_close(slerp(torch.zeros(3), a, 5), lerp(torch.zeros(3), a, 5))


@pytest.mark.parametrize("n", [2, 5, 8])
def test_the_manifold_grid_is_symmetric_normal_quantiles(n: int) -> None:
    q = normal_grid(n)
    assert q.shape == (n,) and torch.equal(q, -q.flip(0))
    assert bool((q[1:] > q[:-1]).all())
    assert float(q[-1]) == pytest.approx(1.6448536, abs=1e-5)  # Φ⁻¹(0.95)
    if n % 2:
        assert float(q[n // 2]) == 0.0


def test_images_in_order_of_error_worst_first_and_by_class() -> None:
    errors = np.array([1.0, 5.0, 3.0, 5.0, 0.0])
    labels = np.array([0, 1, 0, 1, 0])
    assert image_order(errors, labels, "error", None).tolist() == [1, 3, 2, 0, 4]
    assert image_order(errors, labels, "error", 0).tolist() == [2, 0, 4]
    assert image_order(errors, labels, "index", 1).tolist() == [1, 3]
    assert image_order(errors, None, "index", None).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="unknown order"):
        image_order(errors, labels, "loss", None)
    with pytest.raises(ValueError, match="no labels"):
        image_order(errors, None, "error", 1)
