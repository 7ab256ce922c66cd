"""Who owns a piece of work: claim files that survive crashes and work on shared file systems.

A *claim* is a small JSON file next to what it guards (a sweep's run: ``<store>/<key>.claim``;
a results folder being published: ``<folder>/.publish.claim``). It names its owner, the process
that created it::

    {"host", "pid", "started", "boot", "slurm_job", "attempt", "token", "claimed_at"}

``started`` is the process's start time (Linux: ``/proc/<pid>/stat``, in clock ticks since boot;
elsewhere psutil's creation time when psutil is installed), so a reused pid is not mistaken for
the owner; ``boot`` is the kernel's boot id; ``slurm_job`` is ``<cluster>:<job>:<step>:<task>``
inside a SLURM job; ``attempt`` is the caller's label (a sweep call's id); ``token`` is unique per
claim.

**Taking a claim** creates the file with ``O_CREAT | O_EXCL``: of several processes, on one
machine or on several machines sharing an NFS (v3 or later) file system, exactly one succeeds.
Nothing relies on ``fcntl`` / ``flock`` locks, which many cluster file systems do not honour.

**Stale claims.** A claim whose owner is gone can be taken over. Whether the owner is gone:

- on this machine (same host name and boot id): its pid no longer runs, or runs a process that
  started at another time (a reused pid); a claim of *this* process that it no longer holds (left
  by an interrupted acquisition) is stale too;
- on another machine: the owner refreshes the file's modification time every
  ``REPRO_CLAIM_HEARTBEAT_S`` seconds (a background thread) while it holds the claim; a claim
  whose last heartbeat is older than ``REPRO_CLAIM_STALE_S`` seconds (default 300) is stale.
  The file system's clock sets the modification time, so the rule tolerates clock skew between
  machines up to that margin;
- a requeued SLURM job: a claim taken on another machine with the same ``slurm_job`` as the
  process asking belongs to an earlier run of the same job (SLURM runs one instance of a job id
  at a time, and a requeued array task keeps its id), so that job takes its own claim back at
  once instead of waiting for the heartbeat to age;
- the caller may say that its own earlier worker ended (``ended_attempt``): the executor reported
  the worker dead, so a claim of that attempt is stale at once, wherever it was taken.

A claim file that exists but is still empty (its creator is between ``open`` and ``write``) is
live for ``GRACE_S`` seconds, then stale.

**Taking over** a stale claim replaces the file atomically (temporary file + ``os.replace``)
while holding a short-lived break lock (``<claim>.break``, also ``O_EXCL``), after reading the
claim again under that lock: two processes that both found the claim stale cannot both take it.
A break lock older than ``GRACE_S`` (its holder died within those few milliseconds) is removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import platform
import threading
import time
import uuid
from pathlib import Path
from typing import Any

__all__ = ["Owner", "ClaimState", "Claim", "ClaimTimeout", "try_claim", "claim", "read_claim",
           "owner_is_alive", "stale_after_s", "heartbeat_s"]

#: Seconds an empty claim file or a break lock counts as live (its creator is mid-write).
GRACE_S = 30.0
_HELD: set[str] = set()  # tokens of the claims this process holds
_HELD_LOCK = threading.Lock()


class ClaimTimeout(TimeoutError):
    """:func:`claim` waited ``timeout`` seconds and the claim was still held by a live owner."""


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r}: must be a number of seconds") \
            from None
    if not value > 0:
        raise ValueError(f"environment variable {name}={raw!r}: must be > 0")
    return value


def stale_after_s() -> float:
    """``REPRO_CLAIM_STALE_S`` (default 300): heartbeat age after which a remote owner is gone."""
    return _env_seconds("REPRO_CLAIM_STALE_S", 300.0)


def heartbeat_s() -> float:
    """``REPRO_CLAIM_HEARTBEAT_S`` (default: a tenth of the stale age)."""
    return _env_seconds("REPRO_CLAIM_HEARTBEAT_S", stale_after_s() / 10)


# ---------------------------------------------------------------------------------------------
# process identity
# ---------------------------------------------------------------------------------------------


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def process_start(pid: int) -> str | None:
    """When process ``pid`` started, as an opaque string (None: unknown or no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return "ticks:" + stat.rsplit(")", 1)[1].split()[19]  # field 22: starttime
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None  # Linux, and no such process
    except (OSError, IndexError):
        return None
    try:
        import psutil
    except ImportError:
        return None
    try:
        return f"epoch:{psutil.Process(pid).create_time():.3f}"
    except Exception:  # psutil.NoSuchProcess, AccessDenied
        return None


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _slurm_job() -> str | None:
    """``cluster:job:step:task`` of this process inside SLURM (None outside): the same for every
    run of a requeued job (an array task keeps its ``SLURM_JOB_ID``), distinct for the tasks of
    one multi-node step."""
    env = os.environ
    job = env.get("SLURM_JOB_ID", "").strip()
    if not job:
        return None
    step = env.get("SLURM_STEP_ID", env.get("SLURM_STEPID", "")).strip()
    return ":".join([env.get("SLURM_CLUSTER_NAME", "").strip(), job, step,
                     env.get("SLURM_PROCID", "").strip()])


@dataclasses.dataclass(frozen=True)
class Owner:
    """The process that holds (or held) a claim."""

    host: str
    pid: int
    started: str | None
    boot: str | None
    slurm_job: str | None
    attempt: str | None
    token: str
    claimed_at: float

    @classmethod
    def me(cls, attempt: str | None = None) -> Owner:
        pid = os.getpid()
        return cls(host=platform.node(), pid=pid, started=process_start(pid), boot=_boot_id(),
                   slurm_job=_slurm_job(), attempt=attempt, token=uuid.uuid4().hex,
                   claimed_at=round(time.time(), 3))

    @classmethod
    def from_dict(cls, data: Any) -> Owner | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(host=str(data["host"]), pid=int(data["pid"]), started=data.get("started"),
                       boot=data.get("boot"), slurm_job=data.get("slurm_job"),
                       attempt=data.get("attempt"), token=str(data["token"]),
                       claimed_at=float(data.get("claimed_at", 0.0)))
        except (KeyError, TypeError, ValueError):
            return None

    def to_json(self) -> bytes:
        return (json.dumps(dataclasses.asdict(self), sort_keys=True) + "\n").encode()

    def on_this_machine(self) -> bool:
        return self.host == platform.node() and self.boot == _boot_id()

    def describe(self) -> str:
        text = f"pid {self.pid} on {self.host}"
        if self.slurm_job:
            text += f" (SLURM job {self.slurm_job.split(':')[1]})"
        return text


def owner_is_alive(owner: Owner) -> bool | None:
    """True / False for an owner on this machine; None (unknown) for one on another machine."""
    if not owner.on_this_machine():
        return None
    if owner.pid == os.getpid() and owner.started == process_start(owner.pid):
        with _HELD_LOCK:
            return owner.token in _HELD  # this process: alive only while it holds the claim
    if not _pid_running(owner.pid):
        return False
    if owner.started is not None:
        now = process_start(owner.pid)
        if now is not None and now != owner.started:
            return False  # the pid was reused by another process
    return True


# ---------------------------------------------------------------------------------------------
# reading a claim
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ClaimState:
    """A claim file as read: its owner (None while empty or unreadable), age and staleness."""

    path: Path
    owner: Owner | None
    mtime: float
    size: int
    stale: bool
    reason: str

    def describe(self) -> str:
        who = self.owner.describe() if self.owner else "an unknown process"
        return f"{who}: {self.reason}"


def read_claim(path: str | os.PathLike, *, ended_attempt: str | None = None,
               me: Owner | None = None) -> ClaimState | None:
    """The claim at ``path`` and whether it is stale (module docstring); None if there is none.

    ``ended_attempt``: the caller knows that the workers of this attempt ended. ``me``: the
    process asking (its SLURM job may take back its own claim).
    """
    path = Path(path)
    try:
        st = path.stat()
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    age = time.time() - st.st_mtime
    try:
        owner = Owner.from_dict(json.loads(raw.decode("utf-8"))) if raw.strip() else None
    except (UnicodeDecodeError, ValueError):
        owner = None
    if owner is None:
        stale = age > GRACE_S
        reason = (f"unreadable claim, {age:.0f} s old" if raw.strip()
                  else f"empty claim, {age:.0f} s old")
        return ClaimState(path, None, st.st_mtime, st.st_size, stale,
                          reason + (" (stale)" if stale else " (being written)"))
    me = me or Owner.me()
    if ended_attempt is not None and owner.attempt == ended_attempt:
        return ClaimState(path, owner, st.st_mtime, st.st_size, True,
                          "its worker ended (reported by the executor)")
    alive = owner_is_alive(owner)
    if alive is True:
        return ClaimState(path, owner, st.st_mtime, st.st_size, False, "running")
    if alive is False:
        return ClaimState(path, owner, st.st_mtime, st.st_size, True, "the process is gone")
    if owner.slurm_job and owner.slurm_job == me.slurm_job:
        return ClaimState(path, owner, st.st_mtime, st.st_size, True,
                          "an earlier run of this SLURM job (requeued)")
    limit = stale_after_s()
    if age > limit:
        return ClaimState(path, owner, st.st_mtime, st.st_size, True,
                          f"no heartbeat for {age:.0f} s (> {limit:g} s)")
    return ClaimState(path, owner, st.st_mtime, st.st_size, False,
                      f"running on another machine (heartbeat {age:.0f} s ago)")


# ---------------------------------------------------------------------------------------------
# holding a claim
# ---------------------------------------------------------------------------------------------


class Claim:
    """A claim this process holds. Use as a context manager (heartbeat while inside, release
    at exit) or call :meth:`release`."""

    def __init__(self, path: Path, owner: Owner):
        self.path = path
        self.owner = owner
        self.lost = False  # set when the heartbeat finds that another process took it over
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        with _HELD_LOCK:
            _HELD.add(owner.token)

    def still_mine(self) -> bool:
        try:
            data = json.loads(self.path.read_bytes().decode("utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and data.get("token") == self.owner.token

    def _beat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            if not self.still_mine():
                self.lost = True
                return
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def start_heartbeat(self) -> Claim:
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat, args=(heartbeat_s(),),
                                            name=f"claim-heartbeat-{self.path.name}", daemon=True)
            self._thread.start()
        return self

    def release(self) -> None:
        """Stop the heartbeat and remove the file if it is still this claim."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        try:
            if self.still_mine():
                self.path.unlink()
        except FileNotFoundError:
            pass
        finally:
            with _HELD_LOCK:
                _HELD.discard(self.owner.token)

    def __enter__(self) -> Claim:
        return self.start_heartbeat()

    def __exit__(self, *exc) -> None:
        self.release()


def _create(path: Path, data: bytes) -> bool:
    """Create ``path`` exclusively with ``data``; False if it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def _take_over(path: Path, seen: ClaimState, data: bytes, *, ended_attempt, me) -> bool:
    """Replace the stale claim ``seen`` by ``data`` under the break lock; False if it changed
    or another process is taking it over."""
    lock = path.with_name(path.name + ".break")
    if not _create(lock, b""):
        with contextlib.suppress(OSError):
            if time.time() - lock.stat().st_mtime > GRACE_S:
                lock.unlink()  # its holder died while taking over
        return False
    try:
        now = read_claim(path, ended_attempt=ended_attempt, me=me)
        if now is None or not now.stale or (now.mtime, now.size) != (seen.mtime, seen.size) \
                or (now.owner and seen.owner and now.owner.token != seen.owner.token):
            return False
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def try_claim(path: str | os.PathLike, *, attempt: str | None = None,
              ended_attempt: str | None = None) -> Claim | ClaimState:
    """Take the claim at ``path`` now: a :class:`Claim` on success, else the :class:`ClaimState`
    of its live holder. A stale claim is taken over (module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    owner = Owner.me(attempt)
    data = owner.to_json()
    seen = None
    for _ in range(8):
        try:
            if _create(path, data):
                return Claim(path, owner)
        except OSError as exc:  # pragma: no cover (a file system without O_EXCL)
            if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
                raise
            raise OSError(exc.errno, f"cannot create the claim {path} exclusively: "
                                     f"{exc.strerror}") from exc
        seen = read_claim(path, ended_attempt=ended_attempt, me=owner)
        if seen is None:
            continue  # released in the meantime: create it
        if not seen.stale:
            return seen
        if _take_over(path, seen, data, ended_attempt=ended_attempt, me=owner):
            return Claim(path, owner)
        time.sleep(0.01)
    again = read_claim(path, ended_attempt=ended_attempt, me=owner)
    if again is not None:
        return again
    raise RuntimeError(f"could not take the claim {path}: it changed hands repeatedly")


def claim(path: str | os.PathLike, *, timeout: float | None = None, poll_s: float = 0.05,
          attempt: str | None = None) -> Claim:
    """Wait until the claim at ``path`` can be taken, and take it.

    Raises :class:`ClaimTimeout` (naming the holder) after ``timeout`` seconds (None: no limit).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        got = try_claim(path, attempt=attempt)
        if isinstance(got, Claim):
            return got
        if deadline is not None and time.monotonic() > deadline:
            raise ClaimTimeout(f"{path} is held by {got.describe()} (waited {timeout:g} s)")
        time.sleep(poll_s)
