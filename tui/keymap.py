"""The main screen's keys, in the Footer's order: one place to read (and the README's table).

A view-specific key is bound to `view('<name>')`: the screen hands `<name>` to the view shown
(`ImageView.act`), and offers the key only where that view `takes` it, so the Footer at 80 columns
lists the keys of one view, not of all eight. The training keys (space, r, s) are `app.` actions;
the quit keys are the app's own (`app.py`).
"""

from __future__ import annotations

from textual.binding import Binding

from .layout import tab_keys


def view_key(
    keys: str, name: str, description: str, *, key_display: str | None = None, show: bool = True
) -> Binding:
    return Binding(keys, f"view('{name}')", description, key_display=key_display, show=show)


BINDINGS: list[Binding] = [
    # The tab bar numbers the tabs, so the Footer need not: "⇥ 1-8" did not leave room at 80 columns.
    Binding("tab", "next_tab", "Tab", key_display="⇥"),
    Binding("shift+tab", "next_tab(-1)", "Previous tab", show=False),
    Binding("left", "browse(-1)", "Image", key_display="←→"),
    Binding("right", "browse(1)", "Next image", show=False),
    Binding("up", "dimension(-1)", "Dim", key_display="↑↓"),
    Binding("down", "dimension(1)", "Next dim", show=False),
    # The map's arrows move its cursor: the same keys again, offered where the view takes
    # "cursor" (then it takes neither ←→ nor ↑↓), before the hidden ↑↓ that open the traversal.
    Binding("left", "cursor(-1, 0)", "Cursor", key_display="←→↑↓"),
    Binding("right", "cursor(1, 0)", "Cursor right", show=False),
    Binding("up", "cursor(0, -1)", "Cursor up", show=False),
    Binding("down", "cursor(0, 1)", "Cursor down", show=False),
    *tab_keys(),
    # One key, two bindings: the Footer offers the one that applies (see the app's check_action).
    Binding("space", "app.pause", "Pause", key_display="␣"),
    Binding("space", "app.resume", "Resume", key_display="␣"),
    Binding("n", "new_samples", "New z"),
    # ↑↓ and n also act where their view is not shown (they open it), but the Footer offers
    # them only on it: the same keys again, hidden (`screen.check_action`).
    Binding("up", "reach('dimension', -1)", "Dim (opens the traversal)", show=False),
    Binding("down", "reach('dimension', 1)", "Next dim (opens the traversal)", show=False),
    Binding("n", "reach('new_samples')", "New z (opens the samples)", show=False),
    Binding("z", "toggle_base", "Base"),
    # Secondary keys (show=False) are in the README's table and Textual's key panel (ctrl+p).
    view_key("pageup", "page_up", "Page back", show=False),
    view_key("pagedown", "page_down", "Next page", show=False),
    view_key("home", "first", "First", show=False),
    view_key("end", "last", "Last", show=False),
    view_key("g", "goto", "Go to"),
    view_key("o", "order", "Order"),
    view_key("c", "class", "Class"),
    view_key("a", "mark_a", "Mark", key_display="a/b"),
    view_key("b", "mark_b", "Mark B", show=False),
    # The traversal's caption says what k does: its Footer at 80 columns has room for +/- and p instead.
    view_key("k", "kl_order", "KL order", show=False),
    view_key("plus,equals_sign,shift+right", "scrub_up", "Scrub", key_display="+/-"),
    view_key("minus,shift+left", "scrub_down", "Scrub down", show=False),
    view_key("p", "play", "Play"),
    view_key("l", "path_mode", "Linear/slerp"),
    # A past epoch's kept pictures and numbers (`past_epochs.py`); the views' captions name the keys.
    Binding("left_square_bracket", "history(-1)", "Epoch back", key_display="[", show=False),
    Binding("right_square_bracket", "history(1)", "Epoch on", key_display="]", show=False),
    # The view shown as a PNG in the run's export/ folder (the Footer at 80 columns has no room).
    Binding("e", "export", "Export view", show=False),
    Binding("f", "zoom", "Zoom"),
    Binding("r", "app.refresh_model", "Redraw"),
    Binding("s", "app.save", "Save"),
]

VIEW_KEYS: tuple[str, ...] = tuple(
    b.action.removeprefix("view('").removesuffix("')") for b in BINDINGS if b.action.startswith("view(")
)
"""The names a view may take (`ImageView.KEYS`), besides the browsing actions."""
