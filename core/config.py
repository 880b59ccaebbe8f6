"""The one training configuration: the reference design's numbers, each overridable by a flag.

Each field is declared once, here: its type (a choice is a `Literal`), its default, and in its
metadata a `Setting`: the flag's help, the `Bound` of its numbers (the same check refuses
`--epochs 0` and `TrainConfig(epochs=0)`), whether a resume may change it, and whether `--eval`
or browsing a checkpoint read it. tui/cli.py builds the training flags from these, and
core/resume.py its policy. `asdict(config)` is what goes into `config.json`, the checkpoint and
the SwanLab run, so every field is a plain JSON value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, get_args, get_origin, get_type_hints

from .bounds import NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, POSITIVE_INT, SEED, Bound
from .errors import InvalidConfigValue

KlAnneal = Literal["linear", "none", "warmup", "cyclical"]
Dataset = Literal["mnist", "fashion-mnist"]
Device = Literal["auto", "cpu", "cuda", "mps"]
SwanlabMode = Literal["offline", "cloud", "disabled"]
StepKind = Literal["fused", "autograd"]
Monitor = Literal["auto", "on", "off"]

EVAL_IWAE_K = 1000
"""Importance samples `--eval` uses for the -log p(x) bound (the literature's K)."""


def path_problem(value: Any) -> str | None:
    """What is wrong with `value` as a path, or None (an empty one would read as unset)."""
    if not isinstance(value, str):
        return "must be a path"
    return None if value else "the path is empty"


@dataclass(frozen=True)
class Setting:
    """What the CLI and a resume know of a field (its metadata, made by `meta`)."""

    help: str | None = None
    """The flag's help, a template: the CLI fills in `{default}` (and --kl-anneal's examples).
    None: no flag."""
    group: Literal["mode", "training", "data"] = "training"
    """Its section of `--help`."""
    metavar: str | None = None
    bound: Bound | None = None
    """A number's bound, checked by the flag and by `TrainConfig` alike."""
    path: bool = False
    """A path (the flag also checks that something could be at it)."""
    fixed_on_resume: int = 0
    """Not 0: a resume refuses to change it; the number orders the names in that refusal."""
    eval: bool = False
    """`--eval --checkpoint` reads it (any other training flag is refused there)."""
    browse: bool = False
    """Browsing a `--checkpoint` reads it."""


def meta(**setting: Any) -> dict[str, Setting]:
    """A field's metadata: `field(default=..., metadata=meta(help=..., bound=...))`."""
    return {"setting": Setting(**setting)}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a run computes (and where it writes); refuses a value its
    flag would refuse (`InvalidConfigValue`), so a test, a benchmark or a saved config is held
    to the CLI's checks."""

    epochs: int = field(
        default=50, metadata=meta(bound=POSITIVE_INT, help="passes over the data (default {default})")
    )
    batch_size: int = field(
        default=128,
        metadata=meta(bound=POSITIVE_INT, fixed_on_resume=6, help="images per step (default {default})"),
    )
    lr: float = field(
        default=1e-3,
        metadata=meta(bound=POSITIVE, fixed_on_resume=9, help="AdamW learning rate (default {default})"),
    )
    hidden_dim: int = field(
        default=256,
        metadata=meta(bound=POSITIVE_INT, fixed_on_resume=1, help="hidden layer width (default {default})"),
    )
    """Width of the encoder's and decoder's one hidden layer."""
    latent_dim: int = field(
        default=20,
        metadata=meta(bound=POSITIVE_INT, fixed_on_resume=2, help="latent dimensions (default {default})"),
    )
    """Dimensions of z."""
    input_dim: int = field(default=784, metadata=meta(bound=POSITIVE_INT, fixed_on_resume=3))
    """Pixels per image (28×28 for both datasets)."""
    kl_anneal: KlAnneal = field(
        default="linear",
        metadata=meta(
            fixed_on_resume=10,
            help="linear: epoch e of E trains at beta = beta_max * (e-1)/E, so 0 in the first epoch and "
            "beta_max * (E-1)/E in the last ({last_beta} * beta_max with {epochs} epochs, {last_beta_5} "
            "with 5): it never reaches beta_max; none: beta = beta_max in every epoch; warmup: rises linearly "
            "to beta_max over --kl-warmup-epochs, then stays; cyclical: --kl-cycles cycles, each rising over its "
            "first half, then at beta_max (Fu et al. 2019) (default {default})",
        ),
    )
    """The schedule of the KL weight β, as `schedules.kl_weight` computes it (epochs from 0 there)."""
    beta_max: float = field(
        default=1.0,
        metadata=meta(
            bound=NON_NEGATIVE,
            fixed_on_resume=11,
            help="scale of the KL weight: linear annealing rises towards it and stops one step short, none "
            "trains at it throughout; held-out numbers always use beta 1 (default {default})",
        ),
    )
    kl_warmup_epochs: int | None = field(
        default=None,
        metadata=meta(
            bound=POSITIVE_INT,
            fixed_on_resume=12,
            metavar="E",
            help="warmup: epochs over which beta rises to beta_max (default: a fifth of --epochs, at least 1)",
        ),
    )
    kl_cycles: int = field(
        default=4,
        metadata=meta(
            bound=POSITIVE_INT,
            fixed_on_resume=13,
            help="cyclical: cycles of beta in the run (default {default})",
        ),
    )
    step: StepKind = field(
        default="fused",
        metadata=meta(
            help="how a step computes its gradients: fused (default) derives them by hand in few kernels, "
            "~1.3x faster epochs on a CPU; autograd uses torch's autograd, as the reference does (same math)"
        ),
    )
    """core/step.py holds both; a resume may switch between them."""
    seed: int = field(
        default=0, metadata=meta(bound=SEED, fixed_on_resume=5, help="random seed (default {default})")
    )
    """Seeds the weights, the data order and the sampling noise."""
    device: Device = field(
        default="auto",
        metadata=meta(eval=True, help="auto picks cuda, then mps, then cpu (default {default})"),
    )
    dataset: Dataset = field(
        default="mnist",
        metadata=meta(
            group="data",
            fixed_on_resume=4,
            eval=True,
            browse=True,
            help="default {default} (bundled, works offline)",
        ),
    )
    data_dir: str | None = field(
        default=None,
        metadata=meta(
            group="data",
            path=True,
            metavar="DIR",
            eval=True,
            browse=True,
            help="folder with the four IDX files (default: per-user cache)",
        ),
    )
    """None: the per-user cache, filled from the bundled copy."""
    train_limit: int | None = field(
        default=None,
        metadata=meta(
            group="data",
            bound=POSITIVE_INT,
            metavar="N",
            fixed_on_resume=7,
            help="use the first N training images",
        ),
    )
    """For quick runs and tests; None: all of them."""
    test_limit: int | None = field(
        default=None,
        metadata=meta(
            group="data",
            bound=POSITIVE_INT,
            metavar="N",
            fixed_on_resume=8,
            eval=True,
            browse=True,
            help="use the first N test images",
        ),
    )
    """For the held-out metrics; None: all of them."""
    run_dir: str | None = field(
        default=None,
        metadata=meta(
            group="data", path=True, metavar="DIR", help="where to write the run (default runs/<timestamp>)"
        ),
    )
    """Where config, checkpoint, metrics, grids and SwanLab logs go; None: training claims a
    fresh runs/<timestamp> (core/runlock.py)."""
    swanlab: SwanlabMode = field(
        default="offline",
        metadata=meta(
            group="data", help="offline (default; no network), cloud (needs SWANLAB_API_KEY) or disabled"
        ),
    )
    swanlab_monitor: Monitor = field(
        default="auto",
        metadata=meta(
            group="data",
            help="SwanLab's hardware monitor (CPU, memory, GPU every 10 s): auto (default) turns it on for "
            "GPU runs only, as on a CPU its threads compete with training's",
        ),
    )
    iwae_k: int = field(
        default=100,
        metadata=meta(
            group="mode",
            bound=NON_NEGATIVE_INT,
            metavar="K",
            eval=True,
            help=f"importance samples for the -log p(x) bound (default: {EVAL_IWAE_K} with --eval, "
            "{default} at the end of training; 0 skips it)",
        ),
    )
    """Computed at the end of a run (and by `--eval`, with its own default)."""

    def __post_init__(self) -> None:
        for name in SETTINGS:
            value = getattr(self, name)
            if problem := value_problem(name, value):
                raise InvalidConfigValue(name, value, problem)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a saved dict, ignoring keys this version does not know (and raising
        `InvalidConfigValue` for a value no run could have saved)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)


SETTINGS: dict[str, Setting] = {f.name: f.metadata["setting"] for f in fields(TrainConfig)}
"""Each field's `Setting`, in the fields' order (the order of `--help` and of `config.json`)."""
_TYPES = get_type_hints(TrainConfig)


def choices(name: str) -> tuple[str, ...]:
    """The values of a `Literal` field (`()` for any other): the flag's choices and the check's."""
    kind = _TYPES[name]
    return get_args(kind) if get_origin(kind) is Literal else ()


def value_problem(name: str, value: Any) -> str | None:
    """What is wrong with `value` for the field `name`, or None."""
    if value is None and type(None) in get_args(_TYPES[name]):
        return None
    if options := choices(name):
        return None if value in options else f"must be one of {', '.join(options)}"
    setting = SETTINGS[name]
    if setting.bound is not None:
        return setting.bound.problem(value)
    return path_problem(value) if setting.path else None
