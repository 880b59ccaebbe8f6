"""Which flags go together: what `vae-tui` refuses before anything runs, in one line each.

A flag the chosen mode would silently ignore (a training flag with --checkpoint, --kl-cycles
without the cyclical schedule) is refused rather than dropped: the user meant something by it.
"""

from __future__ import annotations

import argparse

from vae_tui.core.config import SETTINGS, TrainConfig

DEFAULTS = TrainConfig()
MAX_COMPARED = 4
"""--compare's most runs: four curves and four sample panels still read at 80 columns."""

TRAIN_FIELDS = {name for name, setting in SETTINGS.items() if setting.help is not None}
"""The fields with a flag (all but input_dim)."""
EVAL_FIELDS = {name for name, setting in SETTINGS.items() if setting.eval}
BROWSE_FIELDS = {name for name, setting in SETTINGS.items() if setting.browse}
"""What --eval and browsing a --checkpoint read; any other training flag would be ignored."""


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def unused_flags(args: argparse.Namespace) -> list[str]:
    """Training flags given with --checkpoint that it would silently ignore (a trained model is
    scored or browsed as it is: `--latent-dim 2` cannot change it)."""
    allowed = EVAL_FIELDS if args.eval else BROWSE_FIELDS
    return [flag(f) for f in sorted(TRAIN_FIELDS - allowed) if hasattr(args, f)]


def check_combinations(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Flags that are fine alone but not together: refused before anything runs."""
    check_run_modes(parser, args)
    check_schedule_flags(parser, args)
    if args.eval and not args.checkpoint:
        parser.error("--eval needs --checkpoint PATH")
    if args.resume and args.checkpoint:
        parser.error("--resume and --checkpoint cannot be combined")
    if (args.binarize or args.json) and not args.eval:
        parser.error("--binarize and --json only apply to --eval")
    if args.graphics is not None and (args.train_only or args.eval):
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


SCHEDULE_FLAGS = {"kl_warmup_epochs": "warmup", "kl_cycles": "cyclical"}
"""Flags that shape one β schedule each: the `--kl-anneal` they apply to."""


def check_schedule_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """`--kl-cycles` without `--kl-anneal cyclical` (or warmup's flag without warmup) would be
    ignored silently: refused. A resume keeps its schedule's flags anyway (fixed on resume)."""
    if args.resume or args.checkpoint or args.watch or args.compare or args.export:
        return  # (they refuse training flags in their own words)
    anneal = getattr(args, "kl_anneal", DEFAULTS.kl_anneal)
    for name, schedule in SCHEDULE_FLAGS.items():
        if hasattr(args, name) and anneal != schedule:
            parser.error(f"{flag(name)} only applies with --kl-anneal {schedule} (this run is {anneal})")
    cycles, epochs = (getattr(args, f, getattr(DEFAULTS, f)) for f in ("kl_cycles", "epochs"))
    if anneal == "cyclical" and cycles > epochs:
        given = "" if hasattr(args, "kl_cycles") else " (the default)"
        parser.error(
            f"--kl-cycles {cycles}{given} is more cycles than --epochs {epochs}: each cycle needs an epoch"
        )


def check_run_modes(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--watch, --compare and --export read runs other processes wrote: each alone, and with no
    flag that trains or evaluates (what a watched run trains with is its trainer's business)."""
    modes = [
        f for f, on in (("--watch", args.watch), ("--compare", args.compare), ("--export", args.export)) if on
    ]
    if not modes:
        return
    if len(modes) > 1:
        parser.error(f"{' and '.join(modes)} cannot be combined")
    mode = modes[0]
    others = [f for f, on in (("--train-only", args.train_only), ("--resume", args.resume),
                              ("--checkpoint", args.checkpoint), ("--eval", args.eval)) if on]  # fmt: skip
    if others:
        parser.error(f"{mode} cannot be combined with {others[0]}")
    if args.compare and not 2 <= len(args.compare) <= MAX_COMPARED:
        parser.error(f"--compare takes 2 to {MAX_COMPARED} run folders (got {len(args.compare)})")
    if args.export and args.graphics is not None:
        parser.error("--graphics only applies to the app (not --export)")
    allowed = set() if args.compare else BROWSE_FIELDS
    if unused := [flag(f) for f in sorted(TRAIN_FIELDS - allowed) if hasattr(args, f)]:
        applies = [flag(f) for f in sorted(allowed)] + ([] if args.export else ["--graphics"])
        reads = f" (only {', '.join(applies)} {'applies' if len(applies) == 1 else 'apply'})"
        parser.error(
            f"{' '.join(unused)} {'does' if len(unused) == 1 else 'do'} not apply with {mode}: "
            f"it reads what the run wrote{reads}"
        )
