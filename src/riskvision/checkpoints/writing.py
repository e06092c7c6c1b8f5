"""Checkpoint writing (train.py's side; inference never imports it): files that are never left truncated, the latest
epoch's checkpoint (sharing its storage with the best one when they hold the same state), the run config inside every
checkpoint, and the operating point written into a checkpoint after training (:func:`store_operating_point`). What is
stored under which key: :mod:`riskvision.checkpoints.loading`."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint

from riskvision.checkpoints.loading import CLIP_SPAN_KEY, CONFIG_KEY, FIX, OPERATING_POINT_KEY, RUN_ID_KEY
from riskvision.checkpoints.reading import load_torch_file
from riskvision.files import atomic_write

log = logging.getLogger(__name__)  # share_storage runs on global rank zero only


def store_operating_point(path: str | os.PathLike, record: Mapping[str, Any]) -> None:
    """Write ``record`` (plain data) into the checkpoint at ``path`` under :data:`OPERATING_POINT_KEY`, atomically
    (``riskvision.files.atomic_write``: the old file stays whole until the new one is complete). Every other file
    that is a hard link to it (``last.ckpt`` sharing the best checkpoint's storage) is re-linked to the new file."""
    path = Path(path)
    linked = [
        other for other in path.parent.iterdir() if other != path and other.is_file() and os.path.samefile(other, path)
    ]
    checkpoint = load_torch_file(path, FIX)
    checkpoint[OPERATING_POINT_KEY] = dict(record)
    atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))
    for other in linked:
        share_storage(path, other)


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
    """Store the resolved run config (plain containers, ``weights_only``-loadable) and the run id
    (``riskvision.runs``) in every checkpoint, weights-only ones included.

    ``scripts/eval.py`` rebuilds data and model from ``checkpoint["riskvision_cfg"]`` alone, and records the
    training run's id (``checkpoint["riskvision_run_id"]``) in its metrics.json. Lightning calls callbacks'
    ``on_save_checkpoint`` only for full checkpoints, so this callback hands the data to the module
    (``RiskModule.checkpoint_metadata``), whose own hook writes it into every checkpoint.
    """

    def __init__(self, config: dict[str, Any], run_id: str | None = None) -> None:
        self.config, self.run_id = config, run_id

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Set the module's checkpoint metadata: the config under :data:`CONFIG_KEY`, the run id under
        :data:`RUN_ID_KEY` and the training clips' time span under :data:`CLIP_SPAN_KEY` (when the datamodule
        says it; it is set up by now)."""
        if not isinstance(getattr(pl_module, "checkpoint_metadata", None), dict):
            raise TypeError(
                f"{type(pl_module).__name__} has no checkpoint_metadata dict: RunConfigInCheckpoint "
                "needs a riskvision.module.RiskModule"
            )
        span = getattr(trainer.datamodule, "clip_span_s", None)
        pl_module.checkpoint_metadata.update(
            {CONFIG_KEY: self.config, RUN_ID_KEY: self.run_id, CLIP_SPAN_KEY: span() if callable(span) else None}
        )


class BestCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` whose file name counts epochs from 1, as the run log does: the best epoch
    the log calls "epoch 9" is ``epoch_009.ckpt`` (Lightning's own ``{epoch}`` is 0-based). Nothing else changes:
    what is saved, when, and the metrics it monitors."""

    def format_checkpoint_name(self, metrics: dict[str, Any], *args: Any, **kwargs: Any) -> str:
        if "epoch" in metrics:
            metrics = {**metrics, "epoch": metrics["epoch"] + 1}
        return super().format_checkpoint_name(metrics, *args, **kwargs)


class LastCheckpoint(Checkpoint):
    """``<dirpath>/last.ckpt``: the state at the end of the latest epoch, what ``ckpt_path=last`` resumes.

    Written at the end of every training epoch (after its validation, so the tuned threshold is in it) and
    once more when training ends (the loops then count the last epoch as completed). Lightning 2.6's own
    ``save_last`` refreshes ``last.ckpt`` only on epochs whose monitored metric improved, so after a clean run
    it could hold the best epoch, not the last one. Writes go through the trainer's checkpoint IO
    (:class:`AtomicCheckpointIO`): after a SIGKILL the file is the latest complete epoch.

    When the best checkpoint (the trainer's ``ModelCheckpoint``) was written at this same step as a full
    checkpoint, it holds the same weights and optimiser state as ``last.ckpt``, and the pair shares one file
    (:func:`share_storage`, a hard link): at the end of an epoch ``last.ckpt`` becomes a link to the best file,
    which is not serialised a second time (a 1 GB write, 4-5 s on 2 cores, for the resnet3d101 quickstart); when
    training ends ``last.ckpt`` is written anew (the loops now count the epoch as completed) and the best file
    becomes a link to it. Being a ``Checkpoint``, this callback runs after the ``ModelCheckpoint`` listed before it
    (Lightning calls checkpoint callbacks last, in their order), so it sees the best checkpoint of its own epoch;
    listed before it, the pair is linked when training ends. A later epoch's ``last.ckpt`` is a new file
    (``os.replace``), which leaves the linked best file as it was. A weights-only best checkpoint
    (``save_weights_only: true``) is smaller and stays a file of its own.
    """

    def __init__(self, dirpath: str | os.PathLike) -> None:
        self.path = Path(dirpath) / "last.ckpt"

    def _save(self, trainer: Trainer, reuse_best: bool) -> None:
        if trainer.fast_dev_run or trainer.sanity_checking:
            return
        best = _best_saved_now(trainer)
        if reuse_best:  # every rank broadcasts; rank 0 links (the others do not write checkpoints)
            linked = trainer.is_global_zero and best is not None and share_storage(best, self.path)
            if trainer.strategy.broadcast(linked):
                return
        trainer.save_checkpoint(self.path, weights_only=False)  # the full state (optimiser, loops): resumable
        if best is not None and trainer.is_global_zero:
            share_storage(self.path, best)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Replace ``last.ckpt`` with this epoch's state (a link to the best file when that was saved now)."""
        self._save(trainer, reuse_best=True)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """The final state, with the last epoch counted as completed."""
        self._save(trainer, reuse_best=False)


def _best_saved_now(trainer: Trainer) -> Path | None:
    """The best checkpoint's path when a ``ModelCheckpoint`` wrote it as a full checkpoint at the current step
    (so it holds what ``last.ckpt`` now holds), else None."""
    for callback in trainer.checkpoint_callbacks:
        path = getattr(callback, "best_model_path", "")
        if (
            isinstance(callback, ModelCheckpoint)
            and path
            and not callback.save_weights_only
            and callback._last_global_step_saved == trainer.global_step  # Lightning 2.6 keeps these two
            and callback._last_checkpoint_saved == path
            and Path(path).is_file()
        ):
            return Path(path)
    return None


def share_storage(source: str | os.PathLike, target: str | os.PathLike) -> bool:
    """Make ``target`` a hard link to ``source`` (the same file contents, stored once), replacing it atomically.

    Returns False, leaving ``target`` as it was, where the filesystem has no hard links (or the two lie on
    different filesystems)."""
    source, target = Path(source), Path(target)
    if target.exists() and os.path.samefile(source, target):
        return True
    # not riskvision.files.atomic_write: it creates and chmods its temporary file, and a link must not exist yet
    # (its mode is the source's); the name still matches the stale-temporary pattern riskvision.runs removes
    tmp = target.with_name(f".{target.name}.link.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError as error:
        log.info(f"{target} stays a separate copy of {source}: no hard link ({error})")
        return False
    os.replace(tmp, target)
    return True
