"""The command line: fast help, one-line errors with exit codes, core/UI separation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vae_tui.tui.cli import build_parser, config_overrides


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vae_tui.tui", *args],
        check=False, capture_output=True, text=True, cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip


def test_help_is_answered_without_importing_torch() -> None:
    code = (
        "import sys\n"
        "from vae_tui.tui.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "heavy = [m for m in ('torch', 'textual', 'swanlab', 'numpy') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "--train-only" in out and "--swanlab" in out
    assert "HEAVY []" in out


def test_core_never_imports_the_ui() -> None:
    code = (
        "import sys, pkgutil, importlib, vae_tui.core as c\n"
        "for m in pkgutil.iter_modules(c.__path__):\n    importlib.import_module('vae_tui.core.' + m.name)\n"
        "print(sorted({n.split('.')[0] for n in sys.modules} & {'textual', 'rich', 'rich_pixels', 'textual_image'}))\n"
        "print([n for n in sys.modules if n.startswith('vae_tui.tui')])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "[]"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--epochs", "0"], "argument --epochs: must be > 0, got 0"),
        (["--batch-size", "-3"], "argument --batch-size: must be > 0, got -3"),
        (["--lr", "0"], "argument --lr: must be > 0, got 0"),
        (["--lr", "nan"], "argument --lr: 'nan' is not a finite number"),
        (["--latent-dim", "two"], "argument --latent-dim: 'two' is not an integer"),
        (["--dataset", "cifar"], "argument --dataset: invalid choice: 'cifar'"),
        (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (["--kl-anneal", "cosine"], "argument --kl-anneal: invalid choice"),
        (["--swanlab", "online"], "argument --swanlab: invalid choice"),
        (["--eval"], "--eval needs --checkpoint PATH"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_flags_get_one_line_and_exit_2(args: list[str], expected: str) -> None:
    result = run_cli("--train-only", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("vae-tui: error: ") and expected in result.stderr


def test_only_given_flags_become_overrides() -> None:
    args = build_parser().parse_args(["--epochs", "3", "--kl-anneal", "none", "--train-only"])
    assert config_overrides(args) == {"epochs": 3, "kl_anneal": "none"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--data-dir", "/nonexistent/mnist"], "--data-dir /nonexistent/mnist does not exist"),
        (["--device", "cuda"], "--device cuda requested, but torch sees no CUDA GPU"),
    ],
)
def test_runtime_errors_are_one_line_with_exit_2(tmp_path: Path, args: list[str], expected: str) -> None:
    pytest.importorskip("torch")
    import torch

    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = run_cli("--train-only", "--run-dir", str(tmp_path / "r"), *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"vae-tui: error: {result.stderr.split('error: ', 1)[1].strip()}"
    ]
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_the_app_imports_without_torch() -> None:
    """The first frame must not wait for torch: the app module and its widgets never import it."""
    code = "import sys, vae_tui.tui.app, vae_tui.tui.cli\nprint('torch' in sys.modules, 'swanlab' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
