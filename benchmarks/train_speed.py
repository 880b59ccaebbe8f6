"""Training speed, side by side in one process: a reference-style loop against ours.

Run by hand (`make bench`, or `.venv/bin/python benchmarks/train_speed.py --help`); pytest never
collects it. Each round times one epoch of every variant, in an order that rotates from round
to round, so a machine that gets busier or quieter affects all variants alike:

- `reference`: the textbook loop: torchvision `MNIST(transform=ToTensor())` through a
  `DataLoader(batch_size=128, shuffle=True)`, sigmoid + `F.binary_cross_entropy(sum)/N`,
  AdamW (non-fused), `loss.item()` every batch;
- `headless`: `vae_tui.core.run.TrainingRun`, the run wiring `--train-only` uses, with the
  standard consumers (SwanLab disabled, or offline in the `+swanlab` variants);
- `app`: the same loop inside the Textual app (`VaeApp.run_test`, headless driver), as the
  interactive `vae-tui` runs it.

`headless` runs at every `--threads` count (torch intra-op threads, set process-wide before
the variant starts); `--train-only` itself picks `core.run.threads_for(...)`: all free cores
without SwanLab, one fewer with it (2 and 1 on 2 cores). The app picks its own count the same
way (one core for the UI, one for SwanLab when on: 1 on 2 cores), read when the benchmark
starts, and is labelled with it. Epoch times of
ours come from their `EpochEnd` event: `train s` is the
training part (images / images_per_second), `epoch s` adds the per-epoch held-out evaluation
and preview images. The reference's `train s` is its epoch loop. Every variant trains the same
architecture (784-256-20) with the same seed in a round (seed = --seed + round), and its
held-out negative ELBO is measured with the same protocol (`evaluate.heldout_elbo`), so
accuracy is compared too.

Start-up is measured in fresh interpreters: `vae-tui --help` (wall time), and the app's first
frame against the moment torch has finished importing (see `probe_startup`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "benchmarks" / "results" / "train_speed.json"
TRAIN_SIZE = 60000


# -- memory ------------------------------------------------------------------------------------
class RssSampler:
    """Peak resident set size of this process while a variant runs (sampled every 50 ms)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE")

    def current(self) -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * self._page
        except OSError:
            return 0

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.current())

    def __enter__(self) -> RssSampler:
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def max_rss_bytes() -> int:
    """ru_maxrss of this process so far (kilobytes on Linux, bytes on macOS)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


# -- data --------------------------------------------------------------------------------------
def prepare_mnist(root: Path) -> Path:
    """Decompress the bundled MNIST into root/MNIST/raw, where torchvision reads it offline."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for gz in sorted((REPO / "core" / "mnist").glob("*.gz")):
        target = raw / gz.name[: -len(".gz")]
        if not target.exists():
            with gzip.open(gz, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return root


# -- the variants ------------------------------------------------------------------------------
@dataclass
class Settings:
    data_root: Path
    work: Path
    train_limit: int | None
    test_limit: int | None
    epochs: int
    kl_anneal: str
    timeout: float


@dataclass
class Variant:
    kind: str  # reference | headless | app
    threads: int | None  # None: torch's default, untouched
    swanlab: str = "disabled"

    @property
    def name(self) -> str:
        base = self.kind + ("+swanlab" if self.swanlab != "disabled" else "")
        return f"{base}@{self.threads if self.threads is not None else 'default'}"


@dataclass
class Measurement:
    variant: str
    round: int
    seed: int
    train_seconds: float
    epoch_seconds: float | None
    images_per_second: float
    wall_seconds: float
    test_loss: float
    test_loss_stderr: float
    peak_rss_mb: float
    extra: dict[str, Any] = field(default_factory=dict)


def run_reference(s: Settings, seed: int, beta: float) -> dict[str, Any]:
    """The textbook loop, written as the reference notebook writes it."""
    import torch
    import torchvision
    from torch import nn
    from torch.nn import functional as F
    from torchvision import transforms

    from vae_tui.core.data import load_split, resolve_dataset_dir
    from vae_tui.core.evaluate import heldout_elbo
    from vae_tui.core.model import VAE

    class ReferenceVAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(784, 256)
            self.fc_mu = nn.Linear(256, 20)
            self.fc_logvar = nn.Linear(256, 20)
            self.fc2 = nn.Linear(20, 256)
            self.fc3 = nn.Linear(256, 784)

        def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h = F.relu(self.fc1(x))
            return self.fc_mu(h), self.fc_logvar(h)

        def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
            std = torch.exp(0.5 * logvar)
            return mu + torch.randn_like(std) * std

        def decode(self, z: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.fc3(F.relu(self.fc2(z))))

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            mu, logvar = self.encode(x.view(-1, 784))
            return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    wall = time.perf_counter()
    dataset = torchvision.datasets.MNIST(
        root=str(s.data_root), train=True, download=False, transform=transforms.ToTensor()
    )
    if s.train_limit is not None:
        dataset = torch.utils.data.Subset(dataset, range(min(s.train_limit, len(dataset))))
    torch.manual_seed(seed)
    model = ReferenceVAE()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=True)
    epoch_times = []
    images = 0
    for _ in range(s.epochs):
        model.train()
        start = time.perf_counter()
        images = 0
        total = 0.0
        for x, _labels in loader:
            recon, mu, logvar = model(x)
            n = x.shape[0]
            bce = F.binary_cross_entropy(recon, x.view(-1, 784), reduction="sum") / n
            kld = (-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)).mean()
            loss = bce + beta * kld
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * n
            images += n
        epoch_times.append(time.perf_counter() - start)
    wall = time.perf_counter() - wall
    # Held-out quality with our protocol (same layer names, so the weights load as they are).
    ours = VAE()
    ours.load_state_dict(model.state_dict())
    ours.eval()
    test = load_split(resolve_dataset_dir("mnist", s.data_root), "test", s.test_limit)
    held = heldout_elbo(ours, test.images)
    return {
        "train_seconds": epoch_times[-1],
        "epoch_seconds": None,
        "images_per_second": images / epoch_times[-1],
        "wall_seconds": wall,
        "test_loss": held["loss"],
        "test_loss_stderr": held["stderr"],
        "extra": {"train_loss": total / max(1, images), "epoch_seconds_all": epoch_times},
    }


def our_config(s: Settings, seed: int, swanlab: str, run_dir: Path) -> Any:
    from vae_tui.core.config import TrainConfig

    return TrainConfig(
        epochs=s.epochs,
        seed=seed,
        kl_anneal=s.kl_anneal,
        swanlab=swanlab,
        iwae_k=0,
        device="cpu",
        data_dir=str(s.data_root),
        train_limit=s.train_limit,
        test_limit=s.test_limit,
        run_dir=str(run_dir),
    )


def from_epoch_rows(rows: list[dict[str, Any]], wall: float, train_size: int) -> dict[str, Any]:
    last = rows[-1]
    ips = last["images_per_second"]
    return {
        "train_seconds": train_size / ips,
        "epoch_seconds": last["seconds"],
        "images_per_second": ips,
        "wall_seconds": wall,
        "test_loss": last["test_loss"],
        "test_loss_stderr": last["test_loss_stderr"],
        "extra": {"train_loss": last["loss"], "epoch_seconds_all": [r["seconds"] for r in rows]},
    }


def run_headless(s: Settings, seed: int, swanlab: str, run_dir: Path) -> dict[str, Any]:
    """Our loop through the one run wiring `--train-only` uses (minus its printer), at the thread
    count this variant has set."""
    import torch

    from vae_tui.core.events import EpochEnd, RunStarted
    from vae_tui.core.run import RunPlan, TrainingRun

    run = TrainingRun(RunPlan(our_config(s, seed, swanlab, run_dir)), threads=torch.get_num_threads())
    rows: list[dict[str, Any]] = []
    train_size = TRAIN_SIZE

    class Collect:
        def handle(self, event: Any) -> None:
            nonlocal train_size
            if isinstance(event, RunStarted):
                train_size = event.train_size
            elif isinstance(event, EpochEnd):
                rows.append(event.metrics())

        def close(self, state: str) -> None:
            pass

    wall = time.perf_counter()
    run.drive(before=[Collect()])
    return from_epoch_rows(rows, time.perf_counter() - wall, train_size)


def run_app(s: Settings, seed: int, swanlab: str, run_dir: Path) -> dict[str, Any]:
    """Our loop inside the Textual app (headless driver, 200×50), until the run finishes."""
    from vae_tui.tui.app import make_app
    from vae_tui.tui.cli import parse_request

    flags = ["--epochs", str(s.epochs), "--seed", str(seed), "--kl-anneal", s.kl_anneal]
    flags += ["--swanlab", swanlab, "--iwae-k", "0", "--device", "cpu", "--run-dir", str(run_dir)]
    flags += ["--data-dir", str(s.data_root)]
    if s.train_limit is not None:
        flags += ["--train-limit", str(s.train_limit)]
    if s.test_limit is not None:
        flags += ["--test-limit", str(s.test_limit)]
    app = make_app(parse_request(flags))

    wall = 0.0

    async def drive_app() -> None:
        nonlocal wall
        start = time.perf_counter()
        async with app.run_test(size=(200, 50)):
            deadline = time.perf_counter() + s.timeout
            # Plain sleeps, not `pilot.pause`: that walks every widget and forces a screen
            # update each call, work the real app never does.
            while app.status.phase not in ("finished", "stopped") or app.training_active:
                if time.perf_counter() > deadline:
                    app.control.request_stop()
                    raise TimeoutError(f"the app did not finish within {s.timeout:.0f} s")
                await asyncio.sleep(0.1)
            wall = time.perf_counter() - start

    teardown_error = None
    try:
        asyncio.run(drive_app())
    except Exception as e:
        if len(app.history.epochs) < s.epochs or not wall:
            raise
        teardown_error = f"{type(e).__name__}: {e}"
        print(f"  (the app raised while closing: {teardown_error})", file=sys.stderr)
    if len(app.history.epochs) < s.epochs:
        raise RuntimeError(f"the app stopped early: {app.status.phase} {app.status.message}")
    train_size = s.train_limit or TRAIN_SIZE
    result = from_epoch_rows(app.history.epochs, wall, min(train_size, TRAIN_SIZE))
    if teardown_error:
        result["extra"]["teardown_error"] = teardown_error
    return result


def measure(variant: Variant, s: Settings, round_index: int, seed: int) -> Measurement:
    import torch

    from vae_tui.core.config import TrainConfig, kl_weight

    default_threads = torch.get_num_threads()
    if variant.threads is not None:
        torch.set_num_threads(variant.threads)
    run_dir = Path(tempfile.mkdtemp(prefix=f"{variant.kind}-", dir=s.work))
    load_before = os.getloadavg()[0]
    try:
        with RssSampler() as rss:
            if variant.kind == "reference":
                beta = kl_weight(0, TrainConfig(epochs=s.epochs, kl_anneal=s.kl_anneal))
                if s.epochs != 1:
                    raise SystemExit("--epochs > 1 is not supported by the reference variant's β schedule")
                result = run_reference(s, seed, beta)
            elif variant.kind == "headless":
                result = run_headless(s, seed, variant.swanlab, run_dir)
            else:
                result = run_app(s, seed, variant.swanlab, run_dir)
    finally:
        torch.set_num_threads(default_threads)
        shutil.rmtree(run_dir, ignore_errors=True)
    # The 1-minute load average around the variant: other processes on the machine show here.
    result["extra"]["loadavg_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return Measurement(
        variant=variant.name, round=round_index, seed=seed, peak_rss_mb=rss.peak / 2**20, **result
    )


# -- start-up ----------------------------------------------------------------------------------
def help_times(runs: int) -> dict[str, Any]:
    """Wall time of `vae-tui --help` (the installed script), fresh process each time."""
    script = Path(sys.executable).with_name("vae-tui")
    command = [str(script), "--help"] if script.exists() else [sys.executable, "-m", "vae_tui.tui", "--help"]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    python = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        python.append(time.perf_counter() - start)
    torch_import = []
    for _ in range(max(1, runs // 2)):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        torch_import.append(time.perf_counter() - start)
    return {
        "command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(command)),
        "help_seconds": times,
        "help_median": statistics.median(times),
        "python_bare_median": statistics.median(python),
        "python_import_torch_median": statistics.median(torch_import),
    }


def probe_startup(data_root: str, run_dir: str) -> dict[str, Any]:
    """Runs in a fresh interpreter (`--probe-startup`): when does the app show its first frame,
    and when has the training worker finished importing torch?

    All times are seconds from the probe's start (before `vae_tui.tui.app` is imported; the
    interpreter's own start-up, ~`python_bare_median`, comes before that). `first_frame` is the
    first compositor update handed to Textual's driver (`App._display`; the headless driver of
    `run_test` then discards it, a real terminal would write it), `mounted` is the app's
    `on_mount`. `torch_imported` is when `sys.modules['torch']` exists and is no longer
    initialising (polled every 2 ms from another thread), `run_started` when the app has handled
    the RunStarted event (its status shows the device).
    """
    t0 = time.perf_counter()
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        marks.setdefault(name, time.perf_counter() - t0)

    stop = threading.Event()

    def watch_torch() -> None:
        while not stop.is_set():
            module = sys.modules.get("torch")
            if module is not None:
                mark("torch_import_began")
                spec = getattr(module, "__spec__", None)
                if spec is not None and not getattr(spec, "_initializing", False):
                    mark("torch_imported")
                    return
            time.sleep(0.002)

    assert "torch" not in sys.modules
    watcher = threading.Thread(target=watch_torch, daemon=True)
    watcher.start()
    from vae_tui.tui.app import VaeApp
    from vae_tui.tui.cli import parse_request

    mark("app_module_imported")

    class ProbeApp(VaeApp):
        CSS_PATH = str(Path(sys.modules[VaeApp.__module__].__file__).with_name(VaeApp.CSS_PATH))

        def _display(self, screen: Any, renderable: Any) -> None:
            if renderable is not None:
                mark("first_frame")
            super()._display(screen, renderable)

        def on_mount(self) -> None:
            mark("mounted")
            super().on_mount()

    flags = ["--epochs", "1", "--train-limit", "1024", "--test-limit", "256", "--iwae-k", "0"]
    flags += ["--swanlab", "disabled", "--device", "cpu", "--data-dir", data_root, "--run-dir", run_dir]
    app = ProbeApp(parse_request(flags))
    torch_at_first_frame: list[bool] = []

    async def run() -> None:
        async with app.run_test(size=(200, 50)) as pilot:
            deadline = time.perf_counter() + 120
            while app.status.device == "…" and time.perf_counter() < deadline:
                if "first_frame" in marks and not torch_at_first_frame:
                    torch_at_first_frame.append("torch_imported" in marks)
                await pilot.pause(0.01)
            mark("run_started")
            app.control.request_stop()
            while app.training_active and time.perf_counter() < deadline:
                await pilot.pause(0.05)

    error = None
    try:
        asyncio.run(run())
    except Exception as e:
        if "run_started" not in marks:
            raise
        error = f"{type(e).__name__}: {e}"  # raised while the app closed, after the measurement
    stop.set()
    result: dict[str, Any] = {"marks": dict(sorted(marks.items(), key=lambda kv: kv[1]))}
    if error:
        result["teardown_error"] = error
    return result


def startup_probes(runs: int, data_root: Path, work: Path) -> dict[str, Any]:
    results = []
    failures = []
    for i in range(runs):
        run_dir = work / f"probe-{i}"
        out = subprocess.run(
            [sys.executable, __file__, "--probe-startup", str(data_root), str(run_dir)],
            check=False,
            capture_output=True,
            text=True,
        )
        shutil.rmtree(run_dir, ignore_errors=True)
        if out.returncode != 0:
            tail = " | ".join(out.stderr.strip().splitlines()[-3:])
            failures.append(f"exit {out.returncode}: {tail}")
            print(f"  start-up probe {i + 1} failed: {tail}", file=sys.stderr)
            continue
        probe = json.loads(out.stdout.strip().splitlines()[-1])
        if "teardown_error" in probe:
            failures.append(f"after the measurement: {probe['teardown_error']}")
        results.append(probe["marks"])
    if not results:
        return {"runs": [], "failures": failures}
    keys = sorted(
        {k for r in results for k in r}, key=lambda k: statistics.median(r.get(k, 0) for r in results)
    )
    medians = {k: statistics.median(r[k] for r in results if k in r) for k in keys}
    before = sum(1 for r in results if r.get("first_frame", 1e9) < r.get("torch_imported", 0))
    return {
        "runs": results,
        "median": medians,
        "first_frame_before_torch_imported": f"{before}/{len(results)}",
        "failures": failures,
    }


# -- report ------------------------------------------------------------------------------------
def summarise(measurements: list[Measurement]) -> dict[str, dict[str, Any]]:
    by: dict[str, list[Measurement]] = {}
    for m in measurements:
        by.setdefault(m.variant, []).append(m)
    out = {}
    for name, ms in by.items():
        train = [m.train_seconds for m in ms]
        epoch = [m.epoch_seconds for m in ms if m.epoch_seconds is not None]
        out[name] = {
            "train_seconds_min": min(train),
            "train_seconds_median": statistics.median(train),
            "epoch_seconds_min": min(epoch) if epoch else None,
            "epoch_seconds_median": statistics.median(epoch) if epoch else None,
            "images_per_second_median": statistics.median(m.images_per_second for m in ms),
            "wall_seconds_median": statistics.median(m.wall_seconds for m in ms),
            "test_loss_mean": statistics.fmean(m.test_loss for m in ms),
            "test_loss_by_seed": {m.seed: round(m.test_loss, 4) for m in ms},
            "test_loss_stderr": statistics.fmean(m.test_loss_stderr for m in ms),
            "peak_rss_mb": max(m.peak_rss_mb for m in ms),
        }
    return out


def paired_ratio(measurements: list[Measurement], num: str, den: str, key: str) -> dict[str, float] | None:
    """Per-round ratio num/den of `key` (the two ran minutes apart at most): min and median."""
    a = {m.round: getattr(m, key) for m in measurements if m.variant == num}
    b = {m.round: getattr(m, key) for m in measurements if m.variant == den}
    ratios = [a[r] / b[r] for r in sorted(a) if b.get(r)]
    if not ratios:
        return None
    return {"min": min(ratios), "median": statistics.median(ratios), "max": max(ratios)}


def ratios(measurements: list[Measurement], variants: list[Variant]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    refs = [v.name for v in variants if v.kind == "reference"]
    for ref in refs:
        for v in variants:
            if v.kind == "reference":
                continue
            r = paired_ratio(measurements, ref, v.name, "train_seconds")
            if r:
                out[f"{ref} / {v.name} (train seconds)"] = r
            if v.kind == "headless":
                # Conservative: ours including its per-epoch held-out evaluation, the reference not.
                a = {m.round: m.train_seconds for m in measurements if m.variant == ref}
                b = {m.round: m.epoch_seconds for m in measurements if m.variant == v.name}
                rs = [a[k] / b[k] for k in a if b.get(k)]
                if rs:
                    out[f"{ref} / {v.name} (ours with held-out eval)"] = {
                        "min": min(rs), "median": statistics.median(rs), "max": max(rs)
                    }  # fmt: skip
    for v in variants:
        if v.kind != "app":
            continue
        # The app against --train-only at every thread count: the same count, and the app with
        # fewer threads (a core left to its UI) against --train-only at torch's default.
        for h in variants:
            if h.kind == "headless" and h.swanlab == v.swanlab:
                same = h.threads == v.threads
                if same or (v.threads or 0) < (h.threads or 0):
                    r = paired_ratio(measurements, v.name, h.name, "images_per_second")
                    if r:
                        out[f"{v.name} / {h.name} (images per second)"] = r
    by_threads: dict[tuple[str, str], list[Variant]] = {}
    for v in variants:
        if v.kind != "reference":
            by_threads.setdefault((v.kind, v.swanlab), []).append(v)
    for group in by_threads.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                r = paired_ratio(measurements, a.name, b.name, "images_per_second")
                if r:
                    out[f"{a.name} / {b.name} (images per second)"] = r
    return out


def print_table(summary: dict[str, dict[str, Any]], ratio: dict[str, Any], startup: dict[str, Any]) -> None:
    head = (
        f"{'variant':<26}{'train s min':>12}{'train s med':>12}{'epoch s med':>12}"
        f"{'img/s med':>11}{'wall s med':>11}{'test -ELBO':>11}{'peak RSS MB':>12}"
    )
    print(head)
    print("-" * len(head))
    for name, r in summary.items():
        epoch = f"{r['epoch_seconds_median']:.2f}" if r["epoch_seconds_median"] is not None else "–"
        print(
            f"{name:<26}{r['train_seconds_min']:>12.2f}{r['train_seconds_median']:>12.2f}{epoch:>12}"
            f"{r['images_per_second_median']:>11,.0f}{r['wall_seconds_median']:>11.2f}"
            f"{r['test_loss_mean']:>11.2f}{r['peak_rss_mb']:>12.0f}"
        )
    print()
    print("ratios, paired by round (min / median / max; the JSON has the reference against every variant):")
    for name, r in ratio.items():
        if name.startswith("reference") and "+swanlab" in name:
            continue
        print(f"  {name:<70} {r['min']:.2f} / {r['median']:.2f} / {r['max']:.2f}")
    print()
    print("held-out -ELBO by seed (same seed, same epochs; stderr of each estimate ≈ "
          f"{statistics.fmean(r['test_loss_stderr'] for r in summary.values()):.2f}):")  # fmt: skip
    for name, r in summary.items():
        seeds = ", ".join(f"{k}: {v:.2f}" for k, v in r["test_loss_by_seed"].items())
        print(f"  {name:<26} {seeds}")
    if startup:
        print()
        h = startup.get("help")
        if h:
            print(
                f"`{h['command']}`: median {h['help_median']:.3f} s over {len(h['help_seconds'])} runs "
                f"(bare python {h['python_bare_median']:.3f} s, python -c 'import torch' "
                f"{h['python_import_torch_median']:.3f} s)"
            )
        p = startup.get("app")
        for failure in (p or {}).get("failures", []):
            print(f"app start-up probe problem: {failure}")
        if p and p.get("median"):
            marks = ", ".join(f"{k} {v:.3f}" for k, v in p["median"].items())
            print(f"app start-up, median seconds from probe start: {marks}")
            print(f"first frame before torch finished importing: {p['first_frame_before_torch_imported']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--train-limit", type=int, default=None, help="first N training images (default all)")
    p.add_argument("--test-limit", type=int, default=None, help="first N test images (default all)")
    p.add_argument("--seed", type=int, default=0, help="round r uses seed + r (default 0)")
    p.add_argument(
        "--kl-anneal",
        choices=("none", "linear"),
        default="none",
        help="none (default): β = 1, so the held-out -ELBO is meaningful after one epoch; "
        "linear: β = 0 in a 1-epoch run, as the reference's first epoch",
    )
    p.add_argument(
        "--threads",
        default=f"{os.cpu_count() or 1},1",
        help="torch thread counts to run ours at, comma-separated (default: cores,1)",
    )
    p.add_argument("--swanlab", default="disabled,offline", help="SwanLab modes for ours (default both)")
    p.add_argument("--kinds", default="reference,headless,app", help="which loops to run")
    p.add_argument(
        "--ref-threads",
        default="default",
        help="torch thread counts for the reference, comma-separated; default: torch's own (all cores)",
    )
    p.add_argument("--startup-runs", type=int, default=5, help="fresh processes per start-up number")
    p.add_argument("--skip-startup", action="store_true")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds before an app variant gives up")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results (default {DEFAULT_OUT})")
    p.add_argument("--probe-startup", nargs=2, metavar=("DATA_ROOT", "RUN_DIR"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.epochs = 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.probe_startup:
        print(json.dumps(probe_startup(*args.probe_startup)))
        return 0

    work = Path(tempfile.mkdtemp(prefix="vae-tui-bench-"))
    try:
        data_root = prepare_mnist(work / "data")
        startup: dict[str, Any] = {}
        if not args.skip_startup:
            print("start-up: vae-tui --help, and the app's first frame in fresh processes…", flush=True)
            startup["help"] = help_times(args.startup_runs)
            startup["app"] = startup_probes(args.startup_runs, data_root, work)

        import torch

        os.environ.setdefault("VAE_TUI_NO_DOWNLOAD", "1")
        kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
        threads = [int(t) for t in args.threads.split(",") if t.strip()]
        modes = [m.strip() for m in args.swanlab.split(",") if m.strip()]
        variants: list[Variant] = []
        if "reference" in kinds:
            for t in args.ref_threads.split(","):
                variants.append(Variant("reference", None if t.strip() == "default" else int(t)))
        from vae_tui.core.config import TrainConfig
        from vae_tui.core.run import APP_UI_THREADS, threads_for

        for mode in modes:
            if "headless" in kinds:
                variants += [Variant("headless", t, mode) for t in threads]
            if "app" in kinds:  # the app picks its own thread count (core/run.py): label it with that
                app_threads = threads_for(TrainConfig(swanlab=mode), APP_UI_THREADS)
                variants.append(Variant("app", app_threads, mode))
        settings = Settings(
            data_root, work, args.train_limit, args.test_limit, args.epochs, args.kl_anneal, args.timeout
        )
        print(
            f"{len(variants)} variants × {args.rounds} rounds, torch {torch.__version__}, "
            f"{os.cpu_count()} cores, default threads {torch.get_num_threads()}",
            flush=True,
        )
        # Load everything once before timing (imports, SwanLab, Textual), untimed.
        with contextlib.redirect_stdout(sys.stderr):
            import swanlab  # noqa: F401

            from vae_tui.tui import app  # noqa: F401
        measurements: list[Measurement] = []
        for r in range(args.rounds):
            shift = r % len(variants)
            order = variants[shift:] + variants[:shift]
            if r % 2:
                order.reverse()
            for v in order:
                m = measure(v, settings, r, args.seed + r)
                measurements.append(m)
                print(
                    f"round {r + 1}/{args.rounds} {m.variant:<26} train {m.train_seconds:6.2f} s  "
                    f"{m.images_per_second:9,.0f} img/s  wall {m.wall_seconds:6.2f} s  "
                    f"test -ELBO {m.test_loss:.2f}  load {m.extra['loadavg_1min'][1]:.2f}",
                    flush=True,
                )
        summary = summarise(measurements)
        ratio = ratios(measurements, variants)
        print()
        print_table(summary, ratio, startup)
        result = {
            "machine": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "cores": os.cpu_count(),
                "platform": platform.platform(),
                "processor": platform.processor() or platform.machine(),
                "torch_default_threads": torch.get_num_threads(),
            },
            "settings": {
                "rounds": args.rounds,
                "train_limit": args.train_limit,
                "test_limit": args.test_limit,
                "batch_size": 128,
                "architecture": "784-256-20",
                "kl_anneal": args.kl_anneal,
                "seeds": [args.seed + r for r in range(args.rounds)],
            },
            "summary": summary,
            "ratios": ratio,
            "startup": startup,
            "measurements": [m.__dict__ for m in measurements],
            "peak_rss_mb_process": max_rss_bytes() / 2**20,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwritten to {args.out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
