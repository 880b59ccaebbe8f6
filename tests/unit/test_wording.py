"""A mid-epoch position in words, said the same by every front end (`wording.mid_epoch`): the
headless checkpoint line, the app's closing line and its views' captions."""

from __future__ import annotations

import io
from types import SimpleNamespace

from vae_tui.core.events import CheckpointSaved
from vae_tui.tui.browse import BrowseState
from vae_tui.tui.headless import HeadlessPrinter
from vae_tui.tui.run_status import RunStatus
from vae_tui.tui.shutdown import closing_line
from vae_tui.tui.wording import mid_epoch


def test_a_mid_epoch_position_reads_the_same_everywhere() -> None:
    saved = CheckpointSaved(epoch=2, batch=40, path="run/checkpoint.pt", reason="stop")
    assert mid_epoch(saved.epoch, saved.batch) == "epoch 3, batch 40"  # 2 complete, 40 into the 3rd

    out = io.StringIO()
    HeadlessPrinter(out, progress=False).on_checkpoint_saved(saved)
    assert out.getvalue() == "Checkpoint saved (stop) at epoch 3, batch 40: run/checkpoint.pt\n"

    status = RunStatus(mode="train")
    status.run_dir, status.epochs = "run", 5
    ended = SimpleNamespace(  # what `closing_line` reads off the app once it has closed
        return_code=0, fatal=None, failure=None, status=status, browse_only=False, last_saved=saved,
        last_checkpoint=saved.path, tracker=None,
    )  # fmt: skip
    assert closing_line(ended) == (
        "vae-tui: run in run (checkpoint run/checkpoint.pt); saved at epoch 3, batch 40: "
        "continue with vae-tui --resume run",
        0,
    )

    state = BrowseState(epoch=2, batch=40)
    assert state.weights() == "weights at epoch 3, batch 40"
    state.live = True
    assert state.weights() == "weights now (epoch 3, batch 40)"
