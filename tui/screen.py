"""The main screen: the keymap, and the keys that browse the views and switch tabs.

Every key but the quit keys (the app's, with the exit policy) is bound here, in the Footer's
order: a Footer lists the screen's keys before the app's. The training keys (space, r, s) are
`app.` actions; the rest act on what this screen shows. The rules of each browsing key are
`BrowseState`'s; the actions here apply them, redraw the views that draw what changed, and ask
the view shown which keys it takes (no view is named here: each declares its own).
"""

from __future__ import annotations

import contextlib
from typing import Protocol

from textual import on
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import TabbedContent

from .browse import BROWSE_ACTIONS, OPEN_THEIR_VIEW, Changes, Part
from .layout import (
    LOSSES,
    TABS,
    TabView,
    ViewSources,
    fit_to_size,
    losses_tab_shown,
    tab_keys,
    view_id,
    visible_tabs,
)
from .widgets.losses import LossPanel
from .widgets.views import ImageView


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

    def view(self, tab: str) -> Widget:
        return self.query_one(f"#{view_id(tab)}")

    def active_view(self) -> ImageView | None:
        """The image view shown, if the tab shown has one."""
        tab = self.active_tab  # (a query: read once)
        view = self.view(tab) if tab else None
        return view if isinstance(view, ImageView) else None

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
        self.call_after_refresh(self.active_tab_shown)  # once the new pane has its size
        self.app_side.sync_bindings()

    def active_tab_shown(self) -> None:
        with contextlib.suppress(NoMatches):  # (the app may have closed meanwhile)
            if isinstance(view := self.view(self.active_tab), TabView):
                view.tab_shown()

    # -- keys --------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer a key only where it acts: the Footer hides the others, and they do nothing."""
        if action not in BROWSE_ACTIONS:
            return True
        if self.state.decoder is None:
            return False  # nothing to browse before the model is there
        try:
            view = self.active_view()
        except NoMatches:
            return False
        return (view is not None and view.takes(action)) or action in OPEN_THEIR_VIEW

    def browse_keys_offered(self) -> tuple[bool | None, ...]:
        """What `check_action` says of each browsing key now (the Footer is rebuilt when it changes)."""
        return tuple(self.check_action(action, ()) for action in BROWSE_ACTIONS)

    def selected_here(self) -> Part | None:
        """What ←/→ select on the view shown (nothing on the losses tab)."""
        view = self.active_view()
        return view.selects() if view is not None else None

    def apply(self, changes: Changes, action: str) -> None:
        """After a browsing key: mark the views that draw what it changed out of date, and redraw
        the one shown if it takes the key; else open the first view that does (it draws as its
        tab opens)."""
        for view in self.query(ImageView):
            if view.DRAWS & changes:
                view.stale = True
        shown = self.active_view()
        if shown is not None and shown.takes(action):
            shown.update_view()
            return
        for tab in visible_tabs(self):
            view = self.view(tab)
            if isinstance(view, ImageView) and view.takes(action):
                self.action_show_tab(tab)
                return

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
        selected = self.selected_here()
        if self.state.decoder is None or selected is None:
            return
        self.apply(self.state.select(delta, selected), "browse")

    def action_dimension(self, delta: int) -> None:
        if self.state.decoder is None:
            return
        self.apply(self.state.select_dimension(delta, self.selected_here()), "dimension")

    def action_toggle_base(self) -> None:
        self.apply(self.state.toggle_base(), "toggle_base")
        self.app_side.sync_bindings()  # around z = 0, ←/→ have nothing to select

    def action_new_samples(self) -> None:
        if self.state.decoder is None:
            return
        self.apply(self.state.new_draw(), "new_samples")
