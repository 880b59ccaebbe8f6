"""The loss plots' axis ticks (tui/widgets/plot.py)."""

from __future__ import annotations

import pytest


def test_plot_ticks_never_repeat() -> None:
    """textual-plot gave [1.0, 1.0] on a hair-wide axis; its labels then took log10(0)."""
    from textual_plot.axis_formatter import NumericAxisFormatter

    from vae_tui.tui.widgets.plot import distinct

    assert distinct([1.0, 1.0, 1.0 + 1e-12, 2.0]) == [1.0, 2.0]
    with pytest.raises(ValueError, match="math domain"):  # what the app's plots met without it
        NumericAxisFormatter().get_labels_for_ticks([1.0, 1.0])
    assert NumericAxisFormatter().get_labels_for_ticks(distinct([1.0, 1.0])) == ["1"]
