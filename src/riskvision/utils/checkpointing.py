"""Checkpoint writing that never leaves a truncated file, the latest epoch's checkpoint, and the run config
inside every checkpoint."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch import Callback, LightningModule, Trainer

from riskvision.files import atomic_write

#: Key under which the resolved run config (plain dicts/lists) is stored in each checkpoint.
CONFIG_KEY = "riskvision_cfg"


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A train.py checkpoint as plain data (``weights_only=True``: no pickled code runs).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: not a torch file, truncated, or holding pickled objects.
        KeyError: the file holds no run config (it was not written by riskvision's train.py).
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"ckpt_path={path} does not exist; pass a .ckpt written by train.py")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as error:
        raise ValueError(f"ckpt_path={path} cannot be loaded as a checkpoint ({type(error).__name__}: {error}). "
                         "Fix: pass a .ckpt written by riskvision's train.py (e.g. RUN/checkpoints/last.ckpt)") from error
    if not isinstance(checkpoint, dict) or CONFIG_KEY not in checkpoint:
        raise KeyError(f"{path} has no '{CONFIG_KEY}' (the run config train.py stores); it was not written by "
                       "riskvision's train.py")
    return checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write each checkpoint through :func:`riskvision.files.atomic_write` (temporary file, fsync, ``os.replace``).

    ``os.replace`` within one filesystem is atomic, so a process killed at any moment (SIGKILL included)
    leaves either the previous complete file or the new complete file under the final name, never a
    truncated one. A leftover ``.<name>.*.tmp`` file is the only trace of an interrupted save.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        """Serialise ``checkpoint`` with ``torch.save`` and move it into place atomically."""
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options")
        def save(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                torch.save(checkpoint, handle)

        atomic_write(path, save)


class RunConfigInCheckpoint(Callback):
    """Store the resolved run config (plain containers, ``weights_only``-loadable) in every checkpoint.

    ``scripts/eval.py`` rebuilds data and model from ``checkpoint["riskvision_cfg"]`` alone.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        """Add the config under :data:`CONFIG_KEY`."""
        checkpoint[CONFIG_KEY] = self.config


class LastCheckpoint(Callback):
    """``<dirpath>/last.ckpt``: the state at the end of the latest epoch, what ``ckpt_path=last`` resumes.

    Written at the end of every training epoch (after its validation, so the tuned threshold is in it) and
    once more when training ends (the loops then count the last epoch as completed). Lightning 2.6's own
    ``save_last`` refreshes ``last.ckpt`` only on epochs whose monitored metric improved, so after a clean run
    it could hold the best epoch, not the last one. Writes go through the trainer's checkpoint IO
    (:class:`AtomicCheckpointIO`): after a SIGKILL the file is the latest complete epoch.
    """

    def __init__(self, dirpath: str | os.PathLike) -> None:
        self.path = Path(dirpath) / "last.ckpt"

    def _save(self, trainer: Trainer) -> None:
        if not trainer.fast_dev_run and not trainer.sanity_checking:
            trainer.save_checkpoint(self.path)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Replace ``last.ckpt`` with this epoch's state."""
        self._save(trainer)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """The final state, with the last epoch counted as completed."""
        self._save(trainer)
