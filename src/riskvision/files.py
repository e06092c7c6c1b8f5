"""Atomic file writing: a file is either its previous complete version or its new complete version.

Every output a run leaves behind (checkpoints, predictions, metrics, reports, per-video scores) goes
through :func:`atomic_write`, so a process killed at any moment (SIGKILL included) never leaves a
truncated file under the final name. An output that grows while a run goes on (streamed scores, an overlay
video) is written under :func:`partial_path` and moved into place by :func:`commit_partial` once complete, so
what a killed run leaves is readable but unmistakably partial. Standard library only: every layer may import it.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "commit_partial", "partial_path"]


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` to a hidden temporary file next to ``path``, fsync it, then ``os.replace`` it into place.

    The temporary file (``.<name>.*.tmp``, mode set from the umask like a normally created file) is
    removed when ``write`` raises; a leftover one is the only trace of a killed process. ``write``
    must write to the path it is given (the temporary name has no meaningful suffix: pass formats
    explicitly, e.g. ``fig.savefig(tmp, format="png")``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise _write_error(path, error) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise _write_error(path, error) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def partial_path(path: str | os.PathLike) -> Path:
    """Where ``path`` grows until :func:`commit_partial`: ``<name>.partial`` next to it."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def commit_partial(path: str | os.PathLike) -> Path:
    """Move the complete :func:`partial_path` of ``path`` into place (fsync, ``os.replace``); returns ``path``."""
    path = Path(path)
    partial = partial_path(path)
    try:
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError as error:
        raise _write_error(path, error) from None
    _fsync_dir(path.parent)
    return path


def _write_error(path: Path, error: OSError) -> OSError:
    """``error`` with a message that names ``path`` and the fix (the previous version of ``path`` is intact)."""
    fixes = {errno.ENOSPC: "the disk is full. Fix: free space there, or write the run elsewhere (hydra.run.dir=...)",
             errno.EDQUOT: "the disk quota is used up. Fix: free space, or write the run elsewhere (hydra.run.dir=...)",
             errno.EACCES: "the folder is not writable. Fix: hydra.run.dir=<a folder you can write>",
             errno.EROFS: "the file system is read-only. Fix: hydra.run.dir=<a folder you can write>"}
    why = fixes.get(error.errno, f"{error.strerror or error}. Fix: hydra.run.dir=<a folder you can write>")
    return OSError(error.errno, f"cannot write {path}: {why}; nothing under that name was changed")


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    """Persist a rename on POSIX filesystems (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
