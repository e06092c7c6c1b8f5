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
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["WriteError", "atomic_write", "commit_partial", "partial_path"]

#: numpy's message for a short write (``ndarray.tofile`` / ``np.save`` on a full disk): it carries no errno.
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")
#: torch.save's message when its zip writer cannot write (a full disk): a RuntimeError, not an OSError.
_TORCH_WRITE_FAILED = ("file write failed", "PytorchStreamWriter failed writing")
#: Free bytes below which a failed write is put down to a full disk.
_NEARLY_FULL = 1 << 20


class WriteError(OSError):
    """A file cannot be written (a full disk, a read-only folder); the message names the file and the fix, and
    the previous version of the file is intact. Scripts print it without a traceback."""


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object], option: str = "hydra.run.dir") -> Path:
    """``write(tmp)`` to a hidden temporary file next to ``path``, fsync it, then ``os.replace`` it into place.

    The temporary file (``.<name>.*.tmp``, mode set from the umask like a normally created file) is
    removed when ``write`` raises; a leftover one is the only trace of a killed process. ``write``
    must write to the path it is given (the temporary name has no meaningful suffix: pass formats
    explicitly, e.g. ``fig.savefig(tmp, format="png")``). A failed write raises :class:`WriteError` naming
    ``path`` and the fix (``option``: the setting that chooses another folder); a full disk is called one, also
    when numpy or ``torch.save`` report it in their own words.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise _write_error(path, error, option) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except OSError as error:
        full = _nearly_full(path.parent)
        tmp.unlink(missing_ok=True)
        raise _write_error(path, _as_disk_full(error, full), option) from None
    except RuntimeError as error:
        if not any(text in str(error) for text in _TORCH_WRITE_FAILED):
            tmp.unlink(missing_ok=True)
            raise
        full = _nearly_full(path.parent)
        tmp.unlink(missing_ok=True)
        failed = OSError(errno.ENOSPC if full else errno.EIO, "the write failed" if not full else "")
        raise _write_error(path, failed, option) from None
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


def _nearly_full(folder: Path) -> bool:
    """The file system of ``folder`` has less than :data:`_NEARLY_FULL` bytes free (``False`` when unknown)."""
    try:
        return shutil.disk_usage(folder).free < _NEARLY_FULL
    except OSError:
        return False


def _as_disk_full(error: OSError, full: bool) -> OSError:
    """numpy's errno-less short write on a (nearly) full disk is ENOSPC; other errors are kept."""
    if error.errno is None and (full or _SHORT_WRITE.search(str(error))):
        return OSError(errno.ENOSPC, str(error))
    return error


def _write_error(path: Path, error: OSError, option: str = "hydra.run.dir") -> WriteError:
    """``error`` with a message that names ``path`` and the fix (the previous version of ``path`` is intact)."""
    fixes = {
        errno.ENOSPC: f"the disk is full. Fix: free space there, or write elsewhere ({option}=...)",
        errno.EDQUOT: f"the disk quota is used up. Fix: free space, or write elsewhere ({option}=...)",
        errno.EACCES: f"the folder is not writable. Fix: {option}=<a folder you can write>",
        errno.EROFS: f"the file system is read-only. Fix: {option}=<a folder you can write>",
    }
    why = fixes.get(error.errno, f"{error.strerror or error}. Fix: {option}=<a folder you can write>")
    return WriteError(error.errno, f"cannot write {path}: {why}; nothing under that name was changed")


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
