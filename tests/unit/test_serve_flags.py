"""`--serve`'s flags: what is refused in one line, what each served process is started with, and
how a process started by textual-serve (pipes, the web driver named in its environment) knows it
has a screen. The server itself, in a real browser: tests/browser/test_serve.py."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from vae_tui.tui import serve
from vae_tui.tui.cli import parse_request
from vae_tui.tui.driver import has_terminal, in_browser, terminal_driver
from vae_tui.tui.serve_flags import DEFAULT_HOST, DEFAULT_PORT, served_argv

WEB = "textual.drivers.web_driver:WebDriver"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--serve", "--train-only"], "--serve shows the app in a browser; --train-only has no screen"),
        (["--serve", "--eval", "--checkpoint", "m.pt"], "--eval has no screen"),
        (["--serve", "--export", "runs/x"], "--export has no screen"),
        (["--serve", "--graphics", "sixel"], "--graphics sixel does not apply with --serve"),
        (["--serve", "--graphics", "kitty"], "--graphics kitty does not apply with --serve"),
        (["--host", "0.0.0.0"], "--host only applies with --serve"),
        (["--port", "9000", "--epochs", "2"], "--port only applies with --serve"),
        (["--host", "::1", "--port", "1"], "--host and --port only apply with --serve"),
        (["--serve", "--port", "65536"], "a port is 0 to 65535"),
        (["--serve", "--port", "http"], "'http' is not a port number"),
        (["--ser"], "unrecognized arguments: --ser"),  # no abbreviations: --ser is not --serve
    ],
)
def test_what_cannot_be_served_is_refused_in_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        parse_request(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.splitlines()) == 1 and message in err, err


def test_the_served_processes_get_the_users_flags_without_the_serving_ones() -> None:
    argv = ["--serve", "--host", "::1", "--port=9000", "--epochs", "3", "--port", "0", "--run-dir", "r"]
    assert served_argv(argv) == ("--epochs", "3", "--run-dir", "r")
    request = parse_request(["--serve", "--compare", "a", "b", "--graphics", "halfblock"])
    assert request.serve is not None
    assert (request.serve.host, request.serve.port) == (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 8000)
    assert request.serve.argv == ("--compare", "a", "b", "--graphics", "halfblock")
    page = serve.page_command(request, None)
    assert page.startswith("exec ") and page.endswith("-m vae_tui.tui --compare a b --graphics halfblock")
    assert sys.executable in page  # the same Python (venv or pipx) as the server


def test_a_training_server_fixes_the_run_folder_and_gives_every_page_a_watcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    request = parse_request(["--serve", "--port", "0", "--epochs", "3", "--graphics", "auto"])
    run_dir, trainer_argv = serve.plan_training(request)
    assert run_dir.parent == Path("runs") and run_dir.is_dir()  # claimed once, here
    assert trainer_argv == ["--epochs", "3", "--train-only", f"--run-dir={run_dir}"]  # no --graphics
    page = serve.page_command(request, run_dir)
    assert page.endswith(f"-m vae_tui.tui --watch={run_dir} --graphics auto")
    odd = serve.page_command(request, Path("--serve"))  # a folder named like a flag stays a value
    assert parse_request(shlex.split(odd)[4:]).watch == "--serve"
    named = parse_request(["--serve", "--run-dir", str(tmp_path / "mine"), "--epochs", "2"])
    assert serve.plan_training(named) == (
        tmp_path / "mine",
        ["--run-dir", str(tmp_path / "mine"), "--epochs", "2", "--train-only"],
    )
    assert list(Path("runs").iterdir()) == [run_dir]  # a named folder claims nothing else


def test_a_bad_setting_is_refused_before_a_folder_is_claimed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vae_tui.core.errors import VaeTuiError

    monkeypatch.chdir(tmp_path)
    request = parse_request(["--serve", "--port", "0", "--resume", str(tmp_path / "nothing-here")])
    with pytest.raises(VaeTuiError):
        serve.plan_training(request)
    assert not Path("runs").exists()


def test_the_web_driver_counts_as_a_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    assert not in_browser()
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    assert not has_terminal()  # pytest's pipes: no screen (so a plain run goes headless)
    monkeypatch.setenv("TEXTUAL_DRIVER", WEB)
    assert in_browser() and has_terminal()
    assert terminal_driver() is None  # Textual then takes the driver the environment names


def test_what_would_fail_on_every_page_is_refused_before_serving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vae_tui.tui.cli import main

    (tmp_path / "notes.txt").write_text("not a run")
    assert main(["--serve", "--port", "0", "--watch", str(tmp_path / "notes.txt")]) == 2
    assert (
        capsys.readouterr().err
        == f"vae-tui: error: --watch {tmp_path / 'notes.txt'} is a file, not a run folder\n"
    )
    assert main(["--serve", "--port", "0", "--checkpoint", str(tmp_path / "gone.pt")]) == 2
    assert (
        capsys.readouterr().err
        == f"vae-tui: error: --checkpoint {tmp_path / 'gone.pt'}: no such file or folder\n"
    )
