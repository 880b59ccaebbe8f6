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
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import TabbedContent

from .browse import BROWSE_ACTIONS, OPEN_THEIR_VIEW, Changes, Part
from .keymap import BINDINGS as KEYMAP
from .keymap import VIEW_KEYS
from .layout import (
    TabView,
    ViewSources,
    fit_to_model,
    fit_to_size,
    view_id,
    visible_tabs,
)
from .widgets.losses import LossPanel
from .widgets.views import ImageView, SelectionChanged


class AppSide(ViewSources, Protocol):
    """What the screen needs of the app (which it cannot import: the app imports it)."""

    def sync_bindings(self) -> None: ...


class MainScreen(Screen):
    """The default screen, with Tab switching tabs instead of moving focus (nothing here takes it)."""

    AUTO_FOCUS = None  # a focused Tabs widget would take ←/→ from the image views

    BINDINGS = KEYMAP  # every key but the quit keys, in the Footer's order

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
        fit_to_model(self, self.state.decoder.latent_dim if self.state.decoder else None)
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
        if action == "zoom":  # only where the loss plots are beside the views, or to bring them back
            return self.has_class("zoomed") or not self.has_class("narrow")
        if action not in (*BROWSE_ACTIONS, "view", "reach", "cursor"):
            return True
        if self.state.decoder is None:
            return False  # nothing to browse before the model is there
        try:
            view = self.active_view()
        except NoMatches:
            return False
        if action == "view":
            return view is not None and view.takes(str(parameters[0]))
        if action == "reach":  # ↑↓ and n where their own view is not shown: they open it
            return parameters[0] in OPEN_THEIR_VIEW and (view is None or not view.takes(str(parameters[0])))
        return view is not None and view.takes(action)

    def browse_keys_offered(self) -> tuple[bool | None, ...]:
        """What `check_action` says of each browsing key now (the Footer is rebuilt when it changes)."""
        return tuple(self.check_action(action, ()) for action in (*BROWSE_ACTIONS, "cursor", "zoom")) + tuple(
            self.check_action("view", (name,)) for name in VIEW_KEYS
        )

    def key_seen(self, key: str) -> None:
        """Every key press, before its binding acts: a view's animation stops on any key."""
        with contextlib.suppress(NoMatches):
            for view in self.query(ImageView):
                view.key_seen(key)

    def selected_here(self) -> Part | None:
        """What ←/→ select on the view shown (nothing on the losses tab)."""
        view = self.active_view()
        return view.selects() if view is not None else None

    def apply(self, changes: Changes, action: str) -> None:
        """After a browsing key: mark the views that draw what it changed out of date, and redraw
        the one shown if it takes the key; else open the first view that does (it draws as its
        tab opens)."""
        self.mark_stale(changes)
        shown = self.active_view()
        if shown is not None and shown.takes(action):
            shown.update_view()
            return
        for tab in visible_tabs(self):
            view = self.view(tab)
            if isinstance(view, ImageView) and view.takes(action):
                self.action_show_tab(tab)
                return

    def mark_stale(self, changes: Changes) -> None:
        for view in self.query(ImageView):
            if view.DRAWS & changes:
                view.stale = True

    @on(SelectionChanged)
    def selection_changed(self, event: SelectionChanged) -> None:
        """A change a view made by itself (a dialog's answer, a worker's result): redraw what
        shows it, but never open another tab — the user may have moved on since."""
        self.mark_stale(event.changes)
        self.active_view_update()

    def action_show_tab(self, tab: str) -> None:
        if tab not in visible_tabs(self):
            return  # the losses beside the views (or none); the manifold of a model not 2-D
        self.query_one(TabbedContent).active = tab

    def action_next_tab(self, step: int = 1) -> None:
        visible = visible_tabs(self)
        tabs = self.query_one(TabbedContent)
        current = visible.index(tabs.active) if tabs.active in visible else 0
        tabs.active = visible[(current + step) % len(visible)]

    def action_reach(self, action: str, *arguments: int) -> None:
        """↑↓ or n on a tab whose view does not take them: they act, and open the view that does."""
        getattr(self, f"action_{action}")(*arguments)

    def action_browse(self, delta: int) -> None:
        if self.state.decoder is None or self.arrows_here(delta, 0):
            return
        selected = self.selected_here()
        if selected is not None:
            self.apply(self.state.select(delta, selected), "browse")

    def action_dimension(self, delta: int) -> None:
        if self.state.decoder is None or self.arrows_here(0, delta):
            return
        self.apply(self.state.select_dimension(delta, self.selected_here()), "dimension")

    def action_cursor(self, dx: int, dy: int) -> None:
        """The arrows where the view shown moves a cursor with them (the map's): its `arrows`."""
        if self.state.decoder is not None:
            self.arrows_here(dx, dy)

    def arrows_here(self, dx: int, dy: int) -> bool:
        """Whether the view shown took an arrow key for itself (the map's cursor)."""
        view = self.active_view()
        changes = view.arrows(dx, dy) if view is not None else None
        if changes is None:
            return False
        self.apply(changes, "arrows")
        return True

    def action_view(self, name: str) -> None:
        """A key of the view shown (`keymap.view_key`): the view applies it to the selection."""
        view = self.active_view()
        if self.state.decoder is None or view is None or not view.takes(name):
            return
        self.apply(view.act(name), name)
        self.app_side.sync_bindings()  # a mode a key switches can change the keys offered

    def action_zoom(self) -> None:
        """The image views take the whole width: the loss plots move to their tab (and back)."""
        self.toggle_class("zoomed")
        self.fit(self.size.width, self.size.height, self.has_class("no-history"))

    def action_history(self, delta: int) -> None:
        """[ / ]: the previous or next kept epoch (] at the last: the head). The views and the
        plots' cursor follow; new epochs never move a user off a past one."""
        kept = self.state.kept
        if kept is None:
            return
        epoch, note = kept.step(self.state, delta)
        if note:
            self.notify(note, title="Epochs", timeout=4)
        if epoch != self.state.history_epoch:
            self.state.history_epoch = epoch
            kept.history.set_cursor(epoch)  # the plots mark it at their next 2 Hz redraw:
            self.views_changed()  # redrawing them here too doubled the key's latency (~60 ms)
            self.app_side.sync_bindings()  # (the traversal's scrubbing keys come and go)

    def action_export(self) -> None:
        """e: the view shown as a PNG at its real pixels, enlarged, in the run's export/ folder."""
        from .export_view import export_from  # noqa: PLC0415 - only when asked

        message, severity = export_from(self.app, self.active_view())
        self.notify(message, title="Export", severity=severity, timeout=8)  # type: ignore[arg-type]

    def action_toggle_base(self) -> None:
        self.apply(self.state.toggle_base(), "toggle_base")
        self.app_side.sync_bindings()  # around z = 0, ←/→ have nothing to select

    def action_new_samples(self) -> None:
        if self.state.decoder is None:
            return
        self.apply(self.state.new_draw(), "new_samples")
