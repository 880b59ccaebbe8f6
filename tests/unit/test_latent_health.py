"""Latent health: per-dimension KL and active units, from codes whose numbers are worked out by
hand here, from the held-out pass of a real training run, in metrics.jsonl and in SwanLab's log;
and runs logged before these numbers existed still load."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from vae_tui.core.config import TrainConfig
from vae_tui.core.consumers import drive
from vae_tui.core.data import load_split
from vae_tui.core.evaluate import evaluate, heldout_elbo, latent_usage, usage_of_codes
from vae_tui.core.events import EpochEnd, ModelSnapshot
from vae_tui.core.metrics import MetricsWriter, read_history, read_metrics
from vae_tui.core.model import VAE
from vae_tui.core.resume import load_resume
from vae_tui.core.run import standard_consumers
from vae_tui.core.runinfo import saved_run
from vae_tui.core.train import train

from ..swanlab_log import read_swanlab_log

USAGE = ("kl_per_dim", "active_units")


def test_usage_of_codes_against_a_hand_computed_case() -> None:
    """Four images, three dimensions: one used (μ = ±1), one collapsed onto a narrower constant
    code (μ = 0, σ = ½), one whose μ varies too little to count (±0.05)."""
    mu = torch.tensor([[1.0, 0.0, 0.05], [-1.0, 0.0, -0.05], [1.0, 0.0, 0.05], [-1.0, 0.0, -0.05]])
    logvar = torch.tensor([[0.0, math.log(0.25), 0.0]] * 4)
    usage = usage_of_codes(mu, logvar)
    # KL(N(μ, σ²) ‖ N(0, 1)) = ½(σ² + μ² − log σ² − 1), the same for each image here:
    # dim 1: ½(1 + 1 − 0 − 1) = ½; dim 2: ½(¼ + 0 − log ¼ − 1); dim 3: ½(1 + 0.0025 − 0 − 1).
    expected_kl = [0.5, 0.5 * (0.25 - math.log(0.25) - 1), 0.5 * 0.0025]
    assert usage["kl_per_dim"] == pytest.approx(expected_kl, abs=1e-6)
    # Var_x(μ_i), the sample variance over the 4 images (n − 1 = 3): the means are all 0, so
    # Σμ²/3: 4/3, 0 and 4·0.0025/3 = 0.00333 (below the 0.01 threshold).
    assert usage["activity_per_dim"] == pytest.approx([4 / 3, 0.0, 0.01 / 3], abs=1e-6)
    assert usage["active_units"] == 1
    chunked = usage_of_codes(mu, logvar, budget=3)  # one image at a time: the same sums
    assert chunked == {k: pytest.approx(v, abs=1e-6) for k, v in usage.items()}
    assert isinstance(usage["active_units"], int) and all(isinstance(v, float) for v in usage["kl_per_dim"])


def identity_encoder() -> VAE:
    """2 pixels → μ = x exactly (fc1 and fc_mu are the identity, ReLU passes x ≥ 0), and a fixed
    log σ² = (0, log ¼) whatever the image."""
    model = VAE(input_dim=2, hidden_dim=2, latent_dim=2).eval()
    with torch.no_grad():
        for layer in (model.fc1, model.fc_mu):
            layer.weight.copy_(torch.eye(2))
            layer.bias.zero_()
        model.fc_logvar.weight.zero_()
        model.fc_logvar.bias.copy_(torch.tensor([0.0, math.log(0.25)]))
    return model


def test_the_heldout_pass_measures_the_usage_of_the_codes_it_encodes() -> None:
    """Chunked over 5 images 2 at a time; μ = x: dimension 1 alternates 0, 1, dimension 2 is
    ½ for every image."""
    model = identity_encoder()
    x = torch.tensor([[0.0, 0.5], [1.0, 0.5], [0.0, 0.5], [1.0, 0.5], [0.0, 0.5]])
    held_out = heldout_elbo(model, x, batch_size=2)
    # KL: dim 1, σ = 1: ½μ², mean over images ½·(2/5); dim 2: ½(¼ + ¼ − log ¼ − 1) each.
    assert held_out["kl_per_dim"] == pytest.approx([0.5 * 2 / 5, 0.5 * (0.5 - math.log(0.25) - 1)], abs=1e-6)
    # Var of (0, 1, 0, 1, 0): mean 0.4, Σ(μ − 0.4)² = 3·0.16 + 2·0.36 = 1.2, over n − 1 = 4.
    assert held_out["activity_per_dim"] == pytest.approx([0.3, 0.0], abs=1e-6)
    assert held_out["active_units"] == 1
    # The parts add up to the held-out KLD, and the standalone pass and `--eval` agree.
    assert sum(held_out["kl_per_dim"]) == pytest.approx(held_out["kld"], abs=1e-5)
    assert latent_usage(model, x, batch_size=3) == {k: held_out[k] for k in latent_usage(model, x)}
    report = evaluate(model, x, k=0)
    assert (report["kl_per_dim"], report["active_units"]) == (held_out["kl_per_dim"], 1)


def test_epoch_rows_carry_the_held_out_usage_of_a_real_run(tiny_config: TrainConfig, mnist_dir: Path) -> None:
    config = tiny_config.with_(iwae_k=0)
    events = []
    drive((events.append(e) or e for e in train(config)), [MetricsWriter()])
    ends = [e for e in events if isinstance(e, EpochEnd)]
    rows = [r for r in read_metrics(config.run_dir) if r.get("kind") == "epoch"]
    assert [r["epoch"] for r in rows] == [1, 2]
    for end, row in zip(ends, rows, strict=True):
        assert row["kl_per_dim"] == list(end.kl_per_dim) and row["active_units"] == end.active_units
        assert len(row["kl_per_dim"]) == 4 and all(isinstance(v, float) and v >= 0 for v in row["kl_per_dim"])
        assert isinstance(row["active_units"], int) and 0 <= row["active_units"] <= 4
        assert sum(row["kl_per_dim"]) == pytest.approx(row["test_kld"], rel=1e-4)  # its parts
    # The last row is the held-out set's usage under the trained weights.
    model = VAE(784, 32, 4).eval()
    model.load_state_dict([e for e in events if isinstance(e, ModelSnapshot)][-1].state)
    usage = latent_usage(model, load_split(mnist_dir, "test", 128).images)
    assert rows[-1]["kl_per_dim"] == pytest.approx(usage["kl_per_dim"], abs=1e-5)
    assert rows[-1]["active_units"] == usage["active_units"]


def test_swanlab_files_active_units_and_each_dimensions_kl_in_one_chart_group(
    tiny_config: TrainConfig,
) -> None:
    config = tiny_config.with_(swanlab="offline", iwae_k=0)
    drive(train(config), standard_consumers(config))
    rows = [r for r in read_metrics(config.run_dir) if r.get("kind") == "epoch"]
    [log_file] = sorted((Path(config.run_dir) / "swanlab").glob("run-*/run-*.swanlab"))
    log = read_swanlab_log(log_file)
    keys = ["latent/active_units", "latent/kl_z01", "latent/kl_z02", "latent/kl_z03", "latent/kl_z04"]
    assert sorted(k for k in log["scalars"] if k.startswith("latent/")) == keys
    assert {log["sections"][k] for k in keys} == {"latent"}  # one group
    assert log["sections"]["test/loss"] == "test"  # (groups are the part before the slash)
    assert log["scalars"]["latent/active_units"] == [(r["step"], r["active_units"]) for r in rows]
    for d in range(4):
        logged = log["scalars"][f"latent/kl_z{d + 1:02d}"]
        assert logged == [(r["step"], pytest.approx(r["kl_per_dim"][d], rel=1e-6)) for r in rows]


def strip_usage(run_dir: str) -> None:
    """Make the run's metrics.jsonl look as an older vae-tui wrote it: no latent usage."""
    path = Path(run_dir) / "metrics.jsonl"
    rows = [{k: v for k, v in r.items() if k not in USAGE} for r in read_metrics(path)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_rows_without_the_usage_still_load_and_a_resumed_run_adds_it(tiny_config: TrainConfig) -> None:
    """An older run's rows lack `kl_per_dim` and `active_units`: its history, its saved
    position and a resume read them as before, and the resumed epochs carry the usage."""
    config = tiny_config.with_(iwae_k=0, epochs=1)
    drive(train(config), [MetricsWriter()])
    strip_usage(config.run_dir)
    history = read_history(config.run_dir)
    assert [r["epoch"] for r in history.epochs] == [1] and not set(USAGE) & history.epochs[0].keys()
    saved = saved_run(config.run_dir, {"epochs": 2})
    assert saved is not None and saved.epochs_done == 1 and saved.history.epochs == history.epochs
    resumed_config, data = load_resume(config.run_dir, {"epochs": 2})
    drive(train(resumed_config, resume=data), [MetricsWriter()])
    rows = read_history(config.run_dir).epochs
    assert [r["epoch"] for r in rows] == [1, 2]
    assert not set(USAGE) & rows[0].keys() and len(rows[1]["kl_per_dim"]) == 4
