"""The export's writes are atomic, and the trainer logs its GIFs to its real (offline) SwanLab
run at a successful end, without ever losing the run for them."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.swanlab_log import read_swanlab_log
from vae_tui.core.config import TrainConfig
from vae_tui.core.consumers import drive
from vae_tui.core.gif import gif_bytes, save_png, write_bytes
from vae_tui.core.run import standard_consumers
from vae_tui.core.train import train


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_png(tmp_path / "samples.png", np.full((4, 4), 200, np.uint8), 2)
    before = path.read_bytes()

    def torn_save(self: Image.Image, f: object, *args: object, **kwargs: object) -> None:
        f.write(b"\x89PNG half a file")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", torn_save)
    with pytest.raises(OSError, match="No space"):
        save_png(path, np.zeros((4, 4), np.uint8), 2)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["samples.png"]


def test_gif_bytes_round_trip(tmp_path: Path) -> None:
    grids = [np.full((10, 20), v, np.uint8) for v in (0, 128, 255)]
    path = write_bytes(tmp_path / "x.gif", gif_bytes(grids, ["epoch 1/3", "epoch 2/3", "epoch 3/3"]))
    gif = Image.open(path)
    assert gif.n_frames == 3 and gif.size[0] % 20 == 0


def swanlab_log(run_dir: Path) -> dict:
    (log,) = sorted((run_dir / "swanlab").glob("run-*/run-*.swanlab"))
    return read_swanlab_log(log)


def test_the_trainer_logs_its_gifs_to_swanlab_when_it_finishes(
    tiny_config: TrainConfig, capfd: pytest.CaptureFixture[str]
) -> None:
    config = tiny_config.with_(swanlab="offline", iwae_k=0)
    finished = drive(train(config), standard_consumers(config))
    assert finished is not None and finished.status == "completed"
    log = swanlab_log(Path(config.run_dir))
    assert log["finished"] == "RUN_STATE_FINISHED"
    assert log["media"].get("gifs/samples") == 1 and log["media"].get("gifs/reconstructions") == 1
    gifs = sorted(Path(config.run_dir).glob("swanlab/run-*/media/*/*.gif"))
    assert len(gifs) == 2 and all(Image.open(g).n_frames == 2 for g in gifs)  # one frame an epoch
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # nothing on the terminal the app draws on


def test_a_stopped_run_logs_no_gifs(tiny_config: TrainConfig) -> None:
    from vae_tui.core.control import TrainControl
    from vae_tui.core.events import BatchEnd

    config = tiny_config.with_(swanlab="offline", iwae_k=0)
    control = TrainControl()

    def events():
        for event in train(config, control):
            if isinstance(event, BatchEnd) and event.step == 10:
                control.request_stop()
            yield event

    drive(events(), standard_consumers(config))
    assert "gifs/samples" not in swanlab_log(Path(config.run_dir))["media"]


def test_a_gif_that_cannot_be_logged_only_warns(
    tiny_config: TrainConfig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import swanlab

    def broken_video(*args: object, **kwargs: object) -> None:
        raise TypeError("no GIF today")

    monkeypatch.setattr(swanlab, "Video", broken_video)
    logging.getLogger("vae_tui").propagate = True
    config = tiny_config.with_(swanlab="offline", iwae_k=0, epochs=1)
    with caplog.at_level(logging.WARNING, logger="vae_tui"):
        finished = drive(train(config), standard_consumers(config))
    assert finished is not None and finished.status == "completed"
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "GIFs were not logged" in warnings[0] and "no GIF today" in warnings[0]
    log = swanlab_log(Path(config.run_dir))
    assert log["finished"] == "RUN_STATE_FINISHED" and log["media"].get("images/samples") == 1
