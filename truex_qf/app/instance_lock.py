"""One running instance per account and per state folder, enforced by the operating system.

Two copies of ``truex-qf run`` on one account fight over the venue session, and the loser used
to overwrite the PID file that ``truex-qf kill`` reads, hiding the winner from the kill switch.
:class:`InstanceLock` takes two ``flock`` locks before anything logs on, and holds them for the
life of the process (the kernel releases them when the process dies, however it dies, so a
crash never leaves a lock behind):

* ``truex-qf.lock`` in the state folder: one instance per folder (its journal, store, logs).
* ``account-<hash>.lock`` in a per-user folder outside the state folder, named by a hash of
  the SenderCompID, the venue's host and order-entry port and TargetCompID: one instance per
  account even when two state folders are in play. The folder is ``$XDG_RUNTIME_DIR/truex-qf``
  when the session has one, else ``<temp dir>/truex-qf-<uid>``; per user and mode 0700 rather
  than a shared system folder, so another user can neither read our account names nor create
  the lock file first to keep us from starting. (Two users on one machine trading one account
  are not caught; nor are two machines: only the venue sees those, and it refuses the second
  Logon.) The hash keeps the file name short and free of the CompID's characters.

Each lock file holds its holder's PID and state folder, written after the lock is taken. A
reader trusts that text only while the lock is actually held (:func:`find_holder` probes it),
so a file a dead process left can never hide a live holder, and a dead holder is reported as
such. The lock files are never deleted: unlinking a lock file while another process waits on
it would let two processes hold "the" lock on two different files.

The PID file ``truex-qf.pid`` is written by the holder only, after both locks are held, and
removed when it releases them; it is for people and scripts, ``kill`` reads the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from truex_qf.config import runtime_dir
from truex_qf.domain.errors import TruexError

LOCK_FILE = "truex-qf.lock"
PID_FILE = "truex-qf.pid"
# The holder writes its PID right after taking the lock: a reader that finds the file still
# empty waits this long for it.
_PID_WAIT_S = 1.0


class InstanceRunningError(TruexError):
    """Another process holds the lock. Exit 1: the command is right, the moment is not."""

    exit_code = 1


@dataclass(frozen=True)
class Holder:
    """What a lock file says about the process holding it."""

    pid: int | None
    state_dir: str


def account_key(sender_comp_id: str, host: str, order_entry_port: int, target: str) -> str:
    """The text that names one venue account session; equal keys may not run side by side."""
    return f"{sender_comp_id}@{host.lower()}:{order_entry_port}/{target}"


def account_lock_path(key: str) -> Path:
    """The per-user lock file of the account named by ``key``."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return _account_lock_dir() / f"account-{digest}.lock"


def _account_lock_dir() -> Path:
    runtime = runtime_dir()
    if runtime is not None and runtime.is_dir():
        folder = runtime / "truex-qf"
    else:
        folder = Path(tempfile.gettempdir()) / f"truex-qf-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError as exc:
        raise TruexError(f"cannot create the lock folder {folder}: {exc.strerror}") from None
    # Refuse a folder another user made (or a symlink planted) where ours should be.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise TruexError(f"lock folder {folder} is not a folder of this user; remove it")
    return folder


class InstanceLock:
    """Both locks of one ``run``, held from :meth:`acquire` until :meth:`release` or exit.

    ``acquire`` raises :class:`InstanceRunningError` naming the holder's PID when either lock
    is taken, having taken nothing. Use as a context manager.
    """

    def __init__(self, state_dir: Path, account: str) -> None:
        self.state_dir = Path(state_dir)
        self.account = account
        self._fds: list[int] = []
        self._pid_file: Path | None = None

    def acquire(self) -> None:
        """Take the state folder's lock, then the account's; write the PID file."""
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = exc.strerror or type(exc).__name__
            message = f"cannot create the state folder {self.state_dir}: {problem}"
            raise TruexError(message) from None
        record = f"{os.getpid()}\n{self.state_dir.resolve()}\n"
        try:
            self._take(
                self.state_dir / LOCK_FILE,
                record,
                lambda holder: f"another truex-qf (process {_pid_text(holder)}) is running "
                f"in the state folder {self.state_dir}",
            )
            self._take(
                account_lock_path(self.account),
                record,
                lambda holder: f"another truex-qf (process {_pid_text(holder)}) is trading "
                f"as {self.account} (state folder {holder.state_dir or 'unknown'})",
            )
            pid_file = self.state_dir / PID_FILE
            pid_file.write_text(f"{os.getpid()}\n", encoding="utf-8")
            self._pid_file = pid_file
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Remove the PID file (if still ours) and drop both locks; safe twice."""
        if self._pid_file is not None:
            with contextlib.suppress(OSError):
                if self._pid_file.read_text(encoding="utf-8").strip() == str(os.getpid()):
                    self._pid_file.unlink()
            self._pid_file = None
        while self._fds:
            os.close(self._fds.pop())  # closing the descriptor releases its flock

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def _take(self, path: Path, record: str, describe: Callable[[Holder], str]) -> None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise TruexError(f"cannot open the lock file {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd, wait_s=_PID_WAIT_S)
            os.close(fd)
            raise InstanceRunningError(describe(holder)) from None
        except OSError as exc:
            os.close(fd)
            raise TruexError(f"cannot lock {path}: {exc.strerror}") from None
        self._fds.append(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode("utf-8"), 0)


def find_holder(state_dir: Path) -> Holder | None:
    """The process holding ``state_dir``'s lock; None when nothing holds it.

    The file's text is believed only while the lock is held: a probe that gets the lock
    itself (and drops it at once) proves the last writer is gone.
    """
    try:
        fd = os.open(Path(state_dir) / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TruexError(f"cannot open {Path(state_dir) / LOCK_FILE}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd, wait_s=_PID_WAIT_S)
        return None
    finally:
        os.close(fd)  # also drops the probe's shared lock, if it got one


def last_holder(state_dir: Path) -> Holder | None:
    """What the lock file says about its last holder, held or not (for messages only)."""
    try:
        fd = os.open(Path(state_dir) / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return _read_holder(fd, wait_s=0)
    finally:
        os.close(fd)


def _read_holder(fd: int, wait_s: float) -> Holder:
    deadline = time.monotonic() + wait_s
    while True:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
        pid_text, _, rest = text.partition("\n")
        state_dir = rest.strip()
        if pid_text.strip().isdigit() and state_dir:
            return Holder(int(pid_text), state_dir)
        if time.monotonic() >= deadline:
            return Holder(None, state_dir)
        time.sleep(0.02)


def _pid_text(holder: Holder) -> str:
    return str(holder.pid) if holder.pid is not None else "unknown"
