"""`--compare`: what 2 to 4 run folders say, side by side, read without torch.

Each folder gives its settings (`config.json`), its epoch rows and final evaluation
(`metrics.jsonl`) and whether a trainer holds it now (`runlock.trainer`, without taking the
lock). From those come the rows the comparison shows: the settings that differ (the others say
nothing about why the runs differ) and each run's final numbers. Runs written before a number
was logged (no `active_units` before issue 13, no IWAE bound when `--iwae-k 0`) show "–" there.
The viewer re-reads the folders every few seconds, so a run still training moves on.
"""

from __future__ import annotations

import json
import os
from dataclasses import MISSING as NO_DEFAULT
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .errors import VaeTuiError
from .metrics import FILE_NAME as METRICS_FILE
from .metrics import read_metrics
from .runinfo import CONFIG_FILE, final_results
from .runlock import trainer

MISSING = "–"
"""What a run that did not log a number shows in its place."""
IGNORED = frozenset({"run_dir"})
"""Settings that differ between any two runs and say nothing about them."""
METRICS = (
    ("test_loss", "held-out −ELBO"),
    ("test_bce", "held-out BCE"),
    ("test_kld", "held-out KLD"),
    ("active_units", "active units"),
)
"""The per-epoch curves compared (key of the epoch row, label): all held-out, at β = 1."""


class CompareError(VaeTuiError):
    """A folder given to --compare that is not a run (or not there)."""

    exit_code = 2


@dataclass(frozen=True)
class RunSummary:
    """One compared run as its folder says it is now."""

    path: Path
    name: str
    config: dict[str, Any]
    epochs: list[dict[str, Any]]
    """Its complete epoch rows, in order."""
    final: dict[str, Any] | None
    """The final evaluation of the model of its last epoch, if computed."""
    training: bool
    """A trainer holds its folder now."""

    @property
    def epochs_done(self) -> int:
        return int(self.epochs[-1]["epoch"]) if self.epochs else 0

    @property
    def planned(self) -> int | None:
        planned = self.config.get("epochs")
        return planned if isinstance(planned, int) else None

    def series(self, key: str) -> tuple[list[float], list[float]]:
        """(epochs, values) of one per-epoch number, leaving out rows that lack it."""
        points = [(float(r["epoch"]), float(r[key])) for r in self.epochs if _number(r.get(key))]
        return [p[0] for p in points], [p[1] for p in points]

    @property
    def state(self) -> str:
        if self.training:
            return "training"
        return "finished" if self.planned is not None and self.epochs_done >= self.planned else "stopped"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def read_config(path: Path) -> dict[str, Any] | None:
    """`config.json` as a dict; None when there is none; CompareError when it is not JSON."""
    try:
        data = json.loads((path / CONFIG_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise CompareError(f"cannot read {path / CONFIG_FILE}: {getattr(e, 'strerror', None) or e}") from None
    if not isinstance(data, dict):
        raise CompareError(f"{path / CONFIG_FILE} is not a run's config (not a JSON object)")
    return data


def read_run(path: str | os.PathLike[str], name: str = "") -> RunSummary:
    """What `path` holds now, or CompareError (one line) when it is not a run folder."""
    path = Path(path)
    if not path.exists():
        raise CompareError(f"{path}: no such run folder")
    if not path.is_dir():
        raise CompareError(f"{path} is not a run folder (a file); --compare takes run folders")
    config = read_config(path)
    if config is None and not (path / METRICS_FILE).exists():
        raise CompareError(f"{path} is not a run folder (no {CONFIG_FILE} and no {METRICS_FILE})")
    epochs = epoch_rows(path)
    done = int(epochs[-1]["epoch"]) if epochs else None
    return RunSummary(
        path, name or path.name, config or {}, epochs, final_results(path, done), trainer(path) is not None
    )


def epoch_rows(path: Path) -> list[dict[str, Any]]:
    """The complete epoch rows (with held-out numbers), one per epoch, the last written winning,
    in order. (Not `metrics.read_history`: the batch losses it also reads are not compared.)"""
    rows = {
        r["epoch"]: r
        for r in read_metrics(path / METRICS_FILE)
        if r.get("kind", "epoch") == "epoch" and isinstance(r.get("epoch"), int) and "test_loss" in r
    }
    return [rows[e] for e in sorted(rows)]


def short_names(paths: list[Path]) -> list[str]:
    """Each run's folder name, with as many parent folders as it takes to tell equal ones apart
    (`a/run`, `b/run`), and a number when even the whole paths are alike."""
    parts = [p.resolve().parts[1:] for p in paths]  # (without the root, "/")
    names = []
    for i, mine in enumerate(parts):
        depth = 1
        while depth < len(mine) and any(o[-depth:] == mine[-depth:] for j, o in enumerate(parts) if j != i):
            depth += 1
        names.append("/".join(mine[-depth:]))
    return [f"{n} #{names[:i].count(n) + 1}" if names.count(n) > 1 else n for i, n in enumerate(names)]


def read_runs(paths: list[str] | tuple[str, ...]) -> list[RunSummary]:
    """Every folder read (the first bad one raises), named for the screen."""
    folders = [Path(p) for p in paths]
    for i, folder in enumerate(folders):
        if any(folder.resolve() == other.resolve() for other in folders[:i]):
            raise CompareError(f"{folder} is given twice; --compare takes different run folders")
    return [read_run(p, name) for p, name in zip(folders, short_names(folders), strict=True)]


UNSET = {"train_limit": "all", "test_limit": "all", "kl_warmup_epochs": "auto", "data_dir": "cache"}
"""What a setting left at None means, where it means something (`TrainConfig` says)."""


def shown_value(value: Any, name: str = "") -> str:
    if value is None:
        return UNSET.get(name, MISSING)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def config_differences(runs: list[RunSummary]) -> list[tuple[str, list[str]]]:
    """(setting, each run's value) for the `TrainConfig` settings that differ, in their order.
    A setting a run's config lacks (written before it existed) counts as its default."""
    rows = []
    for f in fields(TrainConfig):
        if f.name in IGNORED:
            continue
        default = None if f.default is NO_DEFAULT else f.default
        values = [shown_value(run.config.get(f.name, default), f.name) for run in runs]
        if len(set(values)) > 1:
            rows.append((f.name, values))
    return rows


def final_numbers(run: RunSummary) -> dict[str, str]:
    """The run's numbers at its last epoch, as shown: held-out −ELBO, IWAE NLL, active units,
    epochs done of planned, and whether it is still training."""
    last = run.epochs[-1] if run.epochs else {}
    final = run.final or {}
    units = last.get("active_units", final.get("active_units"))
    latent = run.config.get("latent_dim")
    iwae = final.get("iwae_nll")
    return {
        "held-out −ELBO": f"{last['test_loss']:.2f}" if _number(last.get("test_loss")) else MISSING,
        "IWAE NLL": f"{iwae:.2f} (K={final.get('iwae_k', '?')})" if _number(iwae) else MISSING,
        "active units": (f"{units}/{latent}" if latent else str(units)) if _number(units) else MISSING,
        "epochs": f"{run.epochs_done}/{shown_value(run.planned)}",
        "state": run.state,
    }


def table_rows(runs: list[RunSummary]) -> tuple[list[tuple[str, list[str]]], list[tuple[str, list[str]]]]:
    """(the settings that differ, the final numbers): the comparison table's two parts."""
    finals = [final_numbers(run) for run in runs]
    return config_differences(runs), [(label, [f[label] for f in finals]) for label in finals[0]]


def last_epoch(runs: list[RunSummary]) -> int:
    """The latest epoch any run has logged (0 before the first ends)."""
    return max((run.epochs_done for run in runs), default=0)


def planned_epochs(runs: list[RunSummary]) -> int:
    """The longest run's planned epochs (or what is logged, if more or unknown)."""
    return max([last_epoch(runs)] + [run.planned or 0 for run in runs])
