"""Keeping SwanLab's work off training's cores: when it imports, where its threads run, which
of its probes run.

On 2 cores torch trains on both, and its threads wait for each other after every op: any other
thread that takes a core for a moment stalls them all. SwanLab offline once cost the default run
half its speed this way (it then trained on one thread to leave SwanLab a core).
"""

from __future__ import annotations

import contextlib
import os


def preload() -> None:
    """Import swanlab now, before the run imports torch and starts training.

    The import takes ~0.3 s of CPU. Left to the tracker's thread as the run starts, it landed in
    the first epoch, where any busy thread beside torch's slows every op (core/threads.py). On a
    side thread during torch's import the two imports mostly take turns holding the GIL: both
    were done after 2.29 s, against 1.99 s one after the other (benchmarks/startup_probe.py,
    medians of 5). An error is left for the tracker's own import to report."""
    with contextlib.suppress(BaseException):
        import swanlab  # noqa: F401, PLC0415


def run_when_idle() -> None:
    """Let the calling thread, and the threads it starts (SwanLab's own), run only on cores
    that would otherwise idle (Linux's SCHED_IDLE; elsewhere nothing changes).

    Torch's threads wait for each other after every op, so a tracker thread that takes a core
    from one of them for a moment stalls them all. Measured on 2 cores (make bench, 4 rounds,
    SwanLab's probes off; two runs each): the default run trained at 0.89× and 0.91× the speed of
    `--swanlab disabled` at normal priority, 0.80× and 0.94× with SCHED_BATCH, 1.03× and 1.02× with
    SCHED_IDLE. What SwanLab writes then waits for an idle moment, at the latest the end of the
    run (closing waits up to `tracking.CLOSE_TIMEOUT`). `idle_only` says when this is safe."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def idle_only(device: str, cores_were_free: bool) -> bool:
    """Whether SwanLab's threads should run only on idle cores (`run_when_idle`): for a CPU run
    that found every core free, so torch trains on all of them.

    Not otherwise, because those threads run Python: one that is preempted while it holds the
    GIL waits for an idle core before it lets go, and the training thread and the app's UI wait
    with it. With every core torch's, that core comes at once (the training thread blocks on the
    GIL, freeing its own); with another process keeping cores busy, it may not come for a second
    (measured: 1.4 s stalls beside a busy loop). A GPU run leaves CPU cores to spare anyway.
    A process that starts keeping cores busy during a run can still cause such stalls."""
    return cores_were_free and device == "cpu"


def probes_on(setting: str, device: str) -> bool:
    """Whether SwanLab's system probes run: its hardware monitor (a sample every 10 s) and its
    snapshot of the environment at start (pip requirements, git). `auto`: on GPU runs only.

    On a CPU they cost more than they tell: the snapshot runs as the first epoch starts, and the
    monitor samples during training, and any busy thread beside torch's slows every op
    (core/threads.py). Measured on 2 cores when issue 12 was filed, a loop logging every batch:
    1.84 s per epoch with the monitor off, 2.61–2.85 s with it on, 1.88 s without SwanLab. A GPU
    run leaves its CPU cores mostly idle, and there GPU utilisation and memory are worth charting."""
    if setting == "auto":
        return device.startswith(("cuda", "mps"))
    return setting == "on"
