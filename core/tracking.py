"""SwanLab tracking that can never hurt a run: offline by default, off the training thread.

SwanLab 0.10 defaults to online mode, which with no key blocks on an `input()` menu and with a
key but no network takes up to a minute to fail; it also prints to stdout, which the TUI owns.
So every call goes through one background thread (init and finish must share a thread), always
with an explicit mode, log dir and non-interactive settings, and silenced. Events wait in a
queue while it starts, so a slow cloud login that falls back to offline loses nothing. Any
SwanLab error (including `import swanlab` failing) turns into one warning and tracking stops;
training never does.

Resume: the SwanLab run id is kept in `RUN_DIR/swanlab/run_id`, and a resumed run (one that
starts after step 0) passes it back with `resume="allow"`. In cloud mode that continues the
same experiment. Offline, SwanLab 0.10.3 cannot append to an existing log (its offline start
always begins a fresh record file in a new `run-<time>-<id>` folder), so a resumed run gets a
new folder with the same id. `swanlab sync` creates or resumes an experiment by id, so syncing
the folders in order should land them in one experiment (read from its code; not tried against
a server here).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import re
import shlex
import threading
import time
from pathlib import Path
from typing import Any

from .atomic import write_text_atomic
from .events import EpochImages, Event, RunStarted
from .swanlab_load import idle_only, probes_on, run_when_idle
from .swanlab_records import records

log = logging.getLogger("vae_tui")
PROJECT = "vae-tui"
CLOSE_TIMEOUT = 60.0  # seconds to wait for the tail of the log to be written at the end
RUN_ID_FILE = "run_id"
DRAIN_EVERY = 0.5  # seconds the writer lets records gather before it wakes (see `_next_items`)
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def swanlab_dir(run_dir: str | os.PathLike[str]) -> Path:
    return Path(run_dir) / "swanlab"


def saved_run_id(run_dir: str | os.PathLike[str]) -> str | None:
    """The SwanLab run id recorded for this run folder, if one is (and looks like an id)."""
    try:
        text = (swanlab_dir(run_dir) / RUN_ID_FILE).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if _RUN_ID.fullmatch(text) else None


def save_run_id(run_dir: str | os.PathLike[str], run_id: str) -> None:
    """Record the SwanLab run id (atomically: a kill leaves the old file or the new one)."""
    write_text_atomic(swanlab_dir(run_dir) / RUN_ID_FILE, run_id + "\n", durable=False)


def one_line(error: BaseException, limit: int = 300) -> str:
    """`Type: message` on one line, shortened: warnings must never spill over many lines."""
    text = " ".join(str(error).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _quiet(swanlab: Any) -> None:
    """SwanLab prints banners to stdout and has no public switch; use the private one if there."""
    try:
        from swanlab.sdk.internal.pkg import console  # noqa: PLC0415

        console.c.quiet = True
    except Exception:  # noqa: BLE001 - a newer layout only means some banners get through
        pass


class SwanLabTracker:
    """Consumer that mirrors the run into SwanLab (`offline`, `cloud`) on its own thread."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.run_dir = Path(".")
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._failed = threading.Event()
        self._abandoned = threading.Event()
        self._done = threading.Event()
        self._wake = threading.Event()  # ends the writer's wait for more records: closing
        self._last_step = 0
        self._resume_id: str | None = None
        self.monitor = False  # SwanLab's system probes run (`probes_on`), known at RunStarted
        self.idle_only = False  # SwanLab's threads on idle cores only (`swanlab_load.idle_only`)
        self.cores_were_free = True  # set by the run: no other process kept a core busy at its start
        self.thread_policy: int | None = None  # the writer thread's scheduling policy, as it found it
        self.active_mode: str | None = None
        """The mode SwanLab actually runs in (`offline` after a failed cloud start)."""
        self.run_id: str | None = None
        """The SwanLab run id once it has started (the same as before when resuming)."""
        self.log_dir: Path | None = None
        """This session's log folder, `RUN/swanlab/run-<time>-<id>`, once SwanLab has started."""

    # -- consumer side (training thread) -------------------------------------------------
    def handle(self, event: Event) -> None:
        if self.mode == "disabled" or self._failed.is_set():
            return
        if isinstance(event, RunStarted):
            self.run_dir = Path(event.run_dir)
            self._last_step = event.start_step
            # Only a run that already trained continues its SwanLab run; a run that starts from
            # step 0 (new, or retried after dying before its first checkpoint) gets a fresh one.
            self._resume_id = saved_run_id(self.run_dir) if event.start_step > 0 else None
            self.monitor = probes_on(event.config.get("swanlab_monitor", "auto"), event.device)
            self.idle_only = idle_only(event.device, self.cores_were_free)
            self._thread = threading.Thread(
                target=self._serve, args=(event.config,), name="swanlab", daemon=True
            )
            self._thread.start()
            return
        if isinstance(event, EpochImages):
            self._queue.put(("images", event))
            return
        record = records(event)
        if record is not None:
            payload, step = record
            self._last_step = max(self._last_step, step)
            self._queue.put(("log", (payload, step if step >= 0 else self._last_step)))

    @property
    def tracking(self) -> bool:
        """SwanLab has started and has not failed since (both are set on its own thread)."""
        return self.active_mode is not None and not self._failed.is_set()

    def log_folders(self) -> list[Path]:
        """The run's local log folders, oldest first: offline, each session of a resumed run
        writes its own `run-<time>-<id>` folder with the same id."""
        if self.run_id is None:
            return [self.log_dir] if self.log_dir is not None else []
        return sorted(swanlab_dir(self.run_dir).glob(f"run-*-{self.run_id}"))

    def sync_command(self) -> str | None:
        """The command that uploads an offline run (the folders in order, so `swanlab sync`
        replays them into one experiment); None when there is nothing to upload."""
        folders = self.log_folders()
        if self.active_mode != "offline" or not folders:
            return None
        return "swanlab sync " + " ".join(shlex.quote(str(f)) for f in folders)

    def abandon(self) -> None:
        """Stop waiting for SwanLab (the user asked to quit now); safe from a signal handler."""
        self._abandoned.set()
        self._wake.set()

    def close(self, state: str) -> None:
        if self._thread is None:
            return
        self._queue.put(("finish", state))
        self._wake.set()
        # Waits on an Event, not Thread.join: a Ctrl-C that interrupts join() makes CPython
        # consider the thread finished (bpo-45274), and the polling lets `abandon` end the wait.
        deadline = time.monotonic() + CLOSE_TIMEOUT
        try:
            while not (self._done.wait(0.05) or self._abandoned.is_set() or time.monotonic() > deadline):
                pass
        except KeyboardInterrupt:
            self._abandoned.set()
            raise
        finally:
            if not self._done.is_set():
                if self._abandoned.is_set():
                    log.warning("quitting without waiting for SwanLab; its log may lack the finish record")
                else:
                    log.warning(
                        "SwanLab did not finish writing within %.0f s; its log may miss the tail",
                        CLOSE_TIMEOUT,
                    )

    # -- SwanLab thread ----------------------------------------------------------------------
    def _init(self, swanlab: Any, config: dict[str, Any], mode: str) -> Any:
        probes = {"monitor": self.monitor, "requirements": self.monitor, "git": self.monitor}
        settings = swanlab.Settings(interactive=False, terminal={"proxy_type": "none"}, probe=probes)
        folder = swanlab_dir(self.run_dir)
        folder.mkdir(parents=True, exist_ok=True)
        resume: dict[str, Any] = {"id": self._resume_id, "resume": "allow"} if self._resume_id else {}
        run = swanlab.init(
            project=PROJECT,
            name=self.run_dir.name,
            config=config,
            mode=mode,
            log_dir=str(folder),
            settings=settings,
            reinit=True,
            **resume,
        )
        # This thread finishes the run with its true state (`aborted` after a stop). SwanLab's
        # own exit hook would mark a run it finds unfinished at exit (after a forced quit) as a
        # success; without it such a log simply has no finish record, like after a crash.
        with contextlib.suppress(Exception):
            atexit.unregister(run._handle_atexit)
        with contextlib.suppress(Exception):  # only for telling the user where the log is
            self.log_dir = Path(run.dir)
        run_id = getattr(run, "id", None)
        if isinstance(run_id, str) and _RUN_ID.fullmatch(run_id):
            self.run_id = run_id
            with contextlib.suppress(OSError):  # without it a resume merely starts a new id
                save_run_id(self.run_dir, run_id)
        return run

    def _start(self, config: dict[str, Any]) -> Any:
        import swanlab  # noqa: PLC0415 - 0.4–1 s to import, and only when tracking is on

        _quiet(swanlab)
        if self.mode == "cloud":
            if not os.environ.get("SWANLAB_API_KEY"):
                log.warning("--swanlab cloud needs SWANLAB_API_KEY; tracking offline instead")
            else:
                try:
                    self._init(swanlab, config, "online")
                    self.active_mode = "cloud"
                    return swanlab
                except Exception as e:  # noqa: BLE001
                    log.warning("SwanLab cloud failed to start (%s); tracking offline instead", one_line(e))
        self._init(swanlab, config, "offline")
        self.active_mode = "offline"
        return swanlab

    def _next_items(self) -> list[tuple[str, Any]]:
        """What is queued, waiting for the first item and then `DRAIN_EVERY` seconds more: a few
        wake-ups a second rather than one per batch (core/swanlab_load.py says why that matters)."""
        items = [self._queue.get()]
        if items[0][0] != "finish":
            self._wake.wait(DRAIN_EVERY)
        with contextlib.suppress(queue.Empty):
            while True:
                items.append(self._queue.get_nowait())
        return items

    def _write(self, swanlab: Any, kind: str, item: Any) -> None:
        if kind == "log":
            payload, step = item
            swanlab.log(payload, step=step)
        else:
            images = {"reconstructions": item.reconstructions, "samples": item.samples}
            swanlab.log({f"images/{k}": swanlab.Image(v) for k, v in images.items()}, step=item.step)

    def _log_gifs(self, swanlab: Any) -> None:
        """At a successful end, the run's story: its samples and reconstructions, one frame per
        epoch (core/export.py's GIFs), as SwanLab videos. A failure only warns."""
        from .export import epoch_gif  # noqa: PLC0415

        try:
            gifs = {kind: epoch_gif(self.run_dir, kind) for kind in ("samples", "reconstructions")}
            videos = {f"gifs/{k}": swanlab.Video(gif, caption=f"{k}.gif") for k, gif in gifs.items() if gif}
            if videos:
                swanlab.log(videos, step=self._last_step)
        except Exception as e:  # noqa: BLE001 - the run is trained and saved: never lose it for a GIF
            log.warning("SwanLab: the epoch GIFs were not logged (%s)", one_line(e))

    def _serve(self, config: dict[str, Any]) -> None:
        if self.idle_only:
            run_when_idle()  # SwanLab's threads, started from this one, inherit it
        self.thread_policy = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else None
        try:
            self._serve_queue(config)
        finally:
            self._done.set()

    def _serve_queue(self, config: dict[str, Any]) -> None:
        swanlab = None
        try:
            try:
                swanlab = self._start(config)
            except BaseException as e:  # noqa: BLE001 - even SystemExit from a broken install
                self._failed.set()
                log.warning("SwanLab unavailable (%s); training goes on without tracking", one_line(e))
                return
            while True:
                for kind, item in self._next_items():
                    if kind == "finish":
                        if item == "success":
                            self._log_gifs(swanlab)
                        swanlab.finish(state=item)
                        return
                    self._write(swanlab, kind, item)
        except BaseException as e:  # noqa: BLE001 - tracking must never stop training
            self._failed.set()
            log.warning("SwanLab tracking stopped: %s (training goes on)", one_line(e))
            if swanlab is not None:
                with contextlib.suppress(BaseException):
                    swanlab.finish(state="crashed", error=str(e))
