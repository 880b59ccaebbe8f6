"""The command line: fast help, one-line errors with exit codes, core/UI separation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vae_tui.tui.cli import build_parser, config_overrides

from ..helpers import run_cli


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
        (["--seed", "18446744073709551616"], "argument --seed: must be ≤ 4294967295"),  # was a traceback
        (["--checkpoint", "model.pt"], "--train-only trains a new run"),  # it used to train from scratch
        # A trained model is used as it is: flags it would silently ignore are refused.
        (
            ["--eval", "--checkpoint", "m.pt", "--epochs", "3", "--lr", "0.1"],
            "--epochs --lr do not apply with --eval",
        ),
    ],
)
def test_bad_flags_get_one_line_and_exit_2(args: list[str], expected: str) -> None:
    result = run_cli("--train-only", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("vae-tui: error: ") and expected in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--watch", "r", "--epochs", "3"],
            "--epochs does not apply with --watch: it reads what the run wrote",
        ),
        (["--watch", "r", "--train-only"], "--watch cannot be combined with --train-only"),
        (["--watch", "r", "--compare", "a", "b"], "--watch and --compare cannot be combined"),
        (["--compare", "a"], "--compare takes 2 to 4 run folders (got 1)"),
        (["--compare", "a", "b", "c", "d", "e"], "--compare takes 2 to 4 run folders (got 5)"),
        (
            ["--compare", "a", "b", "--dataset", "mnist"],
            "--dataset does not apply with --compare: it reads what the run wrote (only --graphics applies)",
        ),
        (["--watch", "r", "--seed", "1"], "(only --data-dir, --dataset, --test-limit, --graphics apply)"),
        (["--export", "r", "--seed", "1"], "(only --data-dir, --dataset, --test-limit apply)"),
        (["--export", "r", "--train-only"], "--export cannot be combined with --train-only"),
        (["--export", "r", "--graphics", "sixel"], "--graphics only applies to the app (not --export)"),
        (["--export", "r", "--checkpoint", "m.pt"], "--export cannot be combined with --checkpoint"),
        (["--kl-cycles", "3"], "--kl-cycles only applies with --kl-anneal cyclical (this run is linear)"),
        (
            ["--kl-anneal", "cyclical", "--kl-warmup-epochs", "2"],
            "--kl-warmup-epochs only applies with --kl-anneal warmup",
        ),
        (
            ["--kl-anneal", "cyclical", "--epochs", "3"],
            "--kl-cycles 4 (the default) is more cycles than --epochs 3",
        ),
    ],
)
def test_run_modes_and_schedule_flags_that_make_no_sense_are_refused(args: list[str], expected: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2 and result.stdout == ""
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


def test_browsing_refuses_flags_it_would_ignore(tmp_path: Path) -> None:
    result = run_cli("--checkpoint", "m.pt", "--latent-dim", "2", "--test-limit", "50", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(
        "vae-tui: error: --latent-dim does not apply when browsing: a trained model is used as it is "
        "(only --data-dir, --dataset, --test-limit apply); to train, leave out --checkpoint"
    )


def test_browsing_without_a_terminal_is_refused_not_turned_into_training(tmp_path: Path) -> None:
    """Without a terminal, plain `vae-tui` trains headless; with --checkpoint that would start a
    50-epoch run nobody asked for (and never look at the file), so it is refused instead."""
    model = Path(__file__).parents[1] / "data" / "tiny-vae-state_dict.pt"
    result = run_cli("--checkpoint", str(model), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "vae-tui: error: browsing a model needs a terminal on stdin and stderr; "
        "for its numbers without one, use --eval --checkpoint PATH"
    ]
    assert not list(tmp_path.iterdir())  # no run was started


@pytest.mark.parametrize("command", ["eval", "train"])
def test_a_closed_output_is_exit_141_without_a_traceback(tmp_path: Path, command: str) -> None:
    """`vae-tui ... | head`: the reader leaving is not a disk failure and not a crash."""
    model = Path(__file__).parents[1] / "data" / "tiny-vae-state_dict.pt"
    args = {
        "eval": ["--eval", "--checkpoint", str(model), "--test-limit", "50", "--iwae-k", "2"],
        "train": ["--train-only", "--epochs", "2", "--train-limit", "256", "--test-limit", "50",
                  "--hidden-dim", "16", "--latent-dim", "2", "--iwae-k", "0", "--swanlab", "disabled",
                  "--run-dir", str(tmp_path / "run")],
    }[command]  # fmt: skip
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has already gone: the first write fails
    try:
        result = subprocess.run(
            [sys.executable, "-m", "vae_tui.tui", *args],
            check=False, stdout=write_end, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            timeout=120, cwd=tmp_path,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert result.returncode == 141, result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    if command == "train":
        assert result.stderr.splitlines() == [result.stderr.strip()]
        assert "the output was closed (broken pipe), so training stopped" in result.stderr
    else:
        assert result.stderr == ""


def test_an_ascii_only_output_gets_replacement_characters_not_a_crash(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vae_tui.tui", "--train-only", "--epochs", "1", "--train-limit", "256",
         "--test-limit", "50", "--hidden-dim", "16", "--latent-dim", "2", "--iwae-k", "2",
         "--swanlab", "disabled", "--run-dir", str(tmp_path / "run")],
        check=False, capture_output=True, stdin=subprocess.DEVNULL, timeout=120, cwd=tmp_path,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode("ascii", "replace")
    out = result.stdout.decode("ascii")  # every byte is ASCII
    assert "--- Epoch [1/1] Summary ---" in out and "?" in out  # "±" and friends became "?"


def test_eval_reports_each_number_with_its_protocol_as_text_and_json(tmp_path: Path) -> None:
    """`--eval` is how a checkpoint's numbers get compared: the text report and `--json` carry the
    same (seeded) numbers, the parts add up, and `--binarize` changes the protocol, not the model."""
    model = str(Path(__file__).parents[1] / "data" / "tiny-vae-state_dict.pt")
    base = ("--eval", "--checkpoint", model, "--test-limit", "100", "--iwae-k", "4")
    text, grey, binary = (
        run_cli(*base, *extra, cwd=tmp_path) for extra in ((), ("--json",), ("--json", "--binarize"))
    )
    for result in (text, grey, binary):
        assert result.returncode == 0 and result.stderr == "", result.stderr
    r, b = json.loads(grey.stdout), json.loads(binary.stdout)
    assert (r["source"], r["images"], r["iwae_k"], r["dataset"]) == ("state_dict", 100, 4, "mnist")
    # Bare weights say nothing of their training: no config, no counts (not a made-up 0).
    assert (r["config"], r["epochs_trained"], r["batches_into_next_epoch"], r["steps_trained"]) == (
        None,
        None,
        None,
        None,
    )
    assert r["architecture"] == {"input_dim": 784, "hidden_dim": 64, "latent_dim": 8}
    assert (r["binarized"], b["binarized"]) == (False, True)
    assert r["bce"] + r["kld"] == pytest.approx(r["neg_elbo"], rel=1e-6)
    assert r["iwae_nll"] < r["neg_elbo"] and r["neg_elbo_stderr"] > 0
    assert r["active_units"] == sum(a > 0.01 for a in r["activity_per_dim"]) and len(r["kl_per_dim"]) == 8
    assert "grey-level" in r["protocol"] and "binarized" in b["protocol"] and b["neg_elbo"] != r["neg_elbo"]
    lines = text.stdout.splitlines()
    assert lines[0] == f"Checkpoint: {model} (state_dict, training not recorded)"
    assert (
        f"Negative ELBO (beta = 1, one z per image): {r['neg_elbo']:.4f} ± {r['neg_elbo_stderr']:.4f}"
        in lines[2]
    )
    assert f"IWAE bound on -log p(x), K=4: {r['iwae_nll']:.4f}" in text.stdout
    assert f"Active units (Cov_x E_q[z_i] > 0.01): {r['active_units']} of 8" in text.stdout


def test_help_says_what_the_beta_schedule_really_does() -> None:
    """The help said --beta-max was the "KL weight reached by the schedule", but linear annealing
    stops one step short of it: the last of E epochs trains at beta_max * (E-1)/E."""
    from vae_tui.core.config import TrainConfig
    from vae_tui.core.schedules import kl_weight

    text = " ".join(build_parser().format_help().split())
    assert "reached by the schedule" not in text
    assert "it never reaches beta_max" in text and "stops one step short" in text
    for epochs in (50, 5):  # the examples it gives are what the loop computes
        last = kl_weight(epochs - 1, TrainConfig(epochs=epochs))
        assert last == pytest.approx((epochs - 1) / epochs)
    assert (
        f"({kl_weight(49, TrainConfig()):g} * beta_max with 50 epochs, {kl_weight(4, TrainConfig(epochs=5)):g} with 5)"
        in text
    )


def test_eval_json_carries_the_run_config_and_every_key_is_in_the_readme(tmp_path: Path) -> None:
    """`--eval --json` of our checkpoint says what the model is and how far it trained, with keys
    that say what they count; and the README's table explains every key it prints."""
    run = tmp_path / "run"
    trained = run_cli("--train-only", "--epochs", "1", "--train-limit", "256", "--test-limit", "50",
                      "--hidden-dim", "16", "--latent-dim", "2", "--iwae-k", "0", "--swanlab", "disabled",
                      "--run-dir", str(run), cwd=tmp_path)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    result = run_cli("--eval", "--checkpoint", str(run / "checkpoint.pt"), "--test-limit", "50",
                     "--iwae-k", "2", "--json", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout)
    assert r["config"] == json.loads((run / "config.json").read_text())
    assert (r["epochs_trained"], r["batches_into_next_epoch"], r["steps_trained"]) == (1, 0, 2)
    assert "batches" not in r and "epochs" not in r  # the unexplained names are gone
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("`--json` prints one object") :]
    documented = set()
    for line in section.splitlines()[2:]:
        if not line.startswith("|"):
            break
        documented.update(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    assert set(r) <= documented, set(r) - documented
