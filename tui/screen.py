"""The main screen: the keymap, and the keys that browse the views and switch tabs.

Every key but the quit keys (the app's, with the exit policy) is bound here, in the Footer's
order: a Footer lists the screen's keys before the app's. The training keys (space, r, s) are
`app.` actions; the rest act on what this screen shows. The rules of each browsing key are
`BrowseState`'s; the actions here apply them and redraw what changed.
"""

from __future__ import annotations

from typing import Protocol

from textual import on
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import TabbedContent

from .browse import BROWSE_ACTIONS
from .layout import (
    LOSSES,
    TABS,
    ViewSources,
    fit_to_size,
    losses_tab_shown,
    tab_keys,
    visible_tabs,
)
from .widgets.losses import LossPanel
from .widgets.views import ImageView, ReconstructionView, SamplesView, TraversalView


class AppSide(ViewSources, Protocol):
    """What the screen needs of the app (which it cannot import: the app imports it)."""

    def sync_bindings(self) -> None: ...


class MainScreen(Screen):
    """The default screen, with Tab switching tabs instead of moving focus (nothing here takes it)."""

    AUTO_FOCUS = None  # a focused Tabs widget would take ←/→ from the image views

    BINDINGS = [  # noqa: RUF012
        Binding("tab", "next_tab", "Tab", key_display=f"⇥ 1-{len(TABS)}"),
        Binding("shift+tab", "next_tab(-1)", "Previous tab", show=False),
        Binding("left", "browse(-1)", "Image", key_display="←→"),
        Binding("right", "browse(1)", "Next image", show=False),
        Binding("up", "dimension(-1)", "Dim", key_display="↑↓"),
        Binding("down", "dimension(1)", "Next dim", show=False),
        *tab_keys(),
        # One key, two bindings: the Footer offers the one that applies (see the app's check_action).
        Binding("space", "app.pause", "Pause", key_display="␣"),
        Binding("space", "app.resume", "Resume", key_display="␣"),
        Binding("n", "new_samples", "New z"),
        Binding("z", "toggle_base", "Base"),
        Binding("r", "app.refresh_model", "Redraw"),
        Binding("s", "app.save", "Save"),
    ]

    def __init__(self, app_side: AppSide, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.app_side = app_side
        self.state = app_side.state

    # -- layout ------------------------------------------------------------------------------
    def fit(self, width: int, height: int, no_history: bool) -> None:
        fit_to_size(self, width, height, no_history)
        self.call_after_refresh(self.redraw_all)

    @property
    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active

    def active_view(self) -> ImageView | None:
        active = self.active_tab
        return next((v for v in self.query(ImageView) if v.id == f"view-{active}"), None)

    def active_view_update(self) -> None:
        if view := self.active_view():
            view.update_view()

    def views_changed(self) -> None:
        """The pictures are out of date (new weights, or a caption's wording): redraw the one
        shown, the others when they are."""
        for view in self.query(ImageView):
            view.stale = True
        self.active_view_update()

    def redraw_all(self) -> None:
        self.views_changed()
        for panel in self.query(LossPanel):
            panel.redraw(force=True)

    @on(TabbedContent.TabActivated)
    def tab_changed(self) -> None:
        self.call_after_refresh(self.active_view_update)  # once the new pane has its size
        self.query_one("#tab-losses", LossPanel).redraw(force=True)
        self.app_side.sync_bindings()

    # -- keys --------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer a key only where it acts: the Footer hides the others, and they do nothing."""
        if action not in BROWSE_ACTIONS:
            return True
        try:
            return self.state.offers(action, self.active_tab)
        except NoMatches:
            return False

    def action_show_tab(self, tab: str) -> None:
        if tab == LOSSES and not losses_tab_shown(self):
            return  # the loss plots are always on screen at this width (or there are none)
        self.query_one(TabbedContent).active = tab

    def action_next_tab(self, step: int = 1) -> None:
        visible = visible_tabs(self)
        tabs = self.query_one(TabbedContent)
        current = visible.index(tabs.active) if tabs.active in visible else 0
        tabs.active = visible[(current + step) % len(visible)]

    def action_browse(self, delta: int) -> None:
        if self.state.decoder is None:
            return
        changed = self.state.select(delta, self.active_tab)
        self.query_one(SamplesView if changed == "samples" else ReconstructionView).stale = True
        self.query_one(TraversalView).stale = True
        self.active_view_update()

    def action_dimension(self, delta: int) -> None:
        if self.state.decoder is None:
            return
        self.state.select_dimension(delta, self.active_tab)
        view = self.query_one(TraversalView)
        view.stale = True
        if self.active_tab != "traversal":
            self.action_show_tab("traversal")
        else:
            view.update_view()

    def action_toggle_base(self) -> None:
        self.state.zero_base = not self.state.zero_base
        self.query_one(TraversalView).update_view(force=True)
        self.app_side.sync_bindings()  # around z = 0, ←/→ have nothing to select

    def action_new_samples(self) -> None:
        if self.state.decoder is None:
            return
        self.state.new_draw()
        self.query_one(TraversalView).stale = True  # it may be around a sample
        if self.active_tab != "samples":
            self.action_show_tab("samples")
        self.query_one(SamplesView).update_view(force=True)
