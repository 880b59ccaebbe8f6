"""What the user asked for, parsed and checked: the one input of every front end.

The CLI builds a `Request` from its flags (`cli.parse_request`); the tests, the snapshot module
and the benchmark build the same thing, so no front end reads an `argparse.Namespace` or asks
which flags happen to be set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from vae_tui.core.config import TrainConfig

from .serve_flags import Serve


@dataclass(frozen=True)
class Request:
    overrides: dict[str, Any] = field(default_factory=dict)
    """The training fields (`TrainConfig`'s) the user set, and only those: a resume keeps the
    saved value of every other one."""
    resume: str | None = None
    """`--resume RUN_DIR`."""
    checkpoint: str | None = None
    """`--checkpoint PATH`: browse (or with `evaluate`, score) a trained model."""
    graphics: str | None = None
    """`--graphics`, when given (the app then draws with it; default half-block)."""
    evaluate: bool = False
    binarize: bool = False
    json: bool = False
    train_only: bool = False
    watch: str | None = None
    """`--watch RUN_DIR`: follow (and steer) a run another process trains."""
    compare: tuple[str, ...] = ()
    """`--compare RUN_A RUN_B [...]`: 2 to 4 run folders side by side."""
    export: str | None = None
    """`--export PATH`: write a run folder's (or a state_dict's) GIFs and PNGs, no screen."""
    serve: Serve | None = None
    """`--serve`: this process serves the app to browsers (and starts the trainer, if it trains)."""

    @property
    def browsing(self) -> bool:
        """The app opens a saved model instead of training."""
        return self.checkpoint is not None

    @property
    def trains(self) -> bool:
        """This process trains (a new run or a resumed one): not browsing, watching, comparing
        or exporting."""
        return not (self.checkpoint or self.watch or self.compare or self.export)

    @cached_property
    def config(self) -> TrainConfig:
        """The defaults with the user's settings: what a new run trains. (A resume starts from
        the saved config instead; browsing and --eval from the model's, where `given` says no.)"""
        return TrainConfig(**self.overrides)

    def given(self, name: str) -> bool:
        """Whether the user set the training field `name` on the command line."""
        return name in self.overrides
