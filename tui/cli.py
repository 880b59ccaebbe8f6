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
from vae_tui.core.bounds import Bound
from vae_tui.core.config import SETTINGS, TrainConfig, choices, path_problem
from vae_tui.core.schedules import kl_weight

from .driver import has_terminal
from .flag_rules import (
    DEFAULTS,
    MAX_COMPARED,
    TRAIN_FIELDS,
    check_combinations,
    flag,
)
from .graphics import GRAPHICS_CHOICES
from .request import Request
from .serve_flags import add_serve_flags, check_serve_flags, serve_request

PROG = "vae-tui"
GROUPS = {"training": "training (defaults: the reference design)", "data": "data and output"}
"""The --help sections of the training flags (`Setting.group`; --iwae-k sits in mode's)."""


def number_arg(bound: Bound) -> Callable[[str], Any]:
    """A number flag's parser: `TrainConfig`'s own bound, worded with the text as typed."""

    def parse(text: str) -> Any:
        try:
            value = bound.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a{'n integer' if bound.kind is int else ' number'}"
            ) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if problem := bound.out_of_range(value):
            raise argparse.ArgumentTypeError(f"{problem}, got {text}")
        return value

    return parse


def path_arg(text: str) -> str:
    """A path flag's value, refused when nothing could ever be at it: empty (it would read as
    unset), a name too long for the filesystem, a folder on the way that cannot be searched.
    (pathlib's exists() raises on those, deep inside; a path that does not exist yet is fine.)"""
    if problem := path_problem(text):
        raise argparse.ArgumentTypeError(problem)
    try:
        os.stat(text)
    except (FileNotFoundError, NotADirectoryError):
        pass
    except (OSError, ValueError) as e:  # ENAMETOOLONG, EACCES, ELOOP; ValueError: a NUL byte
        shown = text if len(text) <= 60 else f"{text[:40]}… ({len(text)} characters)"
        raise argparse.ArgumentTypeError(f"{shown}: {getattr(e, 'strerror', None) or e}") from None
    return text


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag costs one line on stderr, not a usage dump; and no abbreviated
    flags (`--ser` for --serve): the served command drops `--serve` by its name."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_abbrev=False, **kwargs)

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
    mode.add_argument(
        "--watch",
        type=path_arg,
        metavar="RUN_DIR",
        help="follow a run another process trains (pause, save or stop it from here)",
    )
    mode.add_argument(
        "--compare",
        type=path_arg,
        nargs="+",
        metavar="RUN_DIR",
        help=f"2 to {MAX_COMPARED} run folders side by side: curves, config differences, samples",
    )
    mode.add_argument(
        "--export",
        type=path_arg,
        metavar="PATH",
        help="write a run's GIFs (one frame per epoch), last views and loss curves to PATH/export/; "
        "PATH may also be a state_dict file (its views only)",
    )
    mode.add_argument("--eval", action="store_true", help="evaluate --checkpoint on the test set and exit")
    add_field_flag(mode, "iwae_k")  # beside --eval: its help gives the default of both
    mode.add_argument(
        "--binarize",
        action="store_true",
        help="with --eval: dynamically binarized pixels (literature protocol)",
    )
    mode.add_argument("--json", action="store_true", help="with --eval: print the results as JSON")
    mode.add_argument(
        "--graphics",
        choices=GRAPHICS_CHOICES,
        help="how the app draws images: halfblock (default; any terminal), sixel or kitty (sharper, "
        "where the terminal supports it, else half-block with a notice), auto (a protocol if supported)",
    )
    for key, title in GROUPS.items():
        group = p.add_argument_group(title)
        for name, setting in SETTINGS.items():
            if setting.group == key and setting.help is not None:
                add_field_flag(group, name)
    add_serve_flags(p)
    return p


def add_field_flag(group: argparse._ArgumentGroup, name: str) -> None:
    """The flag of `TrainConfig.<name>`, as its metadata describes it. Unset, it stays absent
    (default SUPPRESS), so --resume can tell what the user changed."""
    setting = SETTINGS[name]
    kind: dict[str, Any] = {"type": path_arg} if setting.path else {}
    if options := choices(name):
        kind = {"choices": options}
    elif setting.bound is not None:
        kind = {"type": number_arg(setting.bound)}
    group.add_argument(
        flag(name), **kind, default=argparse.SUPPRESS, metavar=setting.metavar, help=help_text(name)
    )


def help_text(name: str) -> str:
    """The field's help with its default (and, for --kl-anneal, the β its examples end at)."""
    template, default = SETTINGS[name].help or "", getattr(DEFAULTS, name)
    return template.format(
        default=f"{default:g}" if isinstance(default, float) else default,
        epochs=DEFAULTS.epochs,
        last_beta=last_beta(DEFAULTS.epochs),
        last_beta_5=last_beta(5),
    )


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The training fields the user set on the command line (and only those)."""
    return {k: v for k, v in vars(args).items() if k in TRAIN_FIELDS}


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
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    check_combinations(parser, args)
    check_serve_flags(parser, args)
    return Request(
        overrides=config_overrides(args),
        resume=args.resume,
        checkpoint=args.checkpoint,
        graphics=args.graphics,
        evaluate=args.eval,
        binarize=args.binarize,
        json=args.json,
        train_only=args.train_only,
        watch=args.watch,
        compare=tuple(args.compare or ()),
        export=args.export,
        serve=serve_request(args, argv),
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
    if request.export:
        from .export_report import run_export  # noqa: PLC0415

        return run_export(request)
    if request.compare:  # a folder that is not a run is said first, terminal or not (one line, exit 2)
        from vae_tui.core.compare import read_runs  # noqa: PLC0415

        read_runs(request.compare)
    if request.resume:  # a finished run: say so, before either front end starts
        from vae_tui.core.run import finished_run_note  # noqa: PLC0415

        if note := finished_run_note(request.overrides, request.resume):
            print(f"{PROG}: {note}")
            return 0
    if request.serve:
        from .serve import run_serve  # noqa: PLC0415

        return run_serve(request)
    if (request.watch or request.compare) and not has_terminal():
        return fail(
            f"{'--watch' if request.watch else '--compare'} opens the app and needs a terminal on "
            "stdin and stderr; for files without one, use --export RUN_DIR",
            2,
        )
    if request.compare:
        from .compare_app import run_compare  # noqa: PLC0415

        return run_compare(request)
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
