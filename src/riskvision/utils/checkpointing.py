"""Checkpoint writing that never leaves a truncated file, the latest epoch's checkpoint (sharing its storage with
the best one when they hold the same state), and the run config inside every checkpoint."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint

from riskvision.files import atomic_write
from riskvision.models.registry import upgrade_net_config
from riskvision.safe_load import CheckpointError, load_torch_file
from riskvision.trust import check_stored_config
from riskvision.upgrades import upgrade_data_config, upgrade_module_config
from riskvision.utils.pylogger import get_logger

#: Key under which the resolved run config (plain dicts/lists) is stored in each checkpoint.
CONFIG_KEY = "riskvision_cfg"
#: Key of the training run's id (``riskvision.runs``) in each checkpoint.
RUN_ID_KEY = "riskvision_run_id"
#: ``{"min", "median", "max"}`` seconds of video the training clips spanned (``RiskDataModule.clip_span_s``).
CLIP_SPAN_KEY = "riskvision_train_clip_span_s"
#: The alarm operating point (``riskvision.alarm.OperatingPoint.to_dict``: threshold, cap, split, policy) chosen on
#: validation after training (``train.py test=true``, ``scripts/eval.py store_operating_point=true``).
OPERATING_POINT_KEY = "riskvision_operating_point"
log = get_logger(__name__)
FIX = "Fix: pass a .ckpt written by riskvision's train.py (e.g. RUN/checkpoints/last.ckpt)"


def load_checkpoint(path: str | os.PathLike, trusted_targets: Iterable[str] = ()) -> dict[str, Any]:
    """A train.py checkpoint as plain data, checked before anything is built from it.

    Read with ``weights_only=True`` (:func:`riskvision.safe_load.load_torch_file`: no pickled code runs); its
    stored run config and hyperparameters pass :func:`riskvision.trust.check_stored_config` (only trusted
    ``_target_`` values, plus ``trusted_targets``; plain values only). ``train.py ckpt_path=``, ``eval.py``,
    ``predict_video.py`` and ``RiskModule.load_from_checkpoint`` all load through here.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: not a PyTorch file (empty, text, truncated), pickled code, or a PyTorch file that is not
            a train.py checkpoint (e.g. pretrained weights); the message says what it holds.
        UntrustedConfigError: the stored config names a target outside the allow-list, or holds non-plain data.
    """
    checkpoint = load_torch_file(path, FIX)
    if not isinstance(checkpoint, dict) or CONFIG_KEY not in checkpoint or "state_dict" not in checkpoint:
        raise CheckpointError(
            f"{path} is not a checkpoint of riskvision's train.py: it holds {_contents(checkpoint)}. {FIX}"
        )
    upgrade_stored_config(checkpoint)  # plain dicts only; the checks below see what will be built
    check_stored_config(checkpoint[CONFIG_KEY], f"{path}: stored run config", trusted=trusted_targets)
    check_stored_config(
        checkpoint.get("hyper_parameters", {}),
        f"{path}: stored hyperparameters",
        sections=None,
        trusted=trusted_targets,
    )
    return checkpoint


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


def upgrade_stored_config(checkpoint: dict[str, Any]) -> None:
    """Put the stored run config and hyperparameters of a checkpoint of an older riskvision in today's form, in place
    (``riskvision.models.upgrade_net_config``: ``net.num_classes`` -> ``net.num_outputs``; ``riskvision.upgrades``:
    the data and module keys that moved)."""
    run = checkpoint[CONFIG_KEY]
    if isinstance(run, dict) and isinstance(run.get("data"), Mapping):
        run["data"] = upgrade_data_config(run["data"])
    for holder, key in ((run, "model"), (checkpoint, "hyper_parameters")):
        module = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(module, Mapping):
            holder[key] = module = upgrade_module_config(module)
            if isinstance(module.get("net"), Mapping):
                module["net"] = upgrade_net_config(module["net"])


def model_name(model_cfg: Mapping[str, Any]) -> str:
    """A readable model name from a model config: the net class, with its depth or backbone when it has one,
    and the task (``ResNetBiLSTM-resnet18 (BinaryCrash)``, ``ResNet3D-101 (RiskLevels)``)."""
    return f"{net_name(model_cfg)} ({str(model_cfg.get('task', {}).get('_target_', '?')).rsplit('.', 1)[-1]})"


def net_name(model_cfg: Mapping[str, Any]) -> str:
    """The net class of a model config, with its depth or backbone and its temporal head (``ResNet3D-101``,
    ``ResNetBiLSTM-resnet18``, ``FrameNet-convnext_tiny-gru``); a torchvision video net's name (``mvit_v2_s``)."""
    net = model_cfg.get("net", {})
    if net.get("arch"):  # a torchvision video net: torchvision's name says it all (mvit_v2_s)
        return str(net["arch"])
    name = str(net.get("_target_", "?")).rsplit(".", 1)[-1]
    details = [str(value) for value in (net.get("depth") or net.get("backbone"), net.get("head")) if value]
    return "-".join([name, *details])


def describe_checkpoint(checkpoint: Mapping[str, Any]) -> str:
    """What a train.py checkpoint holds, for messages: model, task, epoch, step and the run folder."""
    run = checkpoint[CONFIG_KEY]
    folder = run.get("paths", {}).get("output_dir", "?")
    return (
        f"a {model_name(run.get('model', {}))} checkpoint at epoch {checkpoint.get('epoch', '?')}, step "
        f"{checkpoint.get('global_step', '?')}, of the run in {folder}"
    )


def _contents(obj: object) -> str:
    """What a loaded PyTorch file that is not a train.py checkpoint holds."""
    if isinstance(obj, Mapping) and "state_dict" in obj and "arch" in obj:
        return (
            f"Hara's pretrained {obj['arch']} weights (use them to start training: model.pretrained.source=<this file>)"
        )
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return (
            f"a bare state dict of {len(obj)} tensors (pretrained weights? use them to start training: "
            "model.pretrained.source=<this file>)"
        )
    if isinstance(obj, Mapping) and "state_dict" in obj:
        return f"a checkpoint without riskvision's run config (keys {sorted(map(str, obj))[:8]})"
    return f"a {type(obj).__name__}"


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
