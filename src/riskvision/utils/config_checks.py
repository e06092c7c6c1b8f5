"""Checks of the composed config that run before any data is read, with messages that say the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from torch import nn

from riskvision.batch import LABEL_KEYS
from riskvision.checkpoints.loading import CONFIG_KEY, describe_checkpoint, load_checkpoint, model_name
from riskvision.checkpoints.reading import CheckpointError
from riskvision.checkpoints.trust import UntrustedConfigError
from riskvision.data.datasets import check_data_settings, record_sources
from riskvision.data.transforms import NORMALIZATION_PRESETS
from riskvision.models import ClipNet
from riskvision.utils.config_types import argument_problems
from riskvision.utils.overrides import RENAMED_KEYS, ConfigError, check_renamed_overrides  # noqa: F401 (re-exported)

INPUT_KEYS = ("sampler", "augment", "num_frames", "frame_size", "normalization", "target", "batch_size")


#: Config sections train.py instantiates, whose values are checked against their targets' signatures.
BUILT_SECTIONS = ("trainer", "model", "data", "callbacks", "logger", "evaluation")


def _check_feature_cache(model: DictConfig) -> None:
    """``model.feature_cache``: known keys, views >= 0, and (when enabled) a net whose per-frame features are frozen
    (the module checks the built net again when the fit starts)."""
    cache = model.get("feature_cache")
    if cache is None:
        return
    unknown = sorted(set(cache) - {"enabled", "dir", "views", "seed", "batch_frames"})
    if unknown:
        raise ConfigError(
            f"model.feature_cache has unknown keys {unknown}; it takes enabled, dir, views, seed, batch_frames"
        )
    views = cache.get("views") or 0
    if not isinstance(views, int) or views < 0:
        raise ConfigError(
            f"model.feature_cache.views={views!r}: use 0 (training without augmentation) or K >= 1 "
            "augmented views per training video"
        )
    if cache.get("enabled") and model.net.get("freeze", "all") != "all":
        raise ConfigError(
            f"model.feature_cache.enabled=true caches the features of a frozen backbone, but "
            f"model.net.freeze={model.net.freeze!r} trains part of it. Fix: model.net.freeze=all, or "
            "model.feature_cache.enabled=false"
        )
    if cache.get("enabled") and not cache.get("dir"):
        raise ConfigError(
            "model.feature_cache.enabled=true needs model.feature_cache.dir (where the features are kept)"
        )


def validate_config(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for an impossible run config (static checks, nothing instantiated).

    Checks every value of the built sections against its target's signature (``config_types``), ``model.inputs``
    (keys present, a target, a sampler of ``data.samplers``, an augmentation of
    ``data.augments`` or null, a normalisation preset,
    positive sizes), that the model's task learns that target, that an explicit ``ckpt_path`` file exists,
    that ``ckpt_path=last`` has a ``checkpoints/last.ckpt`` to resume in the run folder and that the checkpoint
    is one of this model (:func:`check_checkpoint_fits`).
    """
    inputs = cfg.model.get("inputs")
    if inputs is None:
        raise ConfigError("model.inputs is missing: every conf/model/*.yaml declares what it needs from the data")
    check_data_settings(cfg.data)
    missing = [key for key in INPUT_KEYS if key not in inputs]
    if missing:
        raise ConfigError(f"model.inputs lacks {missing}; see docs/architecture.md (Configuration)")
    _check_choice("model.inputs.target", inputs.target, LABEL_KEYS)
    _check_choice("model.inputs.sampler", inputs.sampler, tuple(cfg.data.get("samplers", ())))
    if inputs.augment is not None:
        _check_choice("model.inputs.augment", inputs.augment, tuple(cfg.data.get("augments", ())))
    _check_choice("model.inputs.normalization", inputs.normalization, tuple(NORMALIZATION_PRESETS))
    for key in ("num_frames", "frame_size", "batch_size"):
        if not isinstance(inputs[key], int) or inputs[key] < 1:
            raise ConfigError(f"model.inputs.{key}={inputs[key]!r} must be a positive integer")
    problems = [
        problem
        for section in BUILT_SECTIONS
        if cfg.get(section) is not None
        for problem in argument_problems(cfg[section], section)
    ]
    if problems:
        raise ConfigError("config values that their classes cannot take: " + "; ".join(problems))
    _check_feature_cache(cfg.model)
    task = task_class(cfg)
    if task.target != inputs.target:
        raise ConfigError(
            f"model.task ({task.__name__}) learns {task.target!r} but model.inputs.target={inputs.target!r}; "
            f"set model.inputs.target={task.target} or choose a model whose task learns {inputs.target!r}"
        )
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path not in (None, "last") and not Path(ckpt_path).is_file():
        raise ConfigError(f"ckpt_path={ckpt_path!r} is not a file; pass a .ckpt path or ckpt_path=last")
    if ckpt_path == "last" and not Path(resume_path(cfg)).is_file():
        raise ConfigError(
            f"ckpt_path=last but {resume_path(cfg)} does not exist: nothing to resume in this run "
            "folder. Fix: hydra.run.dir=<the folder of the run to resume>, or ckpt_path=<a .ckpt file>"
        )
    if ckpt_path is not None:
        check_checkpoint_fits(cfg)


def check_data_roots(data: DictConfig) -> None:
    """Raise ``DataLayoutError`` (naming the key, e.g. ``data.dota_root``, and the fix) when a data source's root is
    missing, a file or unreadable (:class:`ConfigError` when one is not set at all): each source of the data config is
    built (``riskvision.data.datasets.record_sources``: their constructors only store settings) and asked
    :meth:`~riskvision.data.sources.base.RecordSource.check_root`. Nothing is listed or read, so a wrong root fails
    in the time it takes to compose the config, before weights are read or a model is built."""
    check_data_settings(data)
    for source in record_sources(data).values():
        source.check_root()


def check_checkpoint_fits(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` unless ``ckpt_path`` is a train.py checkpoint (:func:`load_checkpoint`: the one
    loader, whose errors say what the file is) of the model this run builds: the same net config and task."""
    path = resume_path(cfg)
    try:
        checkpoint = load_checkpoint(path)
    except (CheckpointError, UntrustedConfigError) as error:
        raise ConfigError(f"ckpt_path: {error}") from None
    stored = checkpoint[CONFIG_KEY].get("model", {})
    wanted = OmegaConf.to_container(cfg.model, resolve=True)
    differences = [
        f"model.{key} ({old!r} in the checkpoint, {new!r} here)"
        for key, old, new in _differences(
            {"net": _without_width(stored.get("net")), "task": stored.get("task")},
            {"net": _without_width(wanted.get("net")), "task": wanted.get("task")},
        )
    ]
    if differences:
        listed = "; ".join(differences[:6]) + (f" and {len(differences) - 6} more" if len(differences) > 6 else "")
        raise ConfigError(
            f"ckpt_path={path} holds {describe_checkpoint(checkpoint)}, but this run builds {model_name(wanted)}: "
            f"{listed}. Fix: the model= and model.* overrides the checkpoint was trained with (its run folder's "
            ".hydra/overrides.yaml lists them), or a checkpoint of this model"
        )


def _without_width(net: Any) -> Any:
    """A net config without its head width: the task sets it (an old checkpoint's stored config states it)."""
    return {key: value for key, value in net.items() if key != "num_outputs"} if isinstance(net, dict) else net


def _differences(old: Any, new: Any, key: str = "") -> list[tuple[str, Any, Any]]:
    """``(dotted key, old value, new value)`` for every leaf where two plain configs differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            difference
            for name in dict.fromkeys([*old, *new])
            for difference in _differences(old.get(name), new.get(name), f"{key}.{name}" if key else name)
        ]
    return [] if old == new else [(key, old, new)]


def resume_path(cfg: DictConfig) -> str | None:
    """The checkpoint ``trainer.fit`` resumes from: ``ckpt_path=last`` is this run folder's ``checkpoints/last.ckpt``
    (what ``callbacks.last_checkpoint`` writes), any other value is a path or ``None`` (a fresh start)."""
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path == "last":
        return str(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
    return ckpt_path


def task_class(cfg: DictConfig) -> type:
    """The class ``model.task._target_`` names (a ``riskvision.tasks.Task``), without building it."""
    task = cfg.model.get("task")
    if not isinstance(task, DictConfig) or "_target_" not in task:
        raise ConfigError(
            f"model.task={task!r} must be a task config such as {{_target_: riskvision.tasks.BinaryCrash}} "
            "(binary crash) or {_target_: riskvision.tasks.RiskLevels} (3-class risk)"
        )
    try:
        return hydra.utils.get_class(task._target_)
    except Exception as error:
        raise ConfigError(f"model.task._target_={task._target_!r} is not an importable class ({error})") from None


def data_model_file() -> str:
    """The ``conf/data_model/*.yaml`` file this run's ``data`` x ``model`` pair applied, or why none did (for the
    run log: the pair's specialisation is chosen automatically, so the log says which one acted)."""
    choices = HydraConfig.get().runtime.choices
    name = choices.get("data_model")
    if name is None:
        return "none (no data_model group in this config)"
    available = GlobalHydra.instance().config_loader().get_group_options("data_model")
    if name in available:
        return f"conf/data_model/{name}.yaml"
    return f"none (no conf/data_model/{name}.yaml for data={choices.get('data')} model={choices.get('model')})"


def check_clip_length(net: nn.Module, num_frames: int) -> None:
    """Raise :class:`ConfigError` if ``net`` is no ``ClipNet`` or clips of ``num_frames`` are shorter than its
    ``min_frames``."""
    if not isinstance(net, ClipNet):
        raise ConfigError(
            f"model.net builds a {type(net).__name__}, not a riskvision.models.ClipNet; subclass "
            "ClipNet (riskvision/models/base.py) so the run knows its minimum clip length and input preset"
        )
    min_frames = net.min_frames
    if num_frames < min_frames:
        raise ConfigError(
            f"model.inputs.num_frames={num_frames} is shorter than the {type(net).__name__}'s minimum clip "
            f"length {min_frames} (its temporal strides leave no frames); use model.inputs.num_frames>={min_frames}"
        )


def _check_choice(key: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is unknown; choose one of {list(allowed)}")
