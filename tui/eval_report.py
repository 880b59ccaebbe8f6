"""`vae-tui --eval --checkpoint PATH`: held-out numbers for a trained model, with their protocol."""

from __future__ import annotations

import json
import sys
from typing import Any

from .logs import log_warnings_to_stderr
from .request import Request
from .wording import trained_for


def format_report(r: dict[str, Any], path: str) -> str:
    trained = trained_for(r["epochs_trained"], r["batches_into_next_epoch"])
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


def run_eval(request: Request) -> int:
    log_warnings_to_stderr()
    from vae_tui.core.threads import BusyCores, training_threads  # noqa: PLC0415 - torch-free

    busy = BusyCores()  # its 0.25 s look at the other processes' load overlaps torch's import
    import torch  # noqa: PLC0415 - after BusyCores started, so its look overlaps the import

    from vae_tui.core.checkpoint import load_model  # noqa: PLC0415
    from vae_tui.core.config import EVAL_IWAE_K  # noqa: PLC0415
    from vae_tui.core.data import load_split, resolve_dataset_dir  # noqa: PLC0415
    from vae_tui.core.device import resolve_device  # noqa: PLC0415
    from vae_tui.core.evaluate import evaluate  # noqa: PLC0415
    from vae_tui.core.memory import check_evaluation  # noqa: PLC0415

    assert request.checkpoint is not None  # (the CLI refuses --eval without it)
    # Every core no other process keeps busy: torch's threads wait for each other after every op,
    # so one that loses its core stalls them all (K = 1000 on 300 images, 2 cores, one busy loop
    # beside it: 2 threads 3.6 s, 1 thread 2.0 s; idle: 2 threads 1.0 s, 1 thread 1.8 s).
    torch.set_num_threads(training_threads(busy))
    device = resolve_device(request.config.device)
    loaded = load_model(request.checkpoint, device)
    k = request.config.iwae_k if request.given("iwae_k") else EVAL_IWAE_K
    limit = request.config.test_limit
    given = {f for f in ("iwae_k", "test_limit") if request.given(f)}
    check_evaluation(loaded.config, k, limit, request.binarize, device, given)  # before the data and K
    dataset = request.config.dataset if request.given("dataset") else loaded.config.dataset
    folder = resolve_dataset_dir(dataset, request.config.data_dir, splits=("test",))
    test = load_split(folder, "test", limit)
    scores = evaluate(loaded.model, test.images.to(device), k=k, binarize=request.binarize)
    c = loaded.config
    results = {  # every key is described in the README (Evaluation)
        "checkpoint": str(request.checkpoint),
        "source": loaded.source,
        "config": c.to_dict() if loaded.source == "checkpoint" else None,
        "architecture": {"input_dim": c.input_dim, "hidden_dim": c.hidden_dim, "latent_dim": c.latent_dim},
        "epochs_trained": loaded.epoch,
        "batches_into_next_epoch": loaded.batch,
        "steps_trained": loaded.step,
        "dataset": dataset,
        "binarized": request.binarize,
        **scores,
    }
    if request.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        print(format_report(results, str(request.checkpoint)))
        if sys.stdout.isatty():  # a terminal also sees what the model draws; a pipe gets numbers only
            from rich.console import Console  # noqa: PLC0415

            from .inline import print_model_grids  # noqa: PLC0415

            c = loaded.config
            print_model_grids(
                Console(), loaded.model, test.images.to(device), c.latent_dim, c.seed, "this model"
            )
    return 0
