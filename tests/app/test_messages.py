"""What the app is told and what it makes of it, on a fake event stream (no training).

The run is `fake_stream.FakeRun`: the real event records, in the loop's order, driven through the
real `drive` and the app's real bridge. `run_test(message_hook=...)` collects every message the
app handles; those defined in `tui/messages.py` are the workers', and the events they carry must
be the stream's, all of them (but the epoch's image grids, which only the PNG writer uses: the
app decodes its views from the snapshots), in the stream's order.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from textual.message import Message

from vae_tui.core.events import (
    BatchEnd,
    CheckpointSaved,
    EpochEnd,
    EpochImages,
    FinalEvaluation,
    ModelSnapshot,
    Paused,
    RunFinished,
    RunStarted,
)
from vae_tui.tui import messages as ui_messages
from vae_tui.tui.app import VaeApp, closing_line, make_app
from vae_tui.tui.cli import parse_request
from vae_tui.tui.widgets.reconstructions import ReconstructionView
from vae_tui.tui.widgets.status import StatusPanel
from vae_tui.tui.widgets.text_lines import TextLines

from ..helpers import TINY_MODEL
from .fake_stream import FakeRuns
from .helpers import text_of, wait_for

SIZE = (120, 40)


def fake_app(tmp_path: Path, *flags: str, **options: Any) -> tuple[VaeApp, FakeRuns]:
    """The app as `vae-tui --run-dir … FLAGS` builds it, on a fake run with these options."""
    runs = FakeRuns(tmp_path / "run", **options)
    request = parse_request(["--run-dir", str(tmp_path / "run"), "--swanlab", "disabled", *flags])
    return make_app(request, start_run=runs), runs


class Inbox:
    """The bridge's messages, in the order the app handled them."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def __call__(self, message: Message) -> None:
        if type(message).__module__ == ui_messages.__name__:
            self.messages.append(message)

    @staticmethod
    def carried(message: Message) -> list[Any]:
        """The stream's events a message carries: a batch of them, one, or none (a notice)."""
        if (batches := getattr(message, "batches", None)) is not None:
            return list(batches)
        if (event := getattr(message, "event", None)) is not None:
            return [event]
        return []

    def events(self) -> list[Any]:
        return [event for message in self.messages for event in self.carried(message)]

    def message_classes(self) -> dict[type, set[type]]:
        """Event class → the message classes that carried it one at a time."""
        classes: dict[type, set[type]] = {}
        for message in self.messages:
            if len(events := self.carried(message)) == 1 and not isinstance(events[0], BatchEnd):
                classes.setdefault(type(events[0]), set()).add(type(message))
        return classes

    def batch_messages(self) -> list[list[BatchEnd]]:
        """The events of each message carrying batches (BatchEnd is never sent one at a time)."""
        carried = (self.carried(m) for m in self.messages)
        return [events for events in carried if events and isinstance(events[0], BatchEnd)]


def for_the_ui(stream: list[Any]) -> list[Any]:
    return [e for e in stream if not isinstance(e, EpochImages)]


def short(event: Any) -> str:
    """An event in a few words, for a readable diff: its class and where in the run it is."""
    where = [f"{name} {getattr(event, name)}" for name in ("epoch", "batch", "step") if hasattr(event, name)]
    return " ".join([type(event).__name__, *where])


def assert_same_events(received: list[Any], sent: list[Any]) -> None:
    """The very same records in the same order (they hold tensors, so `==` cannot say)."""
    assert [short(e) for e in received] == [short(e) for e in sent]
    assert all(r is s for r, s in zip(received, sent, strict=True))


def weights_of(app: VaeApp) -> dict[str, torch.Tensor]:
    return app.state.decoder.model.state_dict()


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def caption(app: VaeApp) -> str:
    return text_of(app.query_one(ReconstructionView).query_one(".caption", TextLines))


async def test_every_event_arrives_in_order_and_the_app_ends_where_the_stream_does(tmp_path: Path) -> None:
    app, runs = fake_app(
        tmp_path, "--epochs", "3", "--train-limit", "1280", "--batch-size", "64", "--iwae-k", "4"
    )
    inbox = Inbox()
    async with app.run_test(size=SIZE, message_hook=inbox) as pilot:
        status = app.query_one(StatusPanel)
        # The panel grows to its third row (held-out numbers) at the layout after FINISHED shows.
        await wait_for(pilot, lambda: "FINISHED" in text_of(status) and "held-out" in text_of(status))
        (run,) = runs.runs
        stream = run.events

        # All of the stream, nothing else, in its order: from RunStarted to RunFinished.
        assert isinstance(stream[0], RunStarted) and stream[-1] == RunFinished(3, 60, "completed", 3 * 0.2)
        assert_same_events(inbox.events(), for_the_ui(stream))
        # Typed: each kind of event comes in a message class of its own, with its own handler.
        classes = inbox.message_classes()
        assert set(classes) == {
            RunStarted, ModelSnapshot, EpochEnd, CheckpointSaved, FinalEvaluation, RunFinished
        }  # fmt: skip
        assert all(len(c) == 1 for c in classes.values())
        assert len(set.union(*classes.values())) == len(classes)

        # The status is where the stream ended: the last epoch, its numbers, the final evaluation.
        batches = [e for e in stream if isinstance(e, BatchEnd)]
        epochs = [e for e in stream if isinstance(e, EpochEnd)]
        (final,) = (e for e in stream if isinstance(e, FinalEvaluation))
        assert (app.status.epoch, app.status.step, app.status.batch) == (3, batches[-1].step, 20)
        shown = text_of(status)
        assert "FINISHED epoch 3/3" in shown
        assert f"−ELBO {final.results['neg_elbo']:.2f}  IWAE(K=4) {final.results['iwae_nll']:.2f}" in shown
        assert f"held-out {epochs[-1].test_loss:.2f}" in shown

        # The loss history holds every batch once, and every epoch's row.
        assert app.history.steps.tolist() == list(range(1, 61))
        assert np.array_equal(app.history.losses, [b.loss for b in batches])
        assert app.history.epochs == [e.metrics() for e in epochs]

        # The views show the last snapshot: the trained model (the fake ends on its weights).
        snapshots = [e for e in stream if isinstance(e, ModelSnapshot)]
        assert [s.epoch for s in snapshots] == [0, 1, 2, 3]
        assert same_weights(weights_of(app), torch.load(TINY_MODEL, weights_only=True))
        assert "weights after epoch 3" in caption(app)


async def test_batches_arrive_coalesced_and_whole(tmp_path: Path) -> None:
    """Hundreds of batches a second must not mean hundreds of messages: the bridge gathers them."""
    app, runs = fake_app(
        tmp_path, "--epochs", "5", "--train-limit", "3200", "--batch-size", "64", "--iwae-k", "0"
    )
    inbox = Inbox()
    async with app.run_test(size=SIZE, message_hook=inbox) as pilot:
        await wait_for(pilot, lambda: "FINISHED" in text_of(app.query_one(StatusPanel)))
    sent = [e for e in runs.runs[0].events if isinstance(e, BatchEnd)]
    received = inbox.batch_messages()
    assert len(sent) == 250
    assert 5 <= len(received) <= len(sent) // 5  # at least one per epoch (its end flushes them)
    steps = [b.step for message in received for b in message]
    assert steps == list(range(1, 251))  # all of them, once each, in order
    assert all(len({b.epoch for b in message}) == 1 for message in received)  # none spans an epoch end


async def test_a_pause_reports_everything_before_it_and_r_shows_the_weights_now(tmp_path: Path) -> None:
    app, runs = fake_app(
        tmp_path,
        *("--epochs", "3", "--train-limit", "1280", "--batch-size", "64", "--iwae-k", "0"),
        pause_at_step=30,
    )
    inbox = Inbox()
    async with app.run_test(size=SIZE, message_hook=inbox) as pilot:
        await wait_for(pilot, lambda: any(isinstance(e, Paused) for e in inbox.events()))
        (run,) = runs.runs
        assert_same_events(inbox.events(), for_the_ui(run.events))  # all up to the pause has arrived
        assert inbox.events()[-1] == Paused(epoch=2, batch=10, step=30, beta=1 / 3)
        assert (app.status.epoch, app.status.batch, app.status.step) == (2, 10, 30)
        after_epoch_1 = next(e for e in run.events if isinstance(e, ModelSnapshot) and e.epoch == 1)
        assert same_weights(weights_of(app), after_epoch_1.state)
        assert "weights after epoch 1" in caption(app)

        # r asks the paused loop for its weights as they are now: a mid-epoch snapshot, shown.
        await pilot.press("r")
        await wait_for(pilot, lambda: app.state.batch == 10)
        now = inbox.events()[-2]
        assert isinstance(now, ModelSnapshot) and (now.epoch, now.batch) == (1, 10)
        assert isinstance(inbox.events()[-1], Paused)  # served while paused: still paused
        assert same_weights(weights_of(app), now.state) and not same_weights(now.state, after_epoch_1.state)
        assert "weights now (epoch 2, batch 10)" in caption(app)

        await pilot.press("space")  # resume: the run goes on to its end
        await wait_for(pilot, lambda: "FINISHED" in text_of(app.query_one(StatusPanel)))
        assert_same_events(inbox.events(), for_the_ui(run.events))
        assert app.status.step == 60 and "weights after epoch 3" in caption(app)


async def test_a_stop_between_batches_ends_the_run_there(tmp_path: Path) -> None:
    app, runs = fake_app(
        tmp_path,
        *("--epochs", "3", "--train-limit", "1280", "--batch-size", "64", "--iwae-k", "0"),
        stop_at_step=25,
    )
    inbox = Inbox()
    async with app.run_test(size=SIZE, message_hook=inbox) as pilot:
        status = app.query_one(StatusPanel)
        await wait_for(pilot, lambda: "STOPPED" in text_of(status))
        (run,) = runs.runs
        assert_same_events(inbox.events(), for_the_ui(run.events))
        saved, finished = run.events[-2:]
        assert saved == CheckpointSaved(1, 5, str(tmp_path / "run" / "checkpoint.pt"), "stop")
        assert finished == RunFinished(1, 25, "stopped", 0.2)
        assert (app.status.epoch, app.status.batch, app.status.step) == (2, 5, 25)
        assert "STOPPED epoch 2/3" in text_of(status)
        assert app.history.steps.tolist() == list(range(1, 26))


async def test_a_core_warning_is_a_toast_not_a_failure(tmp_path: Path) -> None:
    """Core warnings (SwanLab falling back to offline, …) reach the app as `CoreWarning`s, from
    whichever thread logs them, through the handler the app installs for as long as it runs:
    a toast, while training goes on, and nothing said or changed at exit."""
    app, _ = fake_app(
        tmp_path,
        *("--epochs", "3", "--train-limit", "1280", "--batch-size", "64", "--iwae-k", "0"),
        pause_at_step=30,
    )
    logger = logging.getLogger("vae_tui")
    handlers = list(logger.handlers)
    inbox = Inbox()
    async with app.run_test(size=SIZE, message_hook=inbox) as pilot:
        await wait_for(pilot, lambda: app.status.step == 30)
        status_before = app.status.message
        worker = threading.Thread(
            target=logging.getLogger("vae_tui.core.tracking").warning, args=("offline",)
        )
        worker.start()
        worker.join()
        await wait_for(pilot, lambda: any(n.message == "offline" for n in app._notifications))
        assert [m.text for m in inbox.messages if isinstance(m, ui_messages.CoreWarning)] == ["offline"]
        assert not [m for m in inbox.messages if isinstance(m, ui_messages.Failed)]
        (note,) = [n for n in app._notifications if n.message == "offline"]
        assert note.severity == "warning" and app.failure is None and app.status.message == status_before
        await pilot.press("q", "q")
    assert logger.handlers == handlers  # gone with the app: nothing left to post to
    line, code = closing_line(app)
    assert code == 0 and "offline" not in (line or "")
