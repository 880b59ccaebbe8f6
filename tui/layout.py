"""The main screen's layout: the tab registry, what is composed, and what shows at which size.

A view is a tab here (its id, its title, and how to build its widget): the tab's number key, its
place in Tab's cycle, its pane and its widget's id all follow from `TABS`. What the view draws and
which browsing keys it takes, its widget class declares (`widgets/views.py`): adding a view is a
widget class and an entry here. The loss plots are a side panel when the terminal is wide, and a
tab of their own when it is narrow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static, TabbedContent, TabPane

from .browse import BrowseState
from .graphics import Graphics
from .widgets.losses import LossHistory, LossPanel
from .widgets.status import StatusPanel
from .widgets.views import ImageView, ReconstructionView, SamplesView, TraversalView

NARROW_WIDTH = 110  # below this the loss plots move into their own tab
MIN_SIZE = (40, 12)  # below this only a "terminal too small" note is shown
LOSSES = "losses"
FIRST_TAB = "recon"  # what opens first (training at a narrow width shows the losses instead)


class ViewSources(Protocol):
    """What the views draw (the app's): the loss history, the selection, and how to draw."""

    history: LossHistory
    state: BrowseState
    graphics: Graphics


@runtime_checkable
class TabView(Protocol):
    """What every tab's widget does when its tab opens: draw what went out of date while hidden."""

    def tab_shown(self) -> None: ...


Build = Callable[[ViewSources, str], Widget]
"""A tab's widget, from what the views draw and the widget id it gets (`view_id`)."""


@dataclass(frozen=True)
class Tab:
    id: str
    title: str
    key_name: str
    """The number key's description (in Textual's key panel)."""
    build: Build


def image_view(view: type[ImageView]) -> Build:
    """How a tab builds an image view: on the shared selection, drawn as `--graphics` says."""
    return lambda sources, id: view(sources.state, id=id, graphics=sources.graphics)


TABS: tuple[Tab, ...] = (
    Tab(LOSSES, "Losses", "Losses", lambda sources, id: LossPanel(sources.history, id=id)),
    Tab("recon", "Reconstructions", "Recon", image_view(ReconstructionView)),
    Tab("samples", "Samples", "Samples", image_view(SamplesView)),
    Tab("traversal", "Traversal", "Traversal", image_view(TraversalView)),
)


def view_id(tab: str) -> str:
    """The widget id of a tab's view (the tab's own id is its pane's)."""
    return f"view-{tab}"


def tab_keys() -> list[Binding]:
    """1, 2, …: one key per tab, in the registry's order."""
    return [
        Binding(str(number), f"show_tab('{tab.id}')", tab.key_name, show=False)
        for number, tab in enumerate(TABS, 1)
    ]


def compose_main(sources: ViewSources) -> ComposeResult:
    yield StatusPanel(id="status")
    with Horizontal(id="main"):
        yield LossPanel(sources.history, id="side-losses")
        with TabbedContent(id="tabs", initial=FIRST_TAB):
            for number, tab in enumerate(TABS, 1):
                with TabPane(f"{number} {tab.title}", id=tab.id):
                    yield tab.build(sources, view_id(tab.id))
    yield Static(f"Terminal too small: vae-tui needs at least {MIN_SIZE[0]}×{MIN_SIZE[1]}", id="too-small")
    # Every key fits in 80 columns only without the palette hint (Ctrl+P still opens it).
    yield Footer(compact=True, show_command_palette=False)


def fit_to_size(screen: Screen, width: int, height: int, no_history: bool) -> None:
    """Set the screen's size classes (app.tcss lays them out) and show the losses tab only
    where the plots are not beside the views, and there are plots."""
    screen.set_class(width < MIN_SIZE[0] or height < MIN_SIZE[1], "tiny")
    screen.set_class(no_history, "no-history")
    narrow = width < NARROW_WIDTH or no_history
    screen.set_class(narrow, "narrow")
    tabs = screen.query_one(TabbedContent)
    if losses_tab_shown(screen):
        tabs.show_tab(LOSSES)
    else:
        if tabs.active == LOSSES:
            tabs.active = FIRST_TAB
        tabs.hide_tab(LOSSES)


def losses_tab_shown(screen: Screen) -> bool:
    return screen.has_class("narrow") and not screen.has_class("no-history")


def visible_tabs(screen: Screen) -> list[str]:
    """The tabs Tab cycles through, in order."""
    return [tab.id for tab in TABS if tab.id != LOSSES or losses_tab_shown(screen)]
