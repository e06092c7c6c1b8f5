"""Loading a train.py checkpoint: read safely, checked against the allow-list, then handed over as plain data.

What a train.py checkpoint holds beyond Lightning's own keys (``state_dict``, ``hyper_parameters``, ``epoch``, ...)
is named here once: the run config (:data:`CONFIG_KEY`), the run id (:data:`RUN_ID_KEY`), the training clips' time
span (:data:`CLIP_SPAN_KEY`) and the alarm operating point (:data:`OPERATING_POINT_KEY`). ``train.py ckpt_path=``,
``eval.py``, ``predict_video.py``, the export and ``RiskModule.load_from_checkpoint`` all load through
:func:`load_checkpoint`; writing checkpoints (train.py's callbacks) is :mod:`riskvision.checkpoints.writing`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import torch

from riskvision.checkpoints.reading import CheckpointError, load_torch_file
from riskvision.checkpoints.trust import check_stored_config
from riskvision.models.registry import upgrade_net_config
from riskvision.upgrades import upgrade_data_config, upgrade_module_config

#: Key under which the resolved run config (plain dicts/lists) is stored in each checkpoint.
CONFIG_KEY = "riskvision_cfg"
#: Key of the training run's id (``riskvision.runs``) in each checkpoint.
RUN_ID_KEY = "riskvision_run_id"
#: ``{"min", "median", "max"}`` seconds of video the training clips spanned (``RiskDataModule.clip_span_s``).
CLIP_SPAN_KEY = "riskvision_train_clip_span_s"
#: The alarm operating point (``riskvision.alarm.OperatingPoint.to_dict``: threshold, cap, split, policy) chosen on
#: validation after training (``train.py test=true``, ``scripts/eval.py store_operating_point=true``).
OPERATING_POINT_KEY = "riskvision_operating_point"
FIX = "Fix: pass a .ckpt written by riskvision's train.py (e.g. RUN/checkpoints/last.ckpt)"


def load_checkpoint(path: str | os.PathLike, trusted_targets: Iterable[str] = ()) -> dict[str, Any]:
    """A train.py checkpoint as plain data, checked before anything is built from it.

    Read with ``weights_only=True`` (:func:`riskvision.checkpoints.reading.load_torch_file`: no pickled code runs); its
    stored run config and hyperparameters pass :func:`riskvision.checkpoints.trust.check_stored_config` (only trusted
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
            holder[key] = upgrade_module_hparams(module)


def upgrade_module_hparams(module: Mapping[str, Any]) -> dict[str, Any]:
    """A stored module config (``model`` of a run config, or a checkpoint's hyperparameters) of an older riskvision
    in today's form: the module keys that moved (``riskvision.upgrades``) and the net's width name
    (``riskvision.models.upgrade_net_config``)."""
    module = upgrade_module_config(module)
    if isinstance(module.get("net"), Mapping):
        module["net"] = upgrade_net_config(module["net"])
    return module


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
