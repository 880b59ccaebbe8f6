"""The KL weight schedules at their end points, by hand (β_max 0.8 so a missing scale shows)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vae_tui.core.config import TrainConfig
from vae_tui.core.control import TrainControl
from vae_tui.core.events import BatchEnd, EpochEnd
from vae_tui.core.resume import load_resume
from vae_tui.core.schedules import kl_weight, warmup_epochs
from vae_tui.core.train import train

TOP = 0.8


def betas(epochs: int, **fields: object) -> list[float]:
    config = TrainConfig(epochs=epochs, beta_max=TOP, **fields)
    return [kl_weight(e, config) for e in range(epochs)]


def test_warmup_rises_over_a_fifth_of_the_run_then_stays() -> None:
    assert warmup_epochs(TrainConfig(epochs=50)) == 10
    assert warmup_epochs(TrainConfig(epochs=3)) == 1  # at least one epoch
    b = betas(50, kl_anneal="warmup")
    assert b[0] == 0.0 and b[5] == pytest.approx(TOP / 2) and b[9] == pytest.approx(0.9 * TOP)
    assert b[10:] == [TOP] * 40
    assert betas(3, kl_anneal="warmup") == [0.0, TOP, TOP]


def test_warmup_epochs_can_be_set_and_may_outlast_the_run() -> None:
    b = betas(10, kl_anneal="warmup", kl_warmup_epochs=4)
    assert b[:5] == pytest.approx([0.0, TOP / 4, TOP / 2, 3 * TOP / 4, TOP]) and b[9] == TOP
    assert betas(4, kl_anneal="warmup", kl_warmup_epochs=8)[-1] == pytest.approx(3 * TOP / 8)


def test_cyclical_rises_over_the_first_half_of_each_cycle() -> None:
    b = betas(8, kl_anneal="cyclical", kl_cycles=4)  # cycles of 2 epochs: 0, then β_max
    assert b == pytest.approx([0.0, TOP] * 4)
    b = betas(16, kl_anneal="cyclical", kl_cycles=2)  # cycles of 8: rising over 4 epochs
    cycle = [0.0, TOP / 4, TOP / 2, 3 * TOP / 4, TOP, TOP, TOP, TOP]
    assert b == pytest.approx(cycle * 2)
    b = betas(50, kl_anneal="cyclical")  # the default 4 cycles of 12.5 epochs
    starts = [e for e in range(1, 50) if b[e] < b[e - 1]]  # where a new cycle begins
    assert b[0] == 0.0 and starts == [13, 25, 38] and max(b) == TOP and b[-1] == TOP


def test_linear_and_none_are_as_before() -> None:
    assert betas(50)[0] == 0.0 and betas(50)[-1] == pytest.approx(0.98 * TOP)
    assert betas(5, kl_anneal="none") == [TOP] * 5


@pytest.mark.parametrize("anneal", ["warmup", "cyclical"])
def test_a_resumed_run_continues_its_schedule(tiny_config: TrainConfig, tmp_path: Path, anneal: str) -> None:
    """Stopped mid-run (mid-epoch) and resumed, each epoch trains at the β of the same run whole."""
    config = tiny_config.with_(epochs=4, kl_anneal=anneal, kl_cycles=2, kl_warmup_epochs=3, iwae_k=0)
    whole = [e.beta for e in train(config.with_(run_dir=str(tmp_path / "whole"))) if isinstance(e, EpochEnd)]
    control, first = TrainControl(), []
    for event in train(config, control):
        first.append(event)
        if isinstance(event, BatchEnd) and event.step == 19:  # epoch 3, batch 3 of 8
            control.request_stop()
    resumed_config, saved = load_resume(config.run_dir, {})
    rest = [e for e in train(resumed_config, resume=saved) if isinstance(e, EpochEnd)]
    betas = [e.beta for e in first if isinstance(e, EpochEnd)] + [e.beta for e in rest]
    assert betas == whole == [kl_weight(e, config) for e in range(4)]
    assert len(set(whole)) > 1  # the schedule moved
