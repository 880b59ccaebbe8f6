"""What the user asked for, parsed and checked: the one input of every front end.

The CLI builds a `Request` from its flags (`cli.parse_request`); the tests, the snapshot module
and the benchmark build the same thing, so no front end reads an `argparse.Namespace` or asks
which flags happen to be set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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

    @property
    def browsing(self) -> bool:
        """The app opens a saved model instead of training."""
        return self.checkpoint is not None

    def get(self, name: str, default: Any = None) -> Any:
        """A training field the user set, else `default`."""
        return self.overrides.get(name, default)
