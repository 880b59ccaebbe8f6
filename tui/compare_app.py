"""`vae-tui --compare RUN_A RUN_B [...]`: 2 to 4 runs side by side, read from their folders.

The curves of each run overlaid (`widgets/compare_curves.py`), a table of the settings that
differ and the final numbers (`widgets/compare_table.py`), and each run's stored samples at one
epoch side by side (`widgets/compare_samples.py`); `[`/`]` step all of them through the epochs
together. Nothing is trained or decoded (no torch): everything comes from what the runs wrote
(`core/compare.py`), re-read every `REREAD_SECONDS` so a run still training moves on. Wide
terminals show all three parts at once; narrower ones one at a time (Tab the next).
"""

from __future__ import annotations

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.driver import Driver
from textual.geometry import Size
from textual.widgets import Footer

from vae_tui.core.compare import CompareError, RunSummary, last_epoch, planned_epochs, read_runs

from .driver import terminal_driver
from .graphics import HALFBLOCK, Graphics, resolve
from .no_color import keep_no_color_working
from .request import Request
from .widgets.compare_curves import COLOURS, CompareCurves
from .widgets.compare_samples import SamplesPanel
from .widgets.compare_table import CompareTable
from .widgets.text_lines import TextLines

REREAD_SECONDS = 2.0
"""How often the folders are read again (a run trains an epoch in seconds at the least)."""
WIDE = (120, 32)
"""Columns and rows from which the curves, the table and the samples are all shown at once."""
PARTS = ("curves", "table", "samples")


class CompareApp(App[int]):
    CSS_PATH = "compare.tcss"
    TITLE = "vae-tui --compare"
    BINDINGS = [  # noqa: RUF012 - Textual's convention
        Binding("left_square_bracket", "step(-1)", "Epoch", key_display="[ ]"),
        Binding("right_square_bracket", "step(1)", "Next epoch", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(1)", "Last", show=False),
        Binding("m", "next_metric", "Metric"),
        Binding("tab", "next_part", "Part", key_display="⇥", priority=True),  # before focus_next
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self, runs: list[RunSummary], graphics: Graphics = HALFBLOCK, driver_class: type[Driver] | None = None
    ) -> None:
        super().__init__(driver_class=driver_class)
        keep_no_color_working(self)
        self.runs = runs
        self.folders = tuple(str(run.path) for run in runs)
        self.graphics = graphics
        self.last = last_epoch(runs)
        self.epoch = self.last
        """The epoch shown (the samples, the curves' line); it follows the latest while there."""
        self.part = 0
        """The part shown when only one fits (`PARTS`)."""
        self.problem = ""
        self.window: Size | None = None
        """The latest Resize's size: what the layout is for."""

    def compose(self) -> ComposeResult:
        yield TextLines(id="caption")
        with Horizontal(id="top"):
            yield CompareCurves(id="curves")
            yield CompareTable(id="table")
        with Horizontal(id="samples"):
            for _, colour in zip(self.runs, COLOURS, strict=False):
                yield SamplesPanel(colour, self.graphics)
        yield Footer()

    def on_mount(self) -> None:
        self.set_focus(None)
        self.apply_size()
        self.show_all()
        self.set_interval(REREAD_SECONDS, self.reread)
        if self.graphics.notice:
            self.notify(self.graphics.notice, title="Graphics", severity="warning", timeout=10)

    def on_resize(self, event: events.Resize) -> None:
        self.window = event.size  # (the app's own size is still the old one while this runs)
        self.apply_size()

    @property
    def narrow(self) -> bool:
        size = self.window or self.size
        return size.width < WIDE[0] or size.height < WIDE[1]

    def apply_size(self) -> None:
        screen = self.screen
        screen.set_class(self.narrow, "narrow")
        for i, part in enumerate(PARTS):
            screen.set_class(i == self.part, f"part-{part}")
        self.show_caption()

    # -- what is shown -----------------------------------------------------------------------
    def show_all(self) -> None:
        self.query_one(CompareCurves).show(self.runs, self.epoch, self.last)
        self.query_one(CompareTable).show(self.runs)
        self.show_samples()
        self.show_caption()

    def show_samples(self) -> None:
        for panel, run in zip(self.query(SamplesPanel), self.runs, strict=True):
            panel.show(run, self.epoch)

    def show_caption(self) -> None:
        runs = self.runs
        text = f"Epoch {self.epoch} of {planned_epochs(runs)}" if self.last else "No epoch has ended yet"
        text += f" · {len(runs)} runs"
        if self.narrow:
            text += " · " + " ".join(f"[{p}]" if i == self.part else p for i, p in enumerate(PARTS))
        if training := [run.name for run in runs if run.training]:
            text += f" · training: {', '.join(training)}"
        if self.problem:
            text += f" · {self.problem}"
        self.query_one("#caption", TextLines).set(text)

    def reread(self) -> None:
        """Read the folders again; redraw what changed (a run still training moves on)."""
        try:
            runs = read_runs(self.folders)
        except CompareError as e:  # a folder deleted or garbled meanwhile: keep what was read
            self.problem = str(e)
            self.show_caption()
            return
        self.problem = ""
        if runs == self.runs:
            self.show_samples()  # a picture missing before may have been written since
            return
        at_head = self.epoch == self.last
        self.runs, self.last = runs, last_epoch(runs)
        if at_head:
            self.epoch = self.last
        self.show_all()

    # -- keys --------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_part":
            return self.narrow
        if action == "next_metric":
            return self.query_one(CompareCurves).single and (not self.narrow or self.part == 0)
        return True

    def action_step(self, delta: int) -> None:
        self.go_to(self.epoch + delta)

    def action_jump(self, to_last: int) -> None:
        self.go_to(self.last if to_last else 1)

    def go_to(self, epoch: int) -> None:
        epoch = min(max(epoch, min(1, self.last)), self.last)
        if epoch == self.epoch:
            return
        self.epoch = epoch
        self.query_one(CompareCurves).show(self.runs, self.epoch, self.last)
        self.show_samples()
        self.show_caption()

    def action_next_metric(self) -> None:
        self.query_one(CompareCurves).next_metric()

    def action_next_part(self) -> None:
        self.part = (self.part + 1) % len(PARTS)
        self.apply_size()
        self.refresh_bindings()
        self.call_after_refresh(self.show_all)  # the part just shown is laid out first


def make_compare_app(
    request: Request, graphics: Graphics = HALFBLOCK, driver_class: type[Driver] | None = None
) -> CompareApp:
    """The app for `--compare` (the CLI's and the tests'); CompareError when a folder is not a run."""
    return CompareApp(read_runs(request.compare), graphics, driver_class)


def run_compare(request: Request) -> int:
    """Read the folders (a bad one: one line, exit 2, before the screen changes), then show them."""
    runs = read_runs(request.compare)
    graphics = resolve(request.graphics or "halfblock")  # queries the terminal: before the App reads it
    app = CompareApp(runs, graphics, terminal_driver())
    app.run()
    return app.return_code or 0
