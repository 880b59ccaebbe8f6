"""Every flag of `vae-tui`, given the values a person mistypes or tries: 0, -1, a huge value,
NaN, text, nothing, and (flags that take a path) a path that cannot be written or a name too long for
the filesystem. Each ends in one `vae-tui: error: ...` line with exit code 1 or 2, never a
traceback; the few that are valid exit 0 (tiny runs) or are skipped where they would run long.

The flags are read off the parser, so a flag added later is covered without editing this file:
its cells must fail cleanly, or be listed in VALID once someone has decided they are valid.
Each cell runs the real `main()` in this process (torch is loaded once): the memory check of
core/memory.py runs before anything large exists, so a huge size is refused, never allocated
(tests/unit/test_memory.py proves that under an address-space limit).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from vae_tui.tui.cli import build_parser, main, path_arg

TINY_MODEL = Path(__file__).parents[1] / "data" / "tiny-vae-state_dict.pt"
HUGE_NUMBER = "1" + "0" * 30  # beyond int64 and float32; an integer, and a float too
LONG_NAME = "x" * 5000  # longer than any filesystem's name limit (255 bytes)
UNWRITABLE = "{tmp}/a-file/run"  # a path under a regular file: no one can create it, not even root


def kind(action: argparse.Action) -> str:
    if action.nargs == 0:
        return "switch"
    if action.choices:
        return "choice"
    return "path" if action.type in (None, path_arg) else "number"


def value_flags() -> dict[str, str]:
    """Each `--flag` of the parser and its kind (not --help/--version: they answer and exit 0)."""
    skip = (argparse._HelpAction, argparse._VersionAction)
    return {
        a.option_strings[-1]: kind(a)
        for a in build_parser()._actions
        if a.option_strings and not isinstance(a, skip)
    }


def values(flag_kind: str) -> dict[str, str]:
    common = {"zero": "0", "negative": "-1", "nan": "nan", "text": "lots", "empty": ""}
    if flag_kind == "number":
        return {**common, "huge": HUGE_NUMBER}
    if flag_kind == "path":
        return {**common, "huge": LONG_NAME, "unwritable": UNWRITABLE}
    return {**common, "huge": LONG_NAME if flag_kind == "choice" else HUGE_NUMBER}


# The flags each cell starts from: a run of well under a second, or an evaluation of a tiny model.
CONTEXTS = {
    "train": (
        ["--train-only"],
        {"--epochs": "1", "--hidden-dim": "16", "--latent-dim": "2", "--batch-size": "64",
         "--iwae-k": "0", "--train-limit": "256", "--test-limit": "64", "--swanlab": "disabled",
         "--run-dir": "{tmp}/run"},
    ),
    "eval": (["--eval"], {"--checkpoint": str(TINY_MODEL), "--test-limit": "64", "--iwae-k": "2"}),
}  # fmt: skip

# Cells that are not mistakes: "ok" runs them and wants exit 0; other text is why a cell is skipped.
VALID = {
    ("train", "--seed", "zero"): "ok",
    ("train", "--iwae-k", "zero"): "ok",
    ("train", "--beta-max", "zero"): "ok",
    ("train", "--beta-max", "huge"): "ok",  # with one epoch, linear annealing trains at beta 0
    ("train", "--batch-size", "huge"): "ok",  # one batch of the whole (256-image) training set
    ("train", "--train-limit", "huge"): "ok",  # all 60000 images, one epoch of a 16-2 model
    ("train", "--test-limit", "huge"): "ok",  # all 10000 test images
    ("train", "--run-dir", "zero"): "ok",  # a folder named 0 in the current one (tmp_path)
    ("train", "--run-dir", "negative"): "ok",
    ("train", "--run-dir", "nan"): "ok",
    ("train", "--run-dir", "text"): "ok",
    ("train", "--epochs", "huge"): "valid: 10**30 epochs is a loop bound, it would train for ever",
    ("eval", "--iwae-k", "zero"): "ok",
    ("eval", "--test-limit", "huge"): "ok",
}

CELLS = [
    pytest.param(context, flag, name, id=f"{context}{flag}={name}")
    for context in CONTEXTS
    for flag, flag_kind in value_flags().items()
    for name in values(flag_kind)
]


@pytest.fixture
def isolated_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mnist_dir: Path) -> Iterator[None]:
    """`main()` run from an empty folder, with the process-wide state it may change put back."""
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    logger = logging.getLogger("vae_tui")
    handlers = list(logger.handlers)
    yield
    torch.set_num_threads(threads)
    for handler in logger.handlers[:]:  # log_warnings_to_stderr's handler holds capsys's stream
        if handler not in handlers:
            logger.removeHandler(handler)


def run_main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse's errors (2) and answers
        return e.code if isinstance(e.code, int) else int(e.code is not None)


@pytest.mark.parametrize(("context", "flag", "name"), CELLS)
def test_a_flag_value_is_run_or_refused_in_one_line(
    context: str,
    flag: str,
    name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    isolated_main: None,
) -> None:
    expected = VALID.get((context, flag, name), "fails")
    if expected not in ("ok", "fails"):
        pytest.skip(expected)
    (tmp_path / "a-file").write_text("")
    mode, base = CONTEXTS[context]
    value = values(value_flags()[flag])[name].format(tmp=tmp_path)
    argv = [
        *mode,
        *(x.format(tmp=tmp_path) for k, v in base.items() if k != flag for x in (k, v)),
        flag,
        value,
    ]
    code = run_main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    if expected == "ok":
        assert code == 0, err
        return
    lines = err.splitlines()
    assert code in (1, 2) and len(lines) == 1 and lines[0].startswith("vae-tui: error: "), (code, err)


def test_the_table_covers_every_flag_of_the_parser() -> None:
    """The cells come from the parser itself (a sanity check that the derivation finds the flags)."""
    flags = value_flags()
    assert {"--hidden-dim", "--run-dir", "--iwae-k", "--train-only", "--graphics"} <= set(flags)
    assert {f for f, k in flags.items() if k == "path"} == {
        "--resume",
        "--checkpoint",
        "--watch",
        "--compare",
        "--export",
        "--data-dir",
        "--run-dir",
        "--host",  # (an address, as free text: its cells are tried as a path's)
    }
    assert all(cell[:2] in {(c, f) for c in CONTEXTS for f in flags} for cell in VALID)
