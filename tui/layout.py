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
from .widgets.interpolation import InterpolationView
from .widgets.latent_health import LatentHealthView
from .widgets.latent_map import LatentMapView
from .widgets.losses import LossHistory, LossPanel
from .widgets.manifold import ManifoldView
from .widgets.reconstructions import ReconstructionView
from .widgets.status import StatusPanel
from .widgets.traversal import TraversalView
from .widgets.views import ImageView, SamplesView

NARROW_WIDTH = 110  # below this the loss plots move into their own tab
MIN_SIZE = (40, 12)  # below this only a "terminal too small" note is shown
LOSSES = "losses"
PLANE = "latent-plane"  # screen class: the model shown has a 2-D latent space
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
    plane_only: bool = False
    """Shown only for models with a 2-D latent space (the decoded manifold covers the plane)."""


def image_view(view: type[ImageView]) -> Build:
    """How a tab builds an image view: on the shared selection, drawn as `--graphics` says."""
    return lambda sources, id: view(sources.state, id=id, graphics=sources.graphics)


def latent_health_view(sources: ViewSources, id: str) -> LatentHealthView:
    """The latent health view also draws the active units by epoch of the loss history."""
    return LatentHealthView(sources.state, id=id, graphics=sources.graphics, history=sources.history)


TABS: tuple[Tab, ...] = (
    Tab(LOSSES, "Losses", "Losses", lambda sources, id: LossPanel(sources.history, id=id)),
    Tab("recon", "Recon", "Reconstructions", image_view(ReconstructionView)),
    Tab("samples", "Samples", "Samples", image_view(SamplesView)),
    Tab("traversal", "Traversal", "Traversal", image_view(TraversalView)),
    Tab("interp", "Interp", "Interp", image_view(InterpolationView)),
    Tab("map", "Map", "Map", image_view(LatentMapView)),
    Tab("latents", "Latents", "Latents", latent_health_view),
    Tab("manifold", "Manifold", "Manifold", image_view(ManifoldView), plane_only=True),
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
    narrow = width < NARROW_WIDTH or no_history or screen.has_class("zoomed")
    screen.set_class(narrow, "narrow")
    show_tabs(screen)


def fit_to_model(screen: Screen, latent_dim: int | None) -> None:
    """Show the tabs of the model shown: the manifold only for a 2-D latent space."""
    if screen.has_class(PLANE) != (latent_dim == 2):
        screen.set_class(latent_dim == 2, PLANE)
        show_tabs(screen)


def show_tabs(screen: Screen) -> None:
    """Show the tabs that apply now and hide the others (if the one open goes, the first opens)."""
    tabs = screen.query_one(TabbedContent)
    for tab in TABS:
        if tab.id != LOSSES and not tab.plane_only:
            continue  # (always shown)
        if tab_shown(screen, tab):
            tabs.show_tab(tab.id)
        else:
            if tabs.active == tab.id:
                tabs.active = FIRST_TAB
            tabs.hide_tab(tab.id)


def losses_tab_shown(screen: Screen) -> bool:
    return screen.has_class("narrow") and not screen.has_class("no-history")


def tab_shown(screen: Screen, tab: Tab) -> bool:
    if tab.id == LOSSES:
        return losses_tab_shown(screen)
    return not tab.plane_only or screen.has_class(PLANE)


def visible_tabs(screen: Screen) -> list[str]:
    """The tabs Tab cycles through, in order."""
    return [tab.id for tab in TABS if tab_shown(screen, tab)]
