"""Messages from the training worker to the UI: small, and coalesced where they are frequent."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class TrainEvent(Message):
    """One event of the training stream (anything but BatchEnd, which comes in `Batches`)."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class Batches(Message):
    """The batches since the last message: posted a few times a second, not once per batch."""

    def __init__(self, batches: list[Any]) -> None:
        super().__init__()
        self.batches = batches


class ModelOpened(Message):
    """`--checkpoint`: a trained model and the test images to browse it with."""

    def __init__(self, state: dict[str, Any], images: Any, labels: Any, info: dict[str, Any]) -> None:
        super().__init__()
        self.state = state
        self.images = images
        self.labels = labels
        self.info = info


class HistoryLoaded(Message):
    """`--resume`: what the run logged before this session, so the plots show all of it, and
    the time spent on the epoch it resumes in (not in the history, which has complete epochs)."""

    def __init__(self, history: Any, carried_seconds: float = 0.0) -> None:
        super().__init__()
        self.history = history
        self.carried_seconds = carried_seconds


class Failed(Message):
    """An error the user must see; `fatal` when nothing can be shown (the app then exits)."""

    def __init__(self, text: str, exit_code: int, fatal: bool) -> None:
        super().__init__()
        self.text = text
        self.exit_code = exit_code
        self.fatal = fatal
