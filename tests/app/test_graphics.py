"""--graphics: the flag, the choice of renderer, and the app drawing through textual-image.

Under pytest stdout is captured (not a terminal), so a real probe always falls back; the app
tests pass the chosen renderer in, as `graphics.resolve` would on a sixel or kitty terminal.
textual-image itself is real: its sixel encoder runs in every render here.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from vae_tui.tui.app import VaeApp, make_app
from vae_tui.tui.cli import build_parser, parse_request
from vae_tui.tui.graphics import HALFBLOCK, Graphics, Support, choose
from vae_tui.tui.widgets.halfblock import HalfBlockView
from vae_tui.tui.widgets.protocol_image import ProtocolImageView, colours_first, enlarge
from vae_tui.tui.widgets.reconstructions import ReconstructionView
from vae_tui.tui.widgets.traversal import TraversalView
from vae_tui.tui.widgets.views import SamplesView

from ..helpers import run_cli
from .helpers import DATA, kl_order, wait_for


def _cell() -> tuple[int, int]:
    """The cell size textual-image renders with (its guess, or TEXTUAL_CELL_*, without a terminal)."""
    from textual_image._terminal import get_cell_size

    width, height = get_cell_size()
    return width, height


CELL = _cell()


@pytest.mark.parametrize("value", ["auto", "halfblock", "kitty", "sixel"])
def test_the_flag_takes_each_renderer(value: str) -> None:
    assert build_parser().parse_args(["--graphics", value]).graphics == value


def test_the_flag_is_unset_unless_given() -> None:
    """Unset, the app draws half-blocks; set, it also tells --train-only and --eval apart."""
    assert parse_request([]).graphics is None
    assert parse_request(["--graphics", "halfblock"]).graphics == "halfblock"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--graphics", "png"], "argument --graphics: invalid choice: 'png'"),
        (["--graphics", "sixel", "--train-only"], "--graphics only applies to the app"),
        (["--graphics", "kitty", "--eval", "--checkpoint", "m.pt"], "--graphics only applies to the app"),
    ],
)
def test_bad_uses_get_one_line_and_exit_2(args: list[str], expected: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and expected in result.stderr


def test_choice_of_renderer() -> None:
    nothing, sixel = Support(reason="no sixel here"), Support(sixel=True, cell=(9, 18))
    kitty = Support(kitty=True, cell=(8, 16))
    assert choose("halfblock", sixel) is HALFBLOCK
    assert choose("auto", nothing) == HALFBLOCK  # auto falls back silently
    assert choose("auto", sixel) == Graphics("sixel", (9, 18))
    assert choose("auto", kitty) == Graphics("kitty", (8, 16))
    assert choose("kitty", kitty) == Graphics("kitty", (8, 16))
    for wanted, support in (("sixel", nothing), ("sixel", kitty), ("kitty", sixel)):
        chosen = choose(wanted, support)
        assert chosen.kind == "halfblock" and not chosen.protocol
        assert chosen.notice.startswith(f"--graphics {wanted}: ") and "half-block" in chosen.notice


def python_lines(code: str) -> list[str]:
    """What `code` prints, run in a fresh interpreter with no terminal on stdin."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL
    )
    return done.stdout.splitlines()


def test_no_terminal_means_half_block_without_touching_textual_image() -> None:
    """Importing textual-image queries the terminal: without one it must not even be imported."""
    code = (
        "import sys\nfrom vae_tui.tui.graphics import resolve\n"
        "print(resolve('sixel').notice)\nprint(resolve('auto'))\n"
        "import vae_tui.tui.app\nprint('textual_image' in sys.modules)\n"
    )
    out = python_lines(code)
    assert out[0] == (
        "--graphics sixel: stdin, stdout and stderr are not all the terminal; "
        "images are drawn in half-block cells"
    )
    assert out[1] == repr(HALFBLOCK) and out[2] == "False"


def test_help_does_not_import_textual_image() -> None:
    code = "import sys\nfrom vae_tui.tui.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\nprint('textual_image' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "--graphics {auto,halfblock,kitty,sixel}" in out and out.strip().endswith("False")


def test_enlarge_repeats_pixels_and_centres_them() -> None:
    grid = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    canvas = enlarge(grid, 4, (20, 10), (7, 8, 9))
    assert canvas.shape == (10, 20, 3)
    top, left = (10 - 8) // 2, (20 - 12) // 2
    np.testing.assert_array_equal(canvas[top : top + 8 : 4, left : left + 12 : 4], grid)
    assert (canvas[:top] == (7, 8, 9)).all() and (canvas[:, :left] == (7, 8, 9)).all()


def test_sixel_colours_are_defined_before_the_first_band() -> None:
    raw = '\x1bP0;0;0q"1;1;4;6#1;2;7;7;7!4~-#4;2;100;69;0!2~#1!2~$#2;2;0;0;0!4?-\x1b\\'
    fixed = colours_first(raw)
    assert fixed == '\x1bP0;0;0q"1;1;4;6#1;2;7;7;7#4;2;100;69;0#2;2;0;0;0#1!4~-#4!2~#1!2~$#2!4?-\x1b\\'
    assert colours_first(raw.replace("#1!2~", "#1;2;9;9;9!2~")) == raw.replace("#1!2~", "#1;2;9;9;9!2~")


def graphic(app: VaeApp, view: type) -> ProtocolImageView:
    return app.query_one(view).query_one(ProtocolImageView)


def check_full_resolution(view: ProtocolImageView) -> None:
    """The picture handed to textual-image is the grid of 28-pixel tiles, enlarged `scale`×."""
    grid, scale = view.grid, view.scale
    assert grid is not None and grid.dtype == np.uint8 and grid.ndim == 3
    assert (grid.shape[1] - 2) % 30 == 0  # columns of 28-pixel tiles with 2-pixel gaps: not 2× smaller
    picture = np.asarray(view.query_one(".picture").image)
    width, height = view.pixel_size
    assert picture.shape == (height, width, 3) and height % 6 == 0  # exact pixels, whole sixel bands
    top, left = (height - grid.shape[0] * scale) // 2, (width - grid.shape[1] * scale) // 2
    shown = picture[top : top + grid.shape[0] * scale : scale, left : left + grid.shape[1] * scale : scale]
    np.testing.assert_array_equal(shown, grid)


async def test_app_draws_full_resolution_sixels_and_every_key_redraws() -> None:
    app = make_app(
        parse_request(["--checkpoint", str(DATA), "--test-limit", "50"]),
        graphics=Graphics("sixel", CELL),
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(
            pilot,
            # (and drawn at the view's final size: the header gains its run-details row as the
            # model opens, which shrinks the view by a row after its first picture)
            lambda: (
                app.state.decoder is not None
                and graphic(app, ReconstructionView).grid is not None
                and graphic(app, ReconstructionView).canvas_size
                == graphic(app, ReconstructionView).pixel_size
            ),
        )
        assert not app.query(HalfBlockView)  # no half-block view anywhere
        recon = graphic(app, ReconstructionView)
        check_full_resolution(recon)
        # Where half-block cells would shrink the tiles 2×, the protocol keeps them whole.
        assert "2× smaller" not in app.query_one(ReconstructionView).query_one(".caption").plain
        before = recon.grid.copy()
        await pilot.press("right")
        assert app.state.image == 1 and not np.array_equal(recon.grid, before)
        check_full_resolution(recon)
        await pilot.pause(0.1)
        sixels = recon.query_one(".picture").children[0]._cached_sixels.sixel_data
        assert sixels.startswith("\x1bP") and re.search(r'"1;1;\d+;\d+#\d+;2;', sixels)  # colours first

        await pilot.press("3")
        samples = graphic(app, SamplesView)
        await wait_for(pilot, lambda: samples.grid is not None)
        before = samples.grid.copy()
        await pilot.press("n")
        assert not np.array_equal(samples.grid, before)
        check_full_resolution(samples)

        await pilot.press("4", "down")
        traversal = graphic(app, TraversalView)
        await wait_for(pilot, lambda: traversal.grid is not None)
        assert app.state.dim == kl_order(app.state.decoder)[1]  # ↓ goes to the next row shown
        check_full_resolution(traversal)

        await pilot.resize_terminal(60, 18)
        await wait_for(
            pilot, lambda: traversal.grid is not None and traversal.canvas_size == traversal.pixel_size
        )
        await pilot.resize_terminal(30, 10)  # too small: a note, no crash
        await pilot.pause(0.1)
        await pilot.press("q")
    assert app.return_code == 0


async def test_app_runs_with_kitty_graphics(capfd: pytest.CaptureFixture[str]) -> None:
    """textual-image sends kitty images straight to stdout (that is why resolve() insists that
    stdout is the terminal); under the test it lands in the captured output."""
    app = make_app(
        parse_request(["--checkpoint", str(DATA), "--test-limit", "20"]),
        graphics=Graphics("kitty", CELL),
    )
    async with app.run_test(size=(90, 30)) as pilot:
        await wait_for(pilot, lambda: graphic(app, ReconstructionView).grid is not None)
        await pilot.press("right")
        await pilot.pause(0.1)
        check = graphic(app, ReconstructionView)
        assert (check.grid.shape[1] - 2) % 30 == 0
        await pilot.press("q")
    assert app.return_code == 0
    assert "\x1b_Ga=p" in capfd.readouterr().out  # a virtual placement was sent


async def test_notice_is_shown_once_in_the_app() -> None:
    notice = choose("sixel", Support(reason="no")).notice
    app = make_app(
        parse_request(["--checkpoint", str(DATA), "--test-limit", "20"]),
        graphics=Graphics(notice=notice),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        assert [n.message for n in app._notifications].count(notice) == 1
        assert app.query(HalfBlockView) and not app.query(ProtocolImageView)
        await pilot.press("q")
    assert app.return_code == 0


def test_the_factory_draws_as_the_request_asks() -> None:
    """`make_app` builds the app the CLI runs: `--graphics` resolved on this terminal (here none,
    so a protocol falls back with its notice), half-block when not given, with no query."""
    code = (
        "import sys\nfrom vae_tui.tui.app import make_app\nfrom vae_tui.tui.cli import parse_request\n"
        "print(make_app(parse_request([])).graphics)\nprint('textual_image' in sys.modules)\n"
        "print(make_app(parse_request(['--graphics', 'sixel'])).graphics.notice)\n"
    )
    out = python_lines(code)
    assert out[:2] == [repr(HALFBLOCK), "False"]
    assert out[2] == (
        "--graphics sixel: stdin, stdout and stderr are not all the terminal; "
        "images are drawn in half-block cells"
    )
