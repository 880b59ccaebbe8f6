"""`core/compare.py`: what --compare reads from run folders (no screen, no torch)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from vae_tui.core import compare
from vae_tui.core.compare import CompareError, config_differences, final_numbers, read_run, read_runs
from vae_tui.core.config import TrainConfig
from vae_tui.core.metrics import read_metrics
from vae_tui.core.runlock import RunLock

WARMUP_RUN = Path(__file__).parents[1] / "data" / "run-warmup14"
"""A 3-epoch run (hidden 16, latent 4, --kl-anneal warmup) written by this issue's trainer."""


def fake_folder(path: Path, **settings: object) -> Path:
    """A run folder holding only a config.json of `TrainConfig` with `settings` (no metrics yet:
    a run that has just started)."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(asdict(TrainConfig(**settings))))  # type: ignore[arg-type]
    return path


def test_differences_are_only_the_settings_that_differ(tmp_path: Path) -> None:
    a = fake_folder(tmp_path / "a", latent_dim=2, kl_anneal="linear", run_dir="/x/a")
    b = fake_folder(tmp_path / "b", latent_dim=8, kl_anneal="cyclical", run_dir="/x/b")
    c = fake_folder(tmp_path / "c", latent_dim=8, kl_anneal="warmup", train_limit=512, run_dir="/x/c")
    assert config_differences(read_runs([str(a), str(b), str(c)])) == [
        ("latent_dim", ["2", "8", "8"]),
        ("kl_anneal", ["linear", "cyclical", "warmup"]),
        ("train_limit", ["all", "all", "512"]),  # None said as what it means
    ]  # run_dir differs between any two runs and is left out
    d = fake_folder(tmp_path / "d", latent_dim=8, kl_anneal="cyclical", run_dir="/x/d")
    assert config_differences(read_runs([str(b), str(d)])) == []


def test_a_setting_missing_from_an_older_config_counts_as_its_default(tmp_path: Path, old_run: Path) -> None:
    config = json.loads((old_run / "config.json").read_text())
    del config["kl_cycles"], config["kl_warmup_epochs"]  # as before --kl-anneal cyclical existed
    (old_run / "config.json").write_text(json.dumps(config))
    other = fake_folder(tmp_path / "other", **{**config, "kl_cycles": 2, "run_dir": None})
    assert config_differences(read_runs([str(old_run), str(other)])) == [("kl_cycles", ["4", "2"])]


def test_finals_of_a_finished_run_come_from_its_metrics(old_run: Path) -> None:
    rows = read_metrics(old_run / "metrics.jsonl")
    last = [r for r in rows if r["kind"] == "epoch"][-1]
    final = next(r for r in rows if r["kind"] == "final")
    run = read_run(old_run)
    assert (run.name, run.epochs_done, run.planned, run.training) == ("old-run", 3, 3, False)
    assert final_numbers(run) == {
        "held-out −ELBO": f"{last['test_loss']:.2f}",
        "IWAE NLL": f"{final['iwae_nll']:.2f} (K={final['iwae_k']})",
        "active units": f"{last['active_units']}/2",
        "epochs": "3/3",
        "state": "finished",
    }
    assert run.series("test_kld") == ([1.0, 2.0, 3.0], [r["test_kld"] for r in rows if r["kind"] == "epoch"])


def test_rows_from_before_active_units_and_no_iwae_bound_show_a_dash(old_run: Path) -> None:
    """Epoch rows written before issue 13 lack active_units; --iwae-k 0 writes no final row."""
    rows = [r for r in read_metrics(old_run / "metrics.jsonl") if r["kind"] == "epoch"]
    for row in rows:
        del row["active_units"], row["kl_per_dim"]
    (old_run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = read_run(old_run)
    numbers = final_numbers(run)
    assert (numbers["active units"], numbers["IWAE NLL"]) == ("–", "–")
    assert numbers["held-out −ELBO"] == f"{rows[-1]['test_loss']:.2f}"
    assert run.series("active_units") == ([], [])


def test_a_run_stopped_early_and_one_being_trained(old_run: Path, tmp_path: Path) -> None:
    rows = read_metrics(old_run / "metrics.jsonl")
    (old_run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    (old_run / "metrics.jsonl").open("a").write('{"kind": "epoch", "epoch": 3, "te')  # torn by a kill
    assert final_numbers(read_run(old_run))["epochs"] == "2/3"
    assert read_run(old_run).state == "stopped"
    with RunLock() as lock:  # a trainer holds the folder (the lock a training process takes)
        lock.acquire(old_run, resuming=True)
        assert read_run(old_run).state == "training"
    assert read_run(old_run).state == "stopped"


def test_a_run_that_has_not_finished_an_epoch_yet(tmp_path: Path) -> None:
    run = read_run(fake_folder(tmp_path / "new", epochs=5))
    assert (run.epochs_done, compare.last_epoch([run]), compare.planned_epochs([run])) == (0, 0, 5)
    assert final_numbers(run)["held-out −ELBO"] == "–"


def test_names_tell_equal_folder_names_apart(tmp_path: Path) -> None:
    a = fake_folder(tmp_path / "linear" / "run")
    b = fake_folder(tmp_path / "warmup" / "run")
    c = fake_folder(tmp_path / "other")
    assert [r.name for r in read_runs([str(a), str(b), str(c)])] == ["linear/run", "warmup/run", "other"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing", "missing: no such run folder"),
        (lambda d: _file(d / "notes.txt"), "notes.txt is not a run folder (a file)"),
        (lambda d: _dir(d / "empty"), "empty is not a run folder (no config.json and no metrics.jsonl)"),
        (lambda d: _garbled(d / "garbled"), "cannot read"),
        (lambda d: _list_config(d / "list"), "is not a run's config"),
    ],
)
def test_a_folder_that_is_not_a_run_is_refused_in_one_line(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(CompareError) as e:
        read_runs([str(WARMUP_RUN), str(make(tmp_path))])
    assert message in str(e.value)
    assert "\n" not in str(e.value)
    assert e.value.exit_code == 2


def test_the_same_folder_twice_is_refused(tmp_path: Path) -> None:
    copy = shutil.copytree(WARMUP_RUN, tmp_path / "run")
    with pytest.raises(CompareError, match="given twice"):
        read_runs([str(copy), str(tmp_path / "." / "run")])


def _file(path: Path) -> Path:
    path.write_text("hello")
    return path


def _dir(path: Path) -> Path:
    path.mkdir()
    return path


def _garbled(path: Path) -> Path:
    path.mkdir()
    (path / "config.json").write_text('{"epochs": 3, "lat')
    return path


def _list_config(path: Path) -> Path:
    path.mkdir()
    (path / "config.json").write_text("[1, 2]")
    return path


def test_compare_stays_torch_and_textual_free() -> None:
    code = "import sys, vae_tui.core.compare; print(sorted(m for m in ('torch', 'textual', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
