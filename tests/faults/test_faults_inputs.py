"""Bad input through the real `vae-tui` command: one `vae-tui: error: ...` line on stderr, a non-zero
exit code, no traceback, nothing executed, nothing half-written.

The cases that need torch cost a process start each (~2-4 s here), so they are run all at once by a
module fixture and each test reads its result."""

from __future__ import annotations

import gzip
import os
import pickle
import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from vae_tui.core import checkpoint as ckpt
from vae_tui.core.config import TrainConfig
from vae_tui.core.consumers import drive
from vae_tui.core.data import BUNDLED_MNIST
from vae_tui.core.model import VAE
from vae_tui.core.run import standard_consumers
from vae_tui.core.train import train

from ..fault_injection import SMALL, cli, cli_many, epoch_rows, error_line, fork_server, forked_many
from ..swanlab_log import read_swanlab_log

# What each case's one error line must say (after "vae-tui: error: ").
CASES = {
    # IDX files (--data-dir)
    "idx-missing-file": "lacks t10k-labels-idx1-ubyte",
    "idx-truncated-gz": "cannot read",
    "idx-wrong-magic": "is not the expected IDX file (magic 0x00000802, want 0x00000801)",
    "idx-wrong-size": "is truncated or padded",
    "idx-count-mismatch": "has 60000 images but",
    "data-dir-is-a-file": "is not a folder",
    # --eval --checkpoint FILE
    "eval-truncated": "is corrupt or truncated",
    "eval-empty": "is empty",
    "eval-random-bytes": "is corrupt",
    "eval-pickle-with-code": "refused to load",
    "eval-legacy-pickle-with-code": "is corrupt or not a PyTorch weights file",
    "eval-other-architecture": "is not a vae-tui checkpoint nor a state_dict of the reference VAE",
    "eval-other-input-size": "the model takes 1024 inputs, not 784",
    "eval-missing": "does not exist",
    "eval-nan-weights": "the model's weights hold NaN or infinite values",
    # --resume RUN_DIR
    "resume-truncated": "is corrupt or truncated",
    "resume-empty": "is empty",
    "resume-random-bytes": "is corrupt",
    "resume-pickle-with-code": "refused to load",
    "resume-other-architecture": "is not a vae-tui checkpoint nor a state_dict of the reference VAE",
    "resume-other-architecture-bare": "is a bare model, not a vae-tui run; nothing to resume",
    "resume-bare-state-dict": "is a bare model, not a vae-tui run; nothing to resume",
    "resume-weights-not-its-config": "its weights are a 32-8 model but its config says 32-4",
    "resume-foreign-optimizer": "its optimizer state does not fit",
    "resume-damaged-rng": "random-number states are damaged",
    "resume-no-checkpoint": "it has no checkpoint.pt (the run ended before its first checkpoint)",
    "resume-not-a-run": "it is not a vae-tui run folder",
    "resume-other-test-limit": "with --test-limit 32 (saved: 64): start a new run",
    "resume-not-a-folder": "does not exist",
    "resume-contradicting-flags": "with --latent-dim 8 (saved: 4), --lr 0.5 (saved: 0.001): start a new run",
    "resume-fewer-epochs": "--epochs 1 is fewer than the 2 already trained",
    "resume-other-run-dir": "--resume continues",
    # run folders
    "run-dir-under-a-file": "cannot create run dir",
    "run-dir-is-a-file": "is a file, not a folder",
    "run-dir-holds-a-run": "already holds a run; continue it with --resume",
    # flags argparse cannot check (need torch) and nonsense it can
    "device-mps-missing": "--device mps requested, but MPS is not available",
    "iwae-k-negative": "argument --iwae-k: must be ≥ 0, got -1",
    "train-limit-zero": "argument --train-limit: must be > 0, got 0",
    "test-limit-zero": "argument --test-limit: must be > 0, got 0",
    "hidden-dim-zero": "argument --hidden-dim: must be > 0, got 0",
    "beta-max-negative": "argument --beta-max: must be ≥ 0, got -1",
    "seed-negative": "argument --seed: must be ≥ 0, got -1",
    "epochs-fraction": "argument --epochs: '1.5' is not an integer",
    "lr-infinite": "argument --lr: 'inf' is not a finite number",
    "binarize-without-eval": "--binarize and --json only apply to --eval",
    "resume-and-checkpoint": "--resume and --checkpoint cannot be combined",
    # numbers that blow up
    "loss-becomes-inf": "at epoch 2, batch 1; stopped, the last good checkpoint is kept",
    "loss-becomes-nan-at-once": "no checkpoint had been saved yet, so there is nothing to resume",
}
EXIT_CODES = {"loss-becomes-inf": 1, "loss-becomes-nan-at-once": 1}  # the rest: 2
# These run as `vae-tui ...` in a fresh interpreter, all at once; the rest as the same `main()` in
# a child forked from a pre-imported server (tests/fault_injection.py), one after the other: a fresh
# interpreter spends 2-4 s importing torch, which on 2 busy cores would make this file take minutes.
SCRIPT_CASES = {
    "eval-pickle-with-code", "resume-contradicting-flags",
    "iwae-k-negative", "train-limit-zero", "test-limit-zero", "hidden-dim-zero", "beta-max-negative",
    "seed-negative", "epochs-fraction", "lr-infinite", "binarize-without-eval", "resume-and-checkpoint",
}  # fmt: skip


class Boom:
    """A pickle that runs a shell command when loaded (it must never be)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def copy_mnist(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for f in src.iterdir():
        shutil.copyfile(f, dst / f.name)
    return dst


def replace_idx(folder: Path, name: str, data: bytes) -> None:
    """Swap the gzipped file for an uncompressed one holding `data`."""
    (folder / f"{name}.gz").unlink()
    (folder / name).write_bytes(data)


def idx_bytes(folder: Path, name: str) -> bytes:
    return gzip.decompress((folder / f"{name}.gz").read_bytes())


def make_run(folder: Path) -> Path:
    config = TrainConfig(epochs=2, batch_size=64, hidden_dim=32, latent_dim=4, train_limit=256,
                         test_limit=64, iwae_k=0, swanlab="disabled", run_dir=str(folder))  # fmt: skip
    drive(train(config), standard_consumers(config))
    return folder


def resume_dir(root: Path, name: str, content: bytes | None = None, data: dict | None = None) -> Path:
    folder = root / name
    folder.mkdir()
    if content is not None:
        (folder / "checkpoint.pt").write_bytes(content)
    if data is not None:
        torch.save(data, folder / "checkpoint.pt")
    return folder


def stepped_optimizer_state(hidden_dim: int) -> dict:
    """AdamW's state after one step on another model: tensors of the wrong shapes."""
    model = VAE(hidden_dim=hidden_dim, latent_dim=4)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.rand(2, 784))[0].sum().backward()
    optimizer.step()
    return optimizer.state_dict()


def build_jobs(root: Path, mnist: Path) -> dict[str, list[str]]:
    good = make_run(root / "good-run")
    good_bytes = (good / "checkpoint.pt").read_bytes()
    good_data = ckpt.read_checkpoint(good)
    marker = root / "pwned"
    rand = random.Random(7).randbytes(4096)
    conv = {"conv1.weight": torch.randn(8, 1, 3, 3), "conv1.bias": torch.zeros(8)}
    wide = VAE(input_dim=1024, hidden_dim=32, latent_dim=4).state_dict()
    files = root / "files"
    files.mkdir()
    for name, content in [("truncated.pt", good_bytes[: len(good_bytes) // 2]), ("empty.pt", b""),
                          ("random.pt", rand), ("legacy.pt", pickle.dumps(Boom(marker)))]:  # fmt: skip
        (files / name).write_bytes(content)
    torch.save({"model": Boom(marker)}, files / "code.pt")
    torch.save(conv, files / "conv.pt")
    torch.save(wide, files / "wide.pt")
    broken = VAE(hidden_dim=32, latent_dim=4).state_dict()
    broken["fc2.bias"][3] = float("nan")
    torch.save(broken, files / "nan.pt")

    jobs: dict[str, list[str]] = {}
    train_only = ["--train-only", *SMALL]

    def data_case(name: str, folder: Path) -> None:
        jobs[name] = [*train_only, "--data-dir", str(folder), "--run-dir", str(root / f"run-{name}")]

    folder = copy_mnist(mnist, root / "idx-missing-file")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    data_case("idx-missing-file", folder)
    folder = copy_mnist(mnist, root / "idx-truncated-gz")
    gz = (folder / "train-images-idx3-ubyte.gz").read_bytes()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gz[: len(gz) // 2])
    data_case("idx-truncated-gz", folder)
    folder = copy_mnist(mnist, root / "idx-wrong-magic")
    labels = idx_bytes(folder, "train-labels-idx1-ubyte")
    replace_idx(folder, "train-labels-idx1-ubyte", (0x802).to_bytes(4, "big") + labels[4:])
    data_case("idx-wrong-magic", folder)
    folder = copy_mnist(mnist, root / "idx-wrong-size")
    replace_idx(folder, "t10k-labels-idx1-ubyte", idx_bytes(folder, "t10k-labels-idx1-ubyte") + b"\0" * 10)
    data_case("idx-wrong-size", folder)
    folder = copy_mnist(mnist, root / "idx-count-mismatch")
    short = labels[:4] + (59999).to_bytes(4, "big") + labels[8:-1]
    replace_idx(folder, "train-labels-idx1-ubyte", short)
    data_case("idx-count-mismatch", folder)
    data_case("data-dir-is-a-file", files / "empty.pt")

    for case, name in [("truncated", "truncated.pt"), ("empty", "empty.pt"), ("random-bytes", "random.pt"),
                       ("pickle-with-code", "code.pt"), ("legacy-pickle-with-code", "legacy.pt"),
                       ("other-architecture", "conv.pt"), ("other-input-size", "wide.pt"),
                       ("missing", "nope.pt"), ("nan-weights", "nan.pt")]:  # fmt: skip
        jobs[f"eval-{case}"] = ["--eval", "--checkpoint", str(files / name), "--test-limit", "64"]

    for case, name in [("truncated", "truncated.pt"), ("empty", "empty.pt"), ("random-bytes", "random.pt"),
                       ("pickle-with-code", "code.pt"), ("other-architecture-bare", "conv.pt")]:  # fmt: skip
        folder = resume_dir(root, f"resume-{case}", (files / name).read_bytes())
        jobs[f"resume-{case}"] = ["--train-only", "--resume", str(folder)]
    # Our checkpoint format, holding another network's weights.
    foreign = resume_dir(root, "resume-other-architecture", data={**good_data, "model": conv})
    jobs["resume-other-architecture"] = ["--train-only", "--resume", str(foreign)]
    other = VAE(hidden_dim=32, latent_dim=8)
    cases = {
        "resume-bare-state-dict": good_data["model"],
        "resume-weights-not-its-config": {**good_data, "model": other.state_dict()},
        "resume-foreign-optimizer": {**good_data, "optimizer": stepped_optimizer_state(hidden_dim=16)},
        "resume-damaged-rng": {**good_data, "rng": {**good_data["rng"], "numpy": ["MT19937", [1, 2], 0]}},
    }
    for name, data in cases.items():
        jobs[name] = ["--train-only", "--resume", str(resume_dir(root, name, data=data))]
    empty_run = resume_dir(root, "resume-no-checkpoint")
    (empty_run / "config.json").write_text("{}\n")
    jobs["resume-no-checkpoint"] = ["--train-only", "--resume", str(empty_run)]
    jobs["resume-not-a-folder"] = ["--train-only", "--resume", str(root / "no-such-run")]
    jobs["resume-not-a-run"] = ["--train-only", "--resume", str(files)]
    # Held-out rows measured on 32 images after 64-image ones would not compare.
    jobs["resume-other-test-limit"] = [
        "--train-only",
        "--resume",
        str(good),
        "--test-limit",
        "32",
        "--epochs",
        "3",
    ]
    jobs["resume-contradicting-flags"] = ["--train-only", "--resume", str(good), "--latent-dim", "8",
                                          "--lr", "0.5", "--epochs", "3"]  # fmt: skip
    jobs["resume-fewer-epochs"] = ["--train-only", "--resume", str(good), "--epochs", "1"]
    jobs["resume-other-run-dir"] = ["--train-only", "--resume", str(good), "--run-dir", str(root / "x")]

    jobs["run-dir-under-a-file"] = [*train_only, "--run-dir", str(files / "empty.pt" / "run")]
    jobs["run-dir-is-a-file"] = [*train_only, "--run-dir", str(files / "empty.pt")]
    jobs["run-dir-holds-a-run"] = [*train_only, "--run-dir", str(good)]

    jobs["device-mps-missing"] = [*train_only, "--device", "mps", "--run-dir", str(root / "run-mps")]
    for name, flag in [("iwae-k-negative", ["--iwae-k", "-1"]), ("train-limit-zero", ["--train-limit", "0"]),
                       ("test-limit-zero", ["--test-limit", "0"]), ("hidden-dim-zero", ["--hidden-dim", "0"]),
                       ("beta-max-negative", ["--beta-max", "-1"]), ("seed-negative", ["--seed", "-1"]),
                       ("epochs-fraction", ["--epochs", "1.5"]), ("lr-infinite", ["--lr", "inf"]),
                       ("binarize-without-eval", ["--binarize"])]:  # fmt: skip
        jobs[name] = ["--train-only", *flag]
    jobs["resume-and-checkpoint"] = ["--train-only", "--resume", str(good), "--checkpoint", str(good)]

    # β = beta_max · 1/2 in epoch 2 overflows float32: the loss is inf (or nan) at its first batch.
    jobs["loss-becomes-inf"] = [*train_only, "--epochs", "2", "--beta-max", "1e300",
                                "--run-dir", str(root / "run-inf"), "--swanlab", "offline"]  # fmt: skip
    # A step of 1e30 wrecks the weights: the second batch of the first epoch is already nan.
    jobs["loss-becomes-nan-at-once"] = [*train_only, "--epochs", "2", "--lr", "1e30",
                                        "--run-dir", str(root / "run-nan")]  # fmt: skip
    return jobs


@pytest.fixture(scope="module")
def results(
    tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path
) -> tuple[Path, dict[str, subprocess.CompletedProcess[str]]]:
    server = fork_server()  # starts importing now, while the files are made
    root = tmp_path_factory.mktemp("bad-input")
    jobs = build_jobs(root, BUNDLED_MNIST)  # the .gz files (the cache holds them decompressed)
    assert set(jobs) == set(CASES)
    before = (root / "good-run" / "checkpoint.pt").read_bytes()
    with ThreadPoolExecutor(1) as pool:
        scripts = pool.submit(cli_many, {k: v for k, v in jobs.items() if k in SCRIPT_CASES})
        done = forked_many({k: v for k, v in jobs.items() if k not in SCRIPT_CASES}, root, workers=2)
        done.update(scripts.result())
    assert server.proc.poll() is None
    assert (root / "good-run" / "checkpoint.pt").read_bytes() == before  # refused runs touch nothing
    return root, done


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_clear_line(
    results: tuple[Path, dict[str, subprocess.CompletedProcess[str]]], case: str
) -> None:
    if case == "device-mps-missing" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    result = results[1][case]
    line = error_line(result)
    assert CASES[case] in line, line
    assert result.returncode == EXIT_CODES.get(case, 2), line


def test_code_in_a_checkpoint_is_never_run(results: tuple[Path, dict]) -> None:
    root, _ = results
    assert not (root / "pwned").exists()


def test_bad_data_creates_no_run_folder(results: tuple[Path, dict]) -> None:
    root, _ = results
    for case in CASES:
        if case.startswith("idx-"):
            assert not (root / f"run-{case}").exists(), case


def test_inf_loss_keeps_the_last_good_checkpoint(results: tuple[Path, dict]) -> None:
    root, done = results
    assert "loss became inf at epoch 2, batch 1" in done["loss-becomes-inf"].stderr or (
        "loss became nan at epoch 2, batch 1" in done["loss-becomes-inf"].stderr
    )
    run = root / "run-inf"
    data = ckpt.read_checkpoint(run / "checkpoint.pt")
    assert (data["epoch"], data["batch"]) == (1, 0)
    assert [r["epoch"] for r in epoch_rows(run)] == [1]
    [log] = (run / "swanlab").glob("run-*/run-*.swanlab")
    assert read_swanlab_log(log)["finished"] == "RUN_STATE_CRASHED"
    assert not (root / "run-nan" / "checkpoint.pt").exists()
    assert "loss became nan at epoch 1, batch 2" in done["loss-becomes-nan-at-once"].stderr


def test_a_run_dir_that_refuses_files_is_one_line() -> None:
    """/sys is a folder that refuses new files even to root (a read-only mount behaves alike)."""
    if not Path("/sys/kernel").is_dir():
        pytest.skip("no sysfs here")
    result = cli("--train-only", *SMALL, "--run-dir", "/sys")
    # (the first file a run writes is its lock, core/runlock.py)
    assert error_line(result).startswith("vae-tui: error: cannot write /sys/trainer.lock: ")
    assert result.returncode == 2


def test_an_unwritable_run_dir_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        try:
            (folder / "probe").write_text("x")
        except PermissionError:
            pass
        else:
            pytest.skip("permissions do not stop this user (root): see run-dir-under-a-file instead")
        result = cli("--train-only", *SMALL, "--run-dir", str(folder / "run"))
        assert "cannot create run dir" in error_line(result) and result.returncode == 2
    finally:
        folder.chmod(0o700)
