"""The path to the first batch stays short: nothing on it imports torch._dynamo (~900 modules,
over a second) and the busy-core look can start before torch loads. (Its timings live in
benchmarks/startup_probe.py; the optimizer that avoids dynamo is tested in test_optimizer.py.)"""

from __future__ import annotations

import subprocess
import sys


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_training_never_imports_dynamo(tiny_config) -> None:
    """torch._dynamo costs over a second of CPU to import; torch's optimizers import it on first
    use. A whole run (start, batches, held-out pass, checkpoints, the final bound) must not."""
    config = tiny_config.with_(epochs=1, iwae_k=5, swanlab="disabled")
    code = (
        "import sys\n"
        "from vae_tui.core.config import TrainConfig\n"
        "from vae_tui.core.events import BatchEnd, RunFinished\n"
        "from vae_tui.core.run import RunPlan, TrainingRun\n"
        f"run = TrainingRun(RunPlan(TrainConfig(**{config.to_dict()!r})))\n"
        "seen = []\n"
        "class Watch:\n"
        "    def handle(self, event):\n"
        "        if isinstance(event, (BatchEnd, RunFinished)):\n"
        "            seen.append((type(event).__name__, 'torch._dynamo' in sys.modules))\n"
        "    def close(self, state):\n"
        "        pass\n"
        "run.drive(after=[Watch()])\n"
        "print(seen[0], seen[-1])\n"
    )
    assert run_python(code) == "('BatchEnd', False) ('RunFinished', False)"


def test_the_thread_choice_loads_no_torch() -> None:
    """So a run can start its busy-core look (0.25 s) before torch's import, not after it."""
    code = "import sys\nfrom vae_tui.core.threads import BusyCores\nprint('torch' in sys.modules)\n"
    assert run_python(code) == "False"
