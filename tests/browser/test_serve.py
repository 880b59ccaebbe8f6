"""`vae-tui --serve` in a real browser (Debian's chromium, headless): a training run outlives its
pages (a reload, a second tab), a page steers it (export as a download, the stop key), Ctrl-C on
the server stops the trainer cleanly and leaves no process, and --compare is served too.

Tiny runs on real MNIST, long enough (batches of 8) to still be training while the pages look;
generous timeouts: chromium, the server, the trainer and each page's app share 2 cores.
"""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vae_tui.core import requests as rq
from vae_tui.core.checkpoint import read_checkpoint
from vae_tui.core.runlock import trainer

from ..conftest import OLD_RUN
from ..swanlab_log import read_swanlab_log
from .page import VAE_TUI, VIEWPORT, Page, Served, mentioning, need_browser, wait_until

TINY = ["--hidden-dim", "32", "--latent-dim", "4", "--train-limit", "4096", "--test-limit", "256"]
TINY += ["--batch-size", "8", "--epochs", "2000", "--iwae-k", "0", "--seed", "0"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = need_browser()
    from .page import CHROMIUM

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser profile per test: its tabs close (and their apps end) with the test."""
    ctx = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def training(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Iterator[tuple[Served, Path]]:
    """One server training one run, shared by the tests below in order (the last one stops it)."""
    folder = tmp_path_factory.mktemp("serve")
    run = folder / "run"
    served = Served(folder / "server.log", "--run-dir", str(run), *TINY)
    try:
        yield served, run
    finally:
        served.end()


def trainers(run: Path) -> list[tuple[int, int, str]]:
    return [p for p in mentioning(f"--run-dir {run}") if "--train-only" in p[2]]


def watchers(run: Path) -> list[tuple[int, int, str]]:
    return mentioning(f"--watch={run}")


def step(run: Path) -> int:
    return int((rq.read_state(run) or {}).get("step") or 0)


def test_a_page_shows_the_live_run(training: tuple[Served, Path], context: Any) -> None:
    served, run = training
    assert f"training {run} (process " in served.output()
    page = Page(context, served.url)
    page.wait_text(r"WATCHING TRAINING")
    page.wait_text(r"WATCHING TRAINING epoch \d+/2000")
    assert run.name in page.text()
    # The image view draws the model's pictures: half-block cells in many true colours.
    cells, colours = wait_until(lambda: (c := page.image_cells())[0] > 300 and c, 120, "image cells")
    assert colours > 20, (cells, colours)
    page.screenshot("serve-training")
    assert len(trainers(run)) == 1


def test_a_reload_mid_training_goes_on_with_the_same_run(training: tuple[Served, Path], context: Any) -> None:
    served, run = training
    page = Page(context, served.url)
    page.wait_text(r"WATCHING TRAINING")
    holder = trainer(run)
    assert holder is not None
    before = step(run)
    page.reload()
    page.wait_text(r"WATCHING TRAINING")
    assert run.name in page.text()
    wait_until(lambda: step(run) > before + 100, 120, "training goes on after the reload")
    after = trainer(run)
    assert after is not None and after.pid == holder.pid  # the same trainer, not a new one
    assert len(trainers(run)) == 1
    wait_until(lambda: len(watchers(run)) == 1, 60, "the reloaded page's old app has ended")


def test_a_second_tab_is_a_second_view_of_the_one_trainer(
    training: tuple[Served, Path], context: Any
) -> None:
    served, run = training
    first, second = Page(context, served.url), Page(context, served.url)
    for page in (first, second):
        page.wait_text(r"WATCHING TRAINING")
        page.wait_text(rf"process {trainer(run).pid}")  # type: ignore[union-attr]
    assert len(watchers(run)) == 2 and len(trainers(run)) == 1
    first.page.close()  # closing a tab ends its app only
    wait_until(lambda: len(watchers(run)) == 1, 60, "the closed tab's app has ended")
    before = step(run)
    wait_until(lambda: step(run) > before, 60, "training goes on")


def test_e_in_the_page_downloads_the_view(training: tuple[Served, Path], context: Any) -> None:
    served, run = training
    page = Page(context, served.url)
    page.wait_text(r"WATCHING TRAINING")
    wait_until(lambda: page.image_cells()[0] > 300, 120, "a view to export")
    with page.page.expect_download(timeout=60_000) as info:
        page.press("e")
    download = info.value
    assert download.suggested_filename.endswith(".png")
    written = run / "export" / download.suggested_filename
    assert written.is_file()
    assert Path(download.path()).read_bytes() == written.read_bytes()
    page.wait_text(r"sent to this browser")


def test_the_stop_key_in_the_page_stops_training_and_saves(
    training: tuple[Served, Path], context: Any
) -> None:
    served, run = training
    page = Page(context, served.url)
    page.wait_text(r"WATCHING TRAINING")
    page.press("x")
    page.wait_text(r"again")  # stopping asks once
    assert trainers(run)
    page.press("x")
    wait_until(lambda: not trainers(run), 150, "the trainer stops")
    state = rq.read_state(run) or {}
    assert state.get("state") == "finished" and state.get("outcome") == "stopped", state
    saved = read_checkpoint(run / "checkpoint.pt")
    assert saved["step"] > 0 and saved["step"] == saved["epoch"] * 512 + saved["batch"]
    page.wait_text(r"stopped", timeout=60)
    page.screenshot("serve-stopped")
    served.wait_output(r"the trainer of \S+ finished or stopped; pages still show the run")
    assert served.proc.poll() is None  # the server goes on serving the stopped run


def test_ctrl_c_on_the_server_stops_the_trainer_and_leaves_no_process(
    tmp_path: Path, context: Any, mnist_dir: Path
) -> None:
    run = tmp_path / "run"
    served = Served(tmp_path / "server.log", "--run-dir", str(run), *TINY)
    try:
        page = Page(context, served.url)
        page.wait_text(r"WATCHING TRAINING")
        wait_until(lambda: step(run) > 50, 120, "training under way")
        sessions = {sid for pid, sid, _ in mentioning(str(run)) if pid != served.proc.pid}
        assert len(sessions) == 2  # the trainer's and the page's app's, each a group of its own
        assert len(trainers(run)) == 1 and len(watchers(run)) == 1
        served.proc.send_signal(signal.SIGINT)
        assert served.proc.wait(180) == 0, served.output()
    finally:
        served.end()
    assert "stopping the trainer" in served.output() and "stopped serving" in served.output()
    assert not mentioning(str(run)), mentioning(str(run))
    assert not [p for p in mentioning("vae") if p[1] in sessions]  # nothing left in their groups
    state = rq.read_state(run) or {}
    assert state.get("outcome") == "stopped", state
    saved = read_checkpoint(run / "checkpoint.pt")  # where it stopped, mid-epoch: resumable there
    assert saved["step"] > 50 and saved["step"] == saved["epoch"] * 512 + saved["batch"]
    log = read_swanlab_log(next((run / "swanlab").glob("run-*/run-*.swanlab")))
    assert log["finished"] == "RUN_STATE_ABORTED"  # finished as stopped, as `q` does (not cut off)


def test_compare_is_served(tmp_path: Path, context: Any) -> None:
    other = OLD_RUN.parent / "run-warmup14"
    served = Served(tmp_path / "server.log", "--compare", str(OLD_RUN), str(other))
    try:
        page = Page(context, served.url)
        page.wait_text(r"Epoch 3 of 3 · 2 runs")
        assert "run-issue13" in page.text() and "run-warmup14" in page.text()
        assert page.image_cells()[1] > 10  # the samples, side by side
        page.screenshot("serve-compare")
    finally:
        served.end()
    assert served.proc.returncode == 0


def test_only_this_servers_own_pages_get_an_app(tmp_path: Path) -> None:
    """Another site's page (Origin), or a name that is not loopback (DNS rebinding), is refused
    before any app starts: otherwise any website could open 127.0.0.1:PORT and stop the run."""
    served = Served(tmp_path / "server.log", "--compare", str(OLD_RUN), str(OLD_RUN.parent / "run-warmup14"))
    port = int(served.url.rsplit(":", 1)[1].strip("/"))
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}  # fmt: skip
    try:
        for headers, expected in (
            ({"Origin": "http://evil.example"}, 403),
            ({"Host": f"evil.example:{port}"}, 403),
            ({"Origin": f"http://127.0.0.1:{port}"}, 101),  # the page itself
        ):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/ws", headers={**upgrade, **headers})
            assert connection.getresponse().status == expected, headers
            connection.close()
    finally:
        served.end()
    assert served.proc.returncode == 0


def test_sigterm_while_the_trainer_starts_leaves_no_trainer_behind(tmp_path: Path, mnist_dir: Path) -> None:
    """Before the server serves (its trainer still importing torch), SIGTERM must still end
    the trainer: it runs in a session of its own, so no signal reaches it but the server's."""
    run = tmp_path / "run"
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [str(VAE_TUI), "--serve", "--port", "0", "--run-dir", str(run), *TINY],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    wait_until(lambda: trainers(run), 60, "the trainer starts")
    server.terminate()
    assert server.wait(120) == 130
    output = (tmp_path / "server.log").read_text()
    assert "stopping the trainer" in output and "vae-tui: interrupted" in output, output
    assert "serving http" not in output
    assert not mentioning(str(run)), mentioning(str(run))


def test_a_port_in_use_is_refused_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [str(VAE_TUI), "--serve", "--port", str(port), "--epochs", "2"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == f"vae-tui: error: port {port} on 127.0.0.1 is in use; pick another with --port\n"
    assert not (tmp_path / "runs").exists()  # nothing was started or claimed
