"""Counts and training positions in words, the same in every front end's lines."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`1 epoch`, `2 epochs`."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def trained_for(epoch: int | None, batch: int | None) -> str:
    """How far a saved model was trained: `6 epochs`, or `1 epoch + 312 batches` when it was
    saved mid-epoch (its weights are then newer than its last epoch's numbers)."""
    if epoch is None:
        return "training not recorded"
    if not batch:
        return counted(epoch, "epoch")
    batches = counted(batch, "batch", "batches")
    return f"{counted(epoch, 'epoch')} + {batches}" if epoch else batches
