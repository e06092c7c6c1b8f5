"""Reading a PyTorch file that came from elsewhere: ``torch.load(weights_only=True)`` with one error per case.

Every ``.ckpt`` / ``.pth`` riskvision reads (train.py's checkpoints for ``ckpt_path=``, ``eval.py`` and
``predict_video.py``; pretrained weights) goes through :func:`load_torch_file`. Nothing in the file runs
(pickled code is refused), and a file that is not a PyTorch file says what it is instead: empty, text,
truncated, a folder.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import torch

__all__ = ["CheckpointError", "UnsafeCheckpointError", "load_torch_file"]

ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(ValueError):
    """The file is not the checkpoint that was asked for; the message names the file, what it holds and the fix."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """The file carries pickled code (a global that ``weights_only=True`` refuses); nothing ran."""


def load_torch_file(path: str | os.PathLike, fix: str) -> object:
    """``torch.load(path, map_location="cpu", weights_only=True)``; ``fix`` ends every error message.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafeCheckpointError: the file carries pickled code (nothing of it ran).
        CheckpointError: a folder, an empty file, a text file, a truncated archive or any other non-PyTorch file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist. {fix}")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file. {fix}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(
            r"unsupported (?:global: )?GLOBAL (\S+)|GLOBAL (\S+) was not an allowed global", str(error), re.IGNORECASE
        )  # torch <= 2.13: "Unsupported global: GLOBAL x"; 2.14: "unsupported GLOBAL x"
        if found is None:  # not a pickle of globals: garbage (a text file reads as unsupported opcodes)
            raise CheckpointError(f"{path} is not a readable PyTorch file: {_what_it_is(path)}. {fix}") from None
        what = found.group(1) or found.group(2)
        raise UnsafeCheckpointError(
            f"refusing {path}: it carries pickled code ({what}); refused: the file asks to run code, which "
            "torch.load(weights_only=True) does not run (nothing of it ran). "
            "Load it only if you trust it, and re-save its tensors (a dict of tensors) with torch.save"
        ) from None
    except Exception:  # garbage makes the unpickler and the zip reader fail in many (meaningless) ways
        raise CheckpointError(f"{path} is not a readable PyTorch file: {_what_it_is(path)}. {fix}") from None


def _what_it_is(path: Path) -> str:
    """A short description of a file that does not load: its size and what its first bytes look like."""
    size = path.stat().st_size
    if size == 0:
        return "it is empty (0 bytes): an interrupted copy or download"
    with open(path, "rb") as handle:
        head = handle.read(64)
    if head.startswith(ZIP_MAGIC):
        return f"a zip archive of {size} bytes that is truncated or damaged (copy it again)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"{size} bytes of binary data that are not a PyTorch file"
    if text.isprintable() or text.replace("\n", "").replace("\r", "").replace("\t", "").isprintable():
        return f"a text file of {size} bytes starting {text[:40]!r} (an HTML error page or a Git LFS pointer?)"
    return f"{size} bytes that are not a PyTorch file"
