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
  are removed once the lock is held (no other process can be writing them), in a folder that holds a run record
  only: a user's folder is never cleaned;
- **a user's folder is left alone**: a folder without ``run.json`` that holds anything besides what Hydra writes
  (``.hydra/``, ``*.log``) is refused (a run there could overwrite the user's files), unless the run resumes.

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

__all__ = [
    "RunFolder",
    "RunFolderError",
    "RunMismatchError",
    "abandon_run_folder",
    "claim_run_folder",
    "is_child_rank",
    "new_run_id",
    "release_run_folder",
]

RUN_FILE = "run.json"
LOCK_FILE = ".run.lock"
TEMP_PATTERN = ".*.tmp"  # atomic_write's temporary files
#: What a run that produced nothing leaves in its folder (Hydra's records and logs, the claim itself).
BOOKKEEPING = (".hydra", RUN_FILE, LOCK_FILE, "config_tree.log")
#: What Hydra may write into a folder before it is claimed (a multirun's job folder, its sweep record).
HYDRA_FILES = (".hydra", LOCK_FILE, "multirun.yaml")


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


def claim_run_folder(
    folder: str | os.PathLike, kind: str, resume: bool = False, option: str = "hydra.run.dir"
) -> RunFolder:
    """Own ``folder`` for this process (see the module docstring); idempotent within a process.

    Args:
        folder: the run folder (created if missing).
        kind: what the run is (``train``, ``eval``, ...), recorded in ``run.json``.
        resume: this run continues the run recorded in the folder (keeps its id) instead of starting one.
        option: the command's option that names the folder (``hydra.run.dir``, ``--out``): refusals name it.

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
        raise OSError(
            error.errno,
            f"the run folder {path} cannot be created or written ({error.strerror}). "
            f"Fix: {_option(option, 'a folder you can write')}",
        ) from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise RunFolderError(
            f"{path} is in use by another run ({holder}); two runs in one folder would interleave "
            f"their logs and checkpoints. Fix: {_option(option, 'another folder')}, or wait for that "
            "run to end"
        ) from None
    try:
        claimed = _own(path, kind, resume, lock, option)
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


def _option(option: str, what: str) -> str:
    """How to name another folder with ``option``: ``hydra.run.dir=<what>`` or ``--out <what>``."""
    return f"{option} <{what}>" if option.startswith("-") else f"{option}=<{what}>"


def _own(path: Path, kind: str, resume: bool, lock: IO[str], option: str) -> RunFolder:
    """With the lock held: check the folder's owner, record this run, remove stale temporary files."""
    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()} on {socket.gethostname()} since {now}\n")
    lock.flush()
    record = _read_record(path, option)
    if record is None and not resume:
        user_files = sorted(p.name for p in path.iterdir() if p.name not in HYDRA_FILES and p.suffix != ".log")
        if user_files:
            shown = ", ".join(user_files[:5]) + (f" and {len(user_files) - 5} more" if len(user_files) > 5 else "")
            raise RunFolderError(
                f"{path} is not a run folder (no {RUN_FILE}) and holds files ({shown}); a run "
                f"there could overwrite them. Fix: {_option(option, 'a new or empty folder')}"
            )
    if record is not None and not resume:
        resumable = str(record.get("command", "")).startswith("train.py")  # only train.py runs are resumed
        raise RunFolderError(
            f"{path} already holds {record.get('kind', 'a')} run {record.get('run_id')} (started "
            f"{record.get('started')}); a second run there would mix its files with that run's. Fix: "
            + (
                f"{_option(option, 'a new folder')}"
                if option.startswith("-")
                else f"a new {option} (the default is a new timestamped folder)"
            )
            + (", or ckpt_path=last to resume that run" if resumable else "")
        )
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    owned_before = record is not None
    if record is None:
        record = {"run_id": new_run_id(), "kind": kind, "started": now, "command": command, "resumed": []}
    else:
        record.setdefault("resumed", []).append({"at": now, "command": command})
    text = json.dumps(record, indent=2) + "\n"
    atomic_write(path / RUN_FILE, lambda tmp: tmp.write_text(text))
    for stale in path.rglob(TEMP_PATTERN) if owned_before else ():  # a folder without a run record is the user's
        if stale.is_file() and not stale.is_symlink():
            stale.unlink()
    return RunFolder(path, record["run_id"], resume, lock)


def _read_record(path: Path, option: str = "hydra.run.dir") -> dict | None:
    """The folder's ``run.json``, or ``None`` when it has none."""
    file = path / RUN_FILE
    if not file.is_file():
        return None
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunFolderError(
            f"{file} cannot be read ({error}); it records which run owns {path}. Fix: "
            f"{_option(option, 'another folder')}"
        ) from None
    if not isinstance(record, dict) or not isinstance(record.get("run_id"), str):
        raise RunFolderError(
            f"{file} holds no run_id; it records which run owns {path}. Fix: {_option(option, 'another folder')}"
        )
    return record
