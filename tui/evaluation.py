"""`vae-tui --eval --checkpoint PATH`: held-out numbers for a trained model, with their protocol."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .launch import log_warnings_to_stderr, trained_for


def format_report(r: dict[str, Any], path: str) -> str:
    trained = trained_for(r["epochs"], r.get("batches"))
    lines = [
        f"Checkpoint: {path} ({r['source']}, {trained})",
        f"Test set: {r['dataset']}, {r['images']} images; protocol: {r['protocol']}",
        f"Negative ELBO (beta = 1, one z per image): {r['neg_elbo']:.4f} ± {r['neg_elbo_stderr']:.4f} nats/image",
        f"  BCE (reconstruction): {r['bce']:.4f}   KLD: {r['kld']:.4f}",
    ]
    if "iwae_nll" in r:
        lines.append(
            f"IWAE bound on -log p(x), K={r['iwae_k']}: {r['iwae_nll']:.4f} ± {r['iwae_nll_stderr']:.4f} nats/image"
        )
    kl = r["kl_per_dim"]
    lines.append(f"Active units (Cov_x E_q[z_i] > 0.01): {r['active_units']} of {len(kl)}")
    lines.append("KL per dimension: " + " ".join(f"{v:.2f}" for v in kl))
    return "\n".join(lines)


def run_eval(args: argparse.Namespace) -> int:
    log_warnings_to_stderr()
    from vae_tui.core.data import load_split, resolve_dataset_dir  # noqa: PLC0415 - torch from here
    from vae_tui.core.device import resolve_device  # noqa: PLC0415
    from vae_tui.core.evaluate import evaluate  # noqa: PLC0415
    from vae_tui.core.models_io import load_model  # noqa: PLC0415

    device = resolve_device(getattr(args, "device", "auto"))
    loaded = load_model(args.checkpoint, device)
    dataset = getattr(args, "dataset", loaded.config.dataset)
    folder = resolve_dataset_dir(dataset, getattr(args, "data_dir", None))
    test = load_split(folder, "test", getattr(args, "test_limit", None))
    k = getattr(args, "iwae_k", 1000)
    results = evaluate(loaded.model, test.images.to(device), k=k, binarize=args.binarize)
    results.update(
        {
            "checkpoint": str(args.checkpoint),
            "source": loaded.source,
            "epochs": loaded.epoch,
            "batches": loaded.batch,
            "dataset": dataset,
        }
    )
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        print(format_report(results, str(args.checkpoint)))
    return 0
