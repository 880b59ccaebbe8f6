"""`--compare`'s table: the settings in which the runs differ, then each run's final numbers.

A column per run, headed by its name in its colour; the rows are `core/compare.table_rows`'
(the settings all runs share are left out: they explain no difference). Redrawn only when what
the folders say changes, every few seconds at most.
"""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from vae_tui.core.compare import RunSummary, table_rows

from .compare_curves import COLOURS


class CompareTable(Static):
    DEFAULT_CSS = """
    CompareTable { height: auto; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: list[tuple[str, list[str]]] = []
        """Every row shown (settings, then final numbers): what the tests read."""

    def show(self, runs: list[RunSummary]) -> None:
        settings, finals = table_rows(runs)
        if self.rows == settings + finals:
            return
        self.rows = settings + finals
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
        table.add_column("", style="bold", no_wrap=True)
        for run, colour in zip(runs, COLOURS, strict=False):
            table.add_column(Text(run.name, style=f"bold {colour}"), overflow="ellipsis", no_wrap=True)
        if not settings:
            table.add_row(Text("same settings", style="dim"), *[""] * len(runs))
        for label, values in settings:
            table.add_row(label, *values)
        table.add_section()
        for label, values in finals:
            table.add_row(label, *values)
        self.update(table)
