"""Check that a refactor changed nothing a user sees: the same run, before and after.

    .venv/bin/python scripts/same_behaviour.py REV      # e.g. the commit before the refactor

Runs one small fixed-seed training (2 epochs, then `--resume` for a third) with the working
tree and with git revision REV (checked out in a temporary worktree, imported through a shim
package so the editable install is not touched), and compares what each left behind:

- the lines `--train-only` printed, with times and speeds masked;
- `metrics.jsonl` and `batches.jsonl` without their timing fields;
- every value in `checkpoint.pt` (weights, optimizer state, torch's RNG states, position,
  config), tensors by their exact bytes; left out: the partial-epoch `seconds` (timing) and
  numpy's and Python's global RNG states, which no run seeds or uses (they differ per process);
- the epoch grids in `images/`, byte for byte.

Torch runs on one thread on both sides (OMP_NUM_THREADS=1): the thread choice is part of what
may change, and a float sum split over other threads can differ in its last bit.
Exit status 0 when everything matches; otherwise the first differences are printed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FLAGS = ["--train-only", "--swanlab", "disabled", "--seed", "7", "--train-limit", "1500",
         "--test-limit", "300", "--hidden-dim", "64", "--latent-dim", "6", "--iwae-k", "8",
         ]  # fmt: skip
TIMING_KEYS = {"seconds", "images_per_second", "time", "wall"}
UNSEEDED = ("/partial/seconds", "/rng/numpy", "/rng/python")
"""Timing, and the global RNGs no run seeds or draws from (saved so a resume restores them)."""
TIMES = re.compile(r"\d[\d,]*(?:\.\d+)? (s|img/s)\b")


def shim_for(rev: str, work: Path) -> Path:
    """A folder to put first on PYTHONPATH so `import vae_tui` is REV's code."""
    src = work / "src"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(src), rev], check=True)
    shim = work / "shim" / "vae_tui"
    shim.mkdir(parents=True)
    shutil.copy(src / "vae_tui" / "__init__.py", shim / "__init__.py")
    (shim / "core").symlink_to(src / "core")
    (shim / "tui").symlink_to(src / "tui")
    return shim.parent


def run(pythonpath: Path | None, where: Path, data_dir: Path) -> list[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NO_COLOR": "1", "HOME": str(where)}
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    lines: list[str] = []
    for extra in (["--run-dir", "run", "--epochs", "2"], ["--resume", "run", "--epochs", "3"]):
        flags = [*FLAGS, "--data-dir", str(data_dir), *extra]
        done = subprocess.run(
            [sys.executable, "-m", "vae_tui.tui", *flags],
            check=False,
            cwd=where,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            sys.exit(f"run failed ({done.returncode}) in {where}:\n{done.stderr}")
        lines += [TIMES.sub(r"<t> \1", line) for line in done.stdout.splitlines()]
    return lines


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Every leaf of a checkpoint as text: tensors by dtype, shape and the sha256 of their bytes."""
    import torch  # noqa: PLC0415

    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}/{k}"))
        return out
    if isinstance(value, (list, tuple)):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    if isinstance(value, torch.Tensor):
        data = value.detach().cpu().contiguous().reshape(-1)
        digest = hashlib.sha256(data.view(torch.uint8).numpy().tobytes()).hexdigest()
        return {prefix: f"{data.dtype} {tuple(data.shape)} {digest[:16]}"}
    return {prefix: repr(value)}


def fingerprint(where: Path, lines: list[str]) -> dict[str, Any]:
    import torch  # noqa: PLC0415

    run_dir = where / "run"
    rows = {}
    for name in ("metrics.jsonl", "batches.jsonl"):
        rows[name] = [
            {k: v for k, v in json.loads(line).items() if k not in TIMING_KEYS}
            for line in (run_dir / name).read_text().splitlines()
            if line.strip()
        ]
    data = torch.load(io.BytesIO((run_dir / "checkpoint.pt").read_bytes()), weights_only=True)
    checkpoint = {k: v for k, v in flatten(data).items() if not k.startswith(UNSEEDED)}
    images = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16]
        for p in sorted((run_dir / "images").glob("*"))
    }
    return {"printed": lines, **rows, "checkpoint": checkpoint, "images": images}


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}/{k}: only {'before' if k in a else 'after'}" for k in sorted(set(a) ^ set(b))]
        for k in sorted(set(a) & set(b)):
            out += differences(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        out = [f"{path}: {len(a)} items before, {len(b)} after"] if len(a) != len(b) else []
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            out += differences(x, y, f"{path}[{i}]")
        return out
    return [] if a == b else [f"{path}: before {a!r}, after {b!r}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rev", help="the git revision to compare the working tree with")
    args = parser.parse_args()
    data_dir = REPO / "core" / "mnist"
    with tempfile.TemporaryDirectory(prefix="same-behaviour-") as tmp:
        work = Path(tmp)
        try:
            before_dir, after_dir = work / "before", work / "after"
            before_dir.mkdir()
            after_dir.mkdir()
            before = fingerprint(before_dir, run(shim_for(args.rev, work / "rev"), before_dir, data_dir))
            after = fingerprint(after_dir, run(None, after_dir, data_dir))
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(work / "rev" / "src")],
                check=False,
                capture_output=True,
            )
    diff = differences(before, after)
    counts = ", ".join(f"{len(v)} {k}" for k, v in after.items())
    if diff:
        print(f"DIFFERENT from {args.rev} ({len(diff)} differences):", *diff[:40], sep="\n  ")
        return 1
    print(f"same as {args.rev}: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
