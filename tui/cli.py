"""The `vae-tui` command: parse flags first (fast `--help`, no torch), then pick a front end.

Without a terminal on stdin and stderr (nohup, a pipe, `ssh host vae-tui` without -t, CI) the app
cannot draw, so the mode is decided here, before any App exists, and such runs go headless.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from vae_tui import __version__
from vae_tui.core.config import (
    DATASET_CHOICES,
    DEVICE_CHOICES,
    EVAL_IWAE_K,
    KL_ANNEAL_CHOICES,
    SWANLAB_CHOICES,
    TrainConfig,
    kl_weight,
)

from .graphics import GRAPHICS_CHOICES
from .request import Request

PROG = "vae-tui"
DEFAULTS = TrainConfig()


def _number(kind: Callable[[str], Any], minimum: float, inclusive: bool) -> Callable[[str], Any]:
    word = "≥" if inclusive else ">"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a{'n integer' if kind is int else ' number'}"
            ) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if value < minimum or (value == minimum and not inclusive):
            raise argparse.ArgumentTypeError(f"must be {word} {minimum:g}, got {text}")
        return value

    return parse


positive_int = _number(int, 0, inclusive=False)
non_negative_int = _number(int, 0, inclusive=True)
positive_float = _number(float, 0, inclusive=False)
non_negative_float = _number(float, 0, inclusive=True)
MAX_SEED = 2**32 - 1  # numpy's range; also keeps the per-epoch data-order seeds inside int64


def seed_int(text: str) -> int:
    value = non_negative_int(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be ≤ {MAX_SEED}, got {text}")
    return value


def path_arg(text: str) -> str:
    """A path flag's value, refused when nothing could ever be at it: empty (it would read as
    unset), a name too long for the filesystem, a folder on the way that cannot be searched.
    (pathlib's exists() raises on those, deep inside; a path that does not exist yet is fine.)"""
    if not text:
        raise argparse.ArgumentTypeError("the path is empty")
    try:
        os.stat(text)
    except (FileNotFoundError, NotADirectoryError):
        pass
    except (OSError, ValueError) as e:  # ENAMETOOLONG, EACCES, ELOOP; ValueError: a NUL byte
        shown = text if len(text) <= 60 else f"{text[:40]}… ({len(text)} characters)"
        raise argparse.ArgumentTypeError(f"{shown}: {getattr(e, 'strerror', None) or e}") from None
    return text


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag costs one line on stderr, not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def last_beta(epochs: int) -> str:
    """β of the last of `epochs` epochs under linear annealing with beta_max 1 (for the help)."""
    return f"{kl_weight(epochs - 1, TrainConfig(epochs=epochs, kl_anneal='linear', beta_max=1.0)):g}"


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog=PROG,
        description="Train a variational autoencoder on MNIST live in the terminal, and explore it.",
        epilog="Runs are written to runs/<timestamp> (config.json, checkpoint.pt, metrics.jsonl, "
        "batches.jsonl, images/, swanlab/). Upload an offline SwanLab run later with: swanlab sync RUN_DIR/swanlab/run-*",
    )
    S = argparse.SUPPRESS  # unset flags stay absent, so --resume can tell what the user changed
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    mode = p.add_argument_group("mode")
    mode.add_argument(
        "--train-only", action="store_true", help="train headless: plain progress lines, no screen"
    )
    mode.add_argument("--resume", type=path_arg, metavar="RUN_DIR", help="continue the run saved in RUN_DIR")
    mode.add_argument(
        "--checkpoint",
        type=path_arg,
        metavar="PATH",
        help="open a trained model (ours or a reference state_dict)",
    )
    mode.add_argument("--eval", action="store_true", help="evaluate --checkpoint on the test set and exit")
    mode.add_argument(
        "--iwae-k",
        type=non_negative_int,
        default=S,
        metavar="K",
        help=f"importance samples for the -log p(x) bound (default: {EVAL_IWAE_K} with --eval, "
        f"{DEFAULTS.iwae_k} at the end of training; 0 skips it)",
    )
    mode.add_argument(
        "--binarize",
        action="store_true",
        help="with --eval: dynamically binarized pixels (literature protocol)",
    )
    mode.add_argument("--json", action="store_true", help="with --eval: print the results as JSON")
    mode.add_argument(
        "--graphics",
        choices=GRAPHICS_CHOICES,
        default=S,
        help="how the app draws images: halfblock (default; any terminal), sixel or kitty (sharper, "
        "where the terminal supports it, else half-block with a notice), auto (a protocol if supported)",
    )

    t = p.add_argument_group("training (defaults: the reference design)")
    t.add_argument(
        "--epochs", type=positive_int, default=S, help=f"passes over the data (default {DEFAULTS.epochs})"
    )
    t.add_argument(
        "--batch-size", type=positive_int, default=S, help=f"images per step (default {DEFAULTS.batch_size})"
    )
    t.add_argument(
        "--lr", type=positive_float, default=S, help=f"AdamW learning rate (default {DEFAULTS.lr:g})"
    )
    t.add_argument(
        "--hidden-dim",
        type=positive_int,
        default=S,
        help=f"hidden layer width (default {DEFAULTS.hidden_dim})",
    )
    t.add_argument(
        "--latent-dim",
        type=positive_int,
        default=S,
        help=f"latent dimensions (default {DEFAULTS.latent_dim})",
    )
    t.add_argument(
        "--kl-anneal",
        choices=KL_ANNEAL_CHOICES,
        default=S,
        help="linear: epoch e of E trains at beta = beta_max * (e-1)/E, so 0 in the first epoch and "
        f"beta_max * (E-1)/E in the last ({last_beta(DEFAULTS.epochs)} * beta_max with {DEFAULTS.epochs} "
        f"epochs, {last_beta(5)} with 5): it never reaches beta_max; none: beta = beta_max in every "
        "epoch (default linear)",
    )
    t.add_argument(
        "--beta-max",
        type=non_negative_float,
        default=S,
        help="scale of the KL weight: linear annealing rises towards it and stops one step short, none "
        f"trains at it throughout; held-out numbers always use beta 1 (default {DEFAULTS.beta_max:g})",
    )
    t.add_argument("--seed", type=seed_int, default=S, help=f"random seed (default {DEFAULTS.seed})")
    t.add_argument(
        "--device",
        choices=DEVICE_CHOICES,
        default=S,
        help="auto picks cuda, then mps, then cpu (default auto)",
    )

    d = p.add_argument_group("data and output")
    d.add_argument(
        "--dataset", choices=DATASET_CHOICES, default=S, help="default mnist (bundled, works offline)"
    )
    d.add_argument(
        "--data-dir",
        type=path_arg,
        default=S,
        metavar="DIR",
        help="folder with the four IDX files (default: per-user cache)",
    )
    d.add_argument(
        "--train-limit", type=positive_int, default=S, metavar="N", help="use the first N training images"
    )
    d.add_argument(
        "--test-limit", type=positive_int, default=S, metavar="N", help="use the first N test images"
    )
    d.add_argument(
        "--run-dir",
        type=path_arg,
        default=S,
        metavar="DIR",
        help="where to write the run (default runs/<timestamp>)",
    )
    d.add_argument(
        "--swanlab",
        choices=SWANLAB_CHOICES,
        default=S,
        help="offline (default; no network), cloud (needs SWANLAB_API_KEY) or disabled",
    )
    return p


TRAIN_FIELDS = {
    "epochs", "batch_size", "lr", "hidden_dim", "latent_dim", "kl_anneal", "beta_max", "seed",
    "device", "dataset", "data_dir", "train_limit", "test_limit", "run_dir", "swanlab", "iwae_k",
}  # fmt: skip


EVAL_FIELDS = {"device", "dataset", "data_dir", "test_limit", "iwae_k"}
BROWSE_FIELDS = {"dataset", "data_dir", "test_limit"}
"""What --eval and browsing a --checkpoint read; any other training flag would be ignored."""


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def unused_flags(args: argparse.Namespace) -> list[str]:
    """Training flags given with --checkpoint that it would silently ignore (a trained model is
    scored or browsed as it is: `--latent-dim 2` cannot change it)."""
    allowed = EVAL_FIELDS if args.eval else BROWSE_FIELDS
    return [flag(f) for f in sorted(TRAIN_FIELDS - allowed) if hasattr(args, f)]


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The training fields the user set on the command line (and only those)."""
    return {k: v for k, v in vars(args).items() if k in TRAIN_FIELDS}


def has_terminal() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so Python's final flush does not raise about the closed pipe."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def parse_request(argv: Sequence[str] | None = None) -> Request:
    """The flags in `argv`, checked, as a `Request`; a bad flag or combination exits with one
    line (argparse's SystemExit, code 2)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check_combinations(parser, args)
    return Request(
        overrides=config_overrides(args),
        resume=args.resume,
        checkpoint=args.checkpoint,
        graphics=getattr(args, "graphics", None),
        evaluate=args.eval,
        binarize=args.binarize,
        json=args.json,
        train_only=args.train_only,
    )


def check_combinations(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Flags that are fine alone but not together: refused before anything runs."""
    if args.eval and not args.checkpoint:
        parser.error("--eval needs --checkpoint PATH")
    if args.resume and args.checkpoint:
        parser.error("--resume and --checkpoint cannot be combined")
    if (args.binarize or args.json) and not args.eval:
        parser.error("--binarize and --json only apply to --eval")
    if hasattr(args, "graphics") and (args.train_only or args.eval):
        parser.error("--graphics only applies to the app (not --train-only or --eval)")
    if args.checkpoint and args.train_only and not args.eval:
        parser.error(
            "--checkpoint opens a model to browse (in the app) or to evaluate (--eval); "
            "--train-only trains a new run (continue one with --resume RUN_DIR)"
        )
    if args.checkpoint and (unused := unused_flags(args)):  # (--train-only is refused above)
        reads = ", ".join(flag(f) for f in sorted(EVAL_FIELDS if args.eval else BROWSE_FIELDS))
        parser.error(
            f"{' '.join(unused)} {'does' if len(unused) == 1 else 'do'} not apply "
            f"{'with --eval' if args.eval else 'when browsing'}: a trained model is used as it is "
            f"(only {reads} apply); to train, leave out --checkpoint"
        )


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # an ASCII-only locale gets "?" for "±", not a crash
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
    request = parse_request(argv)
    from vae_tui.core.errors import OutputClosed, VaeTuiError  # noqa: PLC0415 - keep --help light

    try:
        return dispatch(request)
    except VaeTuiError as e:
        if isinstance(e, OutputClosed):
            _drop_stdout()
        return fail(str(e), e.exit_code)
    except BrokenPipeError:  # `vae-tui --eval ... | head`: the reader has what it wanted
        _drop_stdout()
        return OutputClosed.exit_code
    except (MemoryError, RuntimeError) as e:  # core/memory.py refuses what cannot fit; this is its backstop
        from vae_tui.core.memory import out_of_memory  # noqa: PLC0415

        if not out_of_memory(e):
            raise
        return fail("out of memory; try a smaller --hidden-dim, --latent-dim, --batch-size or --iwae-k", 1)
    except KeyboardInterrupt:  # Ctrl-C before the front end's own handlers are in, or during --eval
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def dispatch(request: Request) -> int:
    """Hand the request to its front end (imported only now: `--help` stays light)."""
    if request.evaluate:
        from .eval_report import run_eval  # noqa: PLC0415

        return run_eval(request)
    if request.resume:  # a finished run: say so, before either front end starts
        from vae_tui.core.run import finished_run_note  # noqa: PLC0415

        if note := finished_run_note(request.overrides, request.resume):
            print(f"{PROG}: {note}")
            return 0
    if request.checkpoint and not has_terminal():
        return fail(
            "browsing a model needs a terminal on stdin and stderr; "
            "for its numbers without one, use --eval --checkpoint PATH",
            2,
        )
    if request.train_only or not has_terminal():
        if not request.train_only:
            ignored = "; --graphics does not apply" if request.graphics is not None else ""
            print(
                f"{PROG}: no terminal on stdin/stderr, running headless (as --train-only){ignored}",
                flush=True,
            )
        from .headless import run_headless  # noqa: PLC0415

        return run_headless(request)
    from .app import run_app  # noqa: PLC0415

    return run_app(request)


if __name__ == "__main__":
    raise SystemExit(main())
