"""One writer per run folder: the lock a training process holds on its run folder.

Training holds an exclusive advisory lock on `RUN/trainer.lock` from before it writes anything
(`prepare_run_dir` creates or claims the folder and takes it) until its event stream ends. The
kernel drops the lock when the process ends, however it ends (`kill -9` included), so a lock is
never stale and `--resume` after a crash works at once. The file's content says who took it
(pid, host, start time), for the line a second writer gets.
Readers (`--checkpoint`, `--eval`, watchers) never take it: `trainer(run_dir)` answers "is this
run being trained, and by whom?" with a query that takes nothing, so a reader never blocks a
writer nor is mistaken for one.

On Linux the lock is an open-file-description lock (`F_OFD_SETLK`, queried with `F_OFD_GETLK`).
Classic POSIX locks (`lockf`, `F_SETLK`) belong to the process and are silently dropped when
it closes *any* descriptor of the file, so the app asking about its own run would unlock it.
Where OFD locks are missing, `flock` holds it and the query takes a shared `flock` on a separate
open for an instant; a writer that meets such a query retries for a moment before refusing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import struct
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from .checkpoint import FILE_NAME as CHECKPOINT_FILE
from .errors import ConfigError

if TYPE_CHECKING:
    from .config import TrainConfig

LOCK_FILE = "trainer.lock"
"""In the run folder; never deleted or replaced (a new inode would be a second, separate lock)."""
OFD = hasattr(fcntl, "F_OFD_SETLK")
"""Linux (3.15+); elsewhere `flock`."""
BUSY = frozenset({errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK})
"""What a lock held by someone else answers."""
NO_LOCKS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS})
"""What a filesystem that cannot lock answers (some network mounts: ENOLCK)."""
# Linux's `struct flock` as glibc passes it with 64-bit offsets: type, whence, start, len, pid
# (native alignment, padded to a multiple of 8 as the C struct is).
FLOCK = struct.Struct("hhqqi")
FLOCK_PADDING = b"\0" * (-FLOCK.size % 8)
FALLBACK_RETRIES = 10  # x 20 ms: a reader's flock query holds its shared lock for microseconds

log = logging.getLogger("vae_tui")


@dataclass(frozen=True)
class Trainer:
    """Who holds a run's lock, as it wrote itself down (None where that record is unreadable)."""

    pid: int | None = None
    host: str | None = None
    started: str | None = None
    """ISO 8601 with the UTC offset, to the second."""

    def describe(self) -> str:
        """`process 12345 (started 2025-06-01 14:03:12)`, naming the host when it is another."""
        who = f"process {self.pid}" if self.pid is not None else "another process"
        if self.host and self.host != socket.gethostname():
            who += f" on {self.host}"
        if self.started:
            with contextlib.suppress(ValueError):
                who += f" (started {datetime.fromisoformat(self.started).astimezone():%Y-%m-%d %H:%M:%S})"
        return who


def trainer(run_dir: str | os.PathLike[str]) -> Trainer | None:
    """Who is training `run_dir` right now, or None: without taking the lock, never blocking.

    None also where nobody could hold it: no lock file, or a filesystem that cannot lock."""
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return None
    try:
        return read_trainer(fd) if is_locked(fd) else None
    finally:
        os.close(fd)


def refuse_if_trained(run_dir: str | os.PathLike[str], resuming: bool) -> None:
    """Refuse early (before seconds of imports) a run whose folder another process trains.
    Advisory only: the lock taken in `RunLock.acquire` is what guarantees one writer."""
    if (holder := trainer(run_dir)) is not None:
        raise ConfigError(refusal(Path(run_dir), holder, resuming))


def refusal(run_dir: Path, holder: Trainer, resuming: bool) -> str:
    """The one line a second writer gets."""
    then = "wait for it to end before resuming it" if resuming else "wait for it or pick another --run-dir"
    return f"{run_dir} is being trained by {holder.describe()}; {then}"


class RunLock:
    """The exclusive lock on one run folder, held from `acquire` until `release` (or the
    process's end). Used as a context manager, it is released however the block ends."""

    def __init__(self) -> None:
        self.fd: int | None = None

    def acquire(self, run_dir: Path, resuming: bool) -> None:
        """Take the lock of the existing folder `run_dir`, or refuse in one line (ConfigError)
        if another process holds it, writing nothing. Where the filesystem cannot lock, warn
        once and go on without it."""
        path = run_dir / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # never O_TRUNC: the holder's record
        except OSError as e:
            raise ConfigError(f"cannot write {path}: {e.strerror or e}") from None
        try:
            lock(fd)
        except OSError as e:
            holder = current_record(fd) if e.errno in BUSY else None
            os.close(fd)
            if holder is not None:
                raise ConfigError(refusal(run_dir, holder, resuming)) from None
            if e.errno in NO_LOCKS:
                log.warning(
                    "cannot lock %s (%s): training on without the guard against a second process "
                    "training the same folder",
                    run_dir,
                    e.strerror or e,
                )
                return
            raise ConfigError(f"cannot lock {path}: {e.strerror or e}") from None
        self.fd = fd

    def record(self) -> None:
        """Write down who holds the lock, for the line a second writer gets (best effort)."""
        if self.fd is None:
            return
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        data = (json.dumps(me) + "\n").encode()
        # Written over the old record, then cut: a reader never sees an empty file, and the
        # prefix it parses is whole (a few dozen bytes land in one write).
        with contextlib.suppress(OSError):
            os.pwrite(self.fd, data, 0)
            os.ftruncate(self.fd, len(data))

    def release(self) -> None:
        """Closing the descriptor drops the lock (the record stays: it is only read while held)."""
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def flock_struct(kind: int) -> bytes:
    """A `struct flock` over the whole file; pid 0, as OFD requests require."""
    return FLOCK.pack(kind, os.SEEK_SET, 0, 0, 0) + FLOCK_PADDING


def lock(fd: int) -> None:
    """Take the exclusive lock without waiting; OSError (EAGAIN/EACCES: held) if it cannot."""
    if OFD:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, flock_struct(fcntl.F_WRLCK))
        return
    for attempt in range(FALLBACK_RETRIES):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as e:
            if e.errno not in BUSY or attempt == FALLBACK_RETRIES - 1:
                raise
            time.sleep(0.02)  # perhaps a reader's query (a shared lock held for an instant)


def is_locked(fd: int) -> bool:
    """Whether another open file description holds the lock, without taking it."""
    if OFD:
        try:
            answer = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, flock_struct(fcntl.F_WRLCK))
        except OSError:  # a filesystem that cannot lock: nobody holds a lock there
            return False
        return FLOCK.unpack_from(answer)[0] != fcntl.F_UNLCK
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        return e.errno in BUSY
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def current_record(fd: int, tries: int = 25) -> Trainer:
    """The record of a holder that may have just taken the lock and not yet written it down
    (a few microseconds): read again for a moment while it is empty or names a dead process."""
    for _ in range(tries - 1):
        holder = read_trainer(fd)
        if holder.pid is not None and (holder.host != socket.gethostname() or alive(holder.pid)):
            return holder
        time.sleep(0.02)
    return read_trainer(fd)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, as another user
        return True
    return True


def read_trainer(fd: int) -> Trainer:
    """The holder's record from the lock file (fields it lacks are None)."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
        raw, _ = json.JSONDecoder().raw_decode(text)  # a longer, older record may trail it
    except (OSError, ValueError):
        return Trainer()
    if not isinstance(raw, dict):
        return Trainer()
    pid, host, started = raw.get("pid"), raw.get("host"), raw.get("started")
    return Trainer(
        pid if isinstance(pid, int) else None,
        host if isinstance(host, str) else None,
        started if isinstance(started, str) else None,
    )


def prepare_run_dir(config: TrainConfig, resuming: bool, lock: RunLock) -> Path:
    """Create the run folder (no run_dir: claim a fresh runs/<timestamp>) and take its lock
    before writing anything; refuse to overwrite another run's checkpoint by accident."""
    if not config.run_dir:
        run_dir = claim_new_run_dir()
    else:
        run_dir = Path(config.run_dir)
        if run_dir.exists() and not run_dir.is_dir():
            raise ConfigError(f"--run-dir {run_dir} is a file, not a folder")
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot create run dir {run_dir}: {e.strerror or e}") from None
    lock.acquire(run_dir, resuming)
    if not resuming and (run_dir / CHECKPOINT_FILE).exists():  # looked at under the lock
        raise ConfigError(
            f"{run_dir} already holds a run; continue it with --resume {run_dir} or pick another --run-dir"
        )
    lock.record()
    return run_dir


def claim_new_run_dir(parent: Path = Path("runs"), now: datetime | None = None) -> Path:
    """Create and return `runs/<timestamp>` (to the second), or the next free `-2`, `-3`, …

    `mkdir` is the claim: it either creates the folder or fails because it exists, atomically,
    so two runs started in the same second get two folders (checking first, then creating,
    gave both the same one)."""
    base = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    n = 1
    while True:
        candidate = parent / (base if n == 1 else f"{base}-{n}")
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            n += 1
        except OSError as e:
            raise ConfigError(f"cannot create run dir {candidate}: {e.strerror or e}") from None
