"""Run folders: one run owns its folder, and every file it writes there carries its run id.

:func:`claim_run_folder` is called before anything is written into a run folder (``train.py``, ``eval.py``,
``predict_video.py`` and ``compare.py`` call it through ``riskvision.utils.run_folder.ClaimRunFolder``, a Hydra
callback that runs before Hydra writes ``.hydra/`` and the log file):

- **a lock**: ``<folder>/.run.lock`` is held with ``flock`` for the life of the process (the kernel drops it when
  the process dies, SIGKILL included, so a crashed run never leaves a stale lock). A second process that asks for
  the folder while the first runs is refused, naming the holder's pid and start time;
- **an owner**: ``<folder>/run.json`` names the run (``run_id``, ``kind``, start time, command). A later run in a
  folder that holds another run is refused, unless it resumes that run (``train.py ckpt_path=last``), which keeps
  the run id and appends the resume to ``run.json``;
- **a clean start**: temporary files a killed run left (``.<name>.*.tmp``, :func:`riskvision.files.atomic_write`)
  are removed once the lock is held (no other process can be writing them).

The run id goes into ``metrics.json`` and each row of ``predictions.csv`` (``riskvision.evaluation``), so files
that belong together are checked to come from one run. Standard library only.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import socket
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from riskvision.files import atomic_write

__all__ = ["RunFolder", "RunFolderError", "RunMismatchError", "abandon_run_folder", "claim_run_folder", "is_child_rank",
           "new_run_id", "release_run_folder"]

RUN_FILE = "run.json"
LOCK_FILE = ".run.lock"
TEMP_PATTERN = ".*.tmp"  # atomic_write's temporary files
#: What a run that produced nothing leaves in its folder (Hydra's records and logs, the claim itself).
BOOKKEEPING = (".hydra", RUN_FILE, LOCK_FILE, "config_tree.log")


class RunFolderError(RuntimeError):
    """The folder belongs to another run (running now, or finished there before); the message says the fix."""


class RunMismatchError(ValueError):
    """Files that belong together (a predictions table and its metrics.json) come from different runs."""


@dataclass
class RunFolder:
    """A claimed run folder: its ``path``, the ``run_id`` its files carry and whether this process ``resumed`` a
    run that was there. ``lock`` is the open lock file (``None`` in a child rank, whose parent holds it);
    ``created``: the folder did not exist before this claim."""

    path: Path
    run_id: str
    resumed: bool
    lock: IO[str] | None
    created: bool = False


_CLAIMED: dict[Path, RunFolder] = {}


def new_run_id() -> str:
    """A fresh run id: UTC start time and 8 random hex digits (``20261201-125130-1a2b3c4d``)."""
    return f"{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}"


def is_child_rank() -> bool:
    """This process is a non-zero rank of a distributed run (``LOCAL_RANK``/``NODE_RANK`` set by the launcher): the
    rank-0 process owns the folder and this one joins it."""
    return os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"


def claim_run_folder(folder: str | os.PathLike, kind: str, resume: bool = False) -> RunFolder:
    """Own ``folder`` for this process (see the module docstring); idempotent within a process.

    Args:
        folder: the run folder (created if missing).
        kind: what the run is (``train``, ``eval``, ...), recorded in ``run.json``.
        resume: this run continues the run recorded in the folder (keeps its id) instead of starting one.

    Raises:
        RunFolderError: another process holds the folder, or it holds another run and ``resume`` is false.
        OSError: the folder cannot be created or written; the message names it.
    """
    path = Path(folder).resolve()
    if path in _CLAIMED:
        return _CLAIMED[path]
    if is_child_rank():
        record = _read_record(path)
        return RunFolder(path, record["run_id"] if record else new_run_id(), resume, None)
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        lock = open(path / LOCK_FILE, "a+")  # noqa: SIM115 (held open for the life of the run)
    except OSError as error:
        raise OSError(error.errno, f"the run folder {path} cannot be created or written ({error.strerror}). "
                      "Fix: hydra.run.dir=<a folder you can write>") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise RunFolderError(f"{path} is in use by another run ({holder}); two runs in one folder would interleave "
                             "their logs and checkpoints. Fix: hydra.run.dir=<another folder>, or wait for that run "
                             "to end") from None
    try:
        claimed = _own(path, kind, resume, lock)
    except BaseException:
        lock.close()
        raise
    claimed.created = created
    _CLAIMED[path] = claimed
    return claimed


def release_run_folder(folder: str | os.PathLike) -> None:
    """Give up a folder this process claimed (its lock is released); unknown folders are ignored."""
    claimed = _CLAIMED.pop(Path(folder).resolve(), None)
    if claimed is not None and claimed.lock is not None:
        claimed.lock.close()


def abandon_run_folder(folder: str | os.PathLike) -> None:
    """Release a folder this process claimed for a new run that ended before producing anything (a config error,
    a refused checkpoint, a missing data root): its ``run.json`` goes too, so the corrected command may use the
    folder, and a folder this claim created goes altogether (a failed check leaves nothing behind; the error was
    printed on the console). A resumed run, or one that wrote anything beyond :data:`BOOKKEEPING` and ``*.log``
    files, keeps its record."""
    path = Path(folder).resolve()
    claimed = _CLAIMED.get(path)
    if claimed is None or claimed.lock is None:
        return
    produced = [p for p in path.iterdir() if p.name not in BOOKKEEPING and p.suffix != ".log"]
    if not claimed.resumed and not produced:
        (path / RUN_FILE).unlink(missing_ok=True)
        if claimed.created:
            shutil.rmtree(path, ignore_errors=True)
    release_run_folder(path)


def _own(path: Path, kind: str, resume: bool, lock: IO[str]) -> RunFolder:
    """With the lock held: check the folder's owner, record this run, remove stale temporary files."""
    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()} on {socket.gethostname()} since {now}\n")
    lock.flush()
    record = _read_record(path)
    if record is not None and not resume:
        resumable = str(record.get("command", "")).startswith("train.py")  # only train.py runs are resumed
        raise RunFolderError(
            f"{path} already holds {record.get('kind', 'a')} run {record.get('run_id')} (started "
            f"{record.get('started')}); a second run there would mix its files with that run's. Fix: a new "
            "hydra.run.dir (the default is a new timestamped folder)"
            + (", or ckpt_path=last to resume that run" if resumable else "")
        )
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    if record is None:
        record = {"run_id": new_run_id(), "kind": kind, "started": now, "command": command, "resumed": []}
    else:
        record.setdefault("resumed", []).append({"at": now, "command": command})
    text = json.dumps(record, indent=2) + "\n"
    atomic_write(path / RUN_FILE, lambda tmp: tmp.write_text(text))
    for stale in path.rglob(TEMP_PATTERN):
        if stale.is_file():
            stale.unlink()
    return RunFolder(path, record["run_id"], resume, lock)


def _read_record(path: Path) -> dict | None:
    """The folder's ``run.json``, or ``None`` when it has none."""
    file = path / RUN_FILE
    if not file.is_file():
        return None
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunFolderError(f"{file} cannot be read ({error}); it records which run owns {path}. Fix: "
                             "hydra.run.dir=<another folder>") from None
    if not isinstance(record, dict) or not isinstance(record.get("run_id"), str):
        raise RunFolderError(f"{file} holds no run_id; it records which run owns {path}. Fix: "
                             "hydra.run.dir=<another folder>")
    return record
