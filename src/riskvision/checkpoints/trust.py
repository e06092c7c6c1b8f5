"""What a config that came from elsewhere (a checkpoint's stored run config) may build.

A ``.ckpt`` downloaded from a paper's page is untrusted: loading it with ``weights_only=True`` runs no pickled
code, but its stored run config is instantiated by Hydra, and a ``_target_`` is a call of any importable
function. Before anything is built (or even imported) from such a config, :func:`check_stored_config` checks:

- every ``_target_`` of the parts that are built (``model``, ``data``; a module's hyperparameters) is one of
  :func:`trusted_targets` (compared as strings, so nothing named in the file is imported to decide): a registered
  model's builder or net class (``riskvision.models.model_targets()``, derived from the model registry) or one of
  :data:`OTHER_TARGETS`, or one the user named on the command line (``trusted_targets=[my_pkg.MyNet]``);
- Hydra's special keys are only ``_target_``, ``_partial_``, ``_recursive_``, ``_convert_`` and ``_args_``;
- every value is plain data (``str``, ``int``, ``float``, ``bool``, ``None``, lists and string-keyed mappings),
  and no string is an OmegaConf interpolation (``${...}`` would call a resolver such as ``oc.env``).

Anything else is refused with :class:`UntrustedConfigError` naming the file, the key and the value.

A stored config's paths are not opened either (:func:`check_stored_files`): a file it names (:data:`STORED_FILE_KEYS`,
e.g. ``data.labels.alerts``) is read only when the user passes it on the command line, since an error about a file
that is not what it should be quotes its first line (a stored path could put any file's header into the log). The
stored data roots of "evaluate on the training data" are only searched for their data set's own file names, and
never written (``RiskDataModule.forbid_writes``). Standard library only at import: every layer may import it (the
model registry is read when a config is checked).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "BUILT_SECTIONS",
    "OTHER_TARGETS",
    "STORED_FILE_KEYS",
    "UntrustedConfigError",
    "check_stored_config",
    "check_stored_files",
    "trusted_targets",
]

#: The ``_target_`` values other than nets a stored config may name: riskvision's module, tasks and data classes
#: and the optimiser, scheduler and transform classes ``conf/`` ships configs for
#: (``tests/test_checkpoint_trust.py`` checks that every ``_target_`` under conf/model and conf/data is trusted). A
#: new source or task class joins this list to be rebuildable from its checkpoints; a new model is trusted by
#: being registered (``riskvision.models.register_model``).
OTHER_TARGETS = frozenset(
    {
        # the module and its tasks
        "riskvision.module.RiskModule",
        "riskvision.tasks.BinaryCrash",
        "riskvision.tasks.RiskLevels",
        "riskvision.tasks.CrashAnticipation",
        # data: the datamodules (generic and per data set), their settings, sources, splits, labels, samplers,
        # readers, augmentation
        "riskvision.data.datamodule.RiskDataModule",
        "riskvision.data.datasets.DotaBddData",
        "riskvision.data.datasets.CcdData",
        "riskvision.data.datasets.DadData",
        "riskvision.data.datasets.NexarData",
        "riskvision.data.datasets.SyntheticData",
        "riskvision.data.config.FrameConfig",
        "riskvision.data.config.LoaderConfig",
        "riskvision.data.sources.dota.DotaSource",
        "riskvision.data.sources.dota.DotaFilter",
        "riskvision.data.sources.bdd.BddSource",
        "riskvision.data.sources.synthetic.SyntheticSource",
        "riskvision.data.sources.ccd.CcdSource",
        "riskvision.data.sources.dad.DadSource",
        "riskvision.data.sources.nexar.NexarSource",
        "riskvision.data.sources.base.EventFilter",
        "riskvision.data.splits.SubsetSplit",
        "riskvision.data.splits.FileSplit",
        "riskvision.data.splits.RandomSplit",
        "riskvision.data.labels.LabelPolicy",
        "riskvision.data.sampling.UniformSampler",
        "riskvision.data.sampling.WindowSampler",
        "riskvision.data.readers.reader_for",
        "riskvision.data.transforms.ClipAugment",
        "riskvision.data.transforms.MultiScaleCornerCrop",
        # optimisers and schedulers
        "torch.optim.Adam",
        "torch.optim.AdamW",
        "torch.optim.SGD",
        "torch.optim.lr_scheduler.ReduceLROnPlateau",
        "torch.optim.lr_scheduler.CosineAnnealingLR",
        "torch.optim.lr_scheduler.StepLR",
        "torch.optim.lr_scheduler.MultiStepLR",
        # torchvision transforms of the augmentation configs
        "torchvision.transforms.v2.AutoAugment",
        "torchvision.transforms.v2.AutoAugmentPolicy",
        "torchvision.transforms.v2.ColorJitter",
        "torchvision.transforms.v2.GaussianBlur",
        "torchvision.transforms.v2.RandomErasing",
        "torchvision.transforms.v2.RandomHorizontalFlip",
        "torchvision.transforms.v2.RandomPerspective",
        "torchvision.transforms.v2.RandomResizedCrop",
    }
)

#: Sections of a stored run config that are ever built (their ``_target_`` values are checked); the other
#: sections (trainer, callbacks, logger, ...) are kept as a record and never instantiated.
BUILT_SECTIONS = ("model", "data")
#: Keys with underscores on both sides that a stored config may hold (Hydra's; an older version's ``_shortcuts_`` is
#: translated before the check, ``riskvision.upgrades``).
SPECIAL_KEYS = frozenset({"_target_", "_partial_", "_recursive_", "_convert_", "_args_"})
PLAIN = (str, int, float, bool, type(None))
#: Keys of a data config (dotted, under ``data``) that name a file riskvision reads: a stored value is not opened
#: unless the command line gives the key (:func:`check_stored_files`).
STORED_FILE_KEYS = ("labels.alerts",)


class UntrustedConfigError(ValueError):
    """A stored config names something riskvision does not build from a file, or holds non-plain data."""


def trusted_targets() -> frozenset[str]:
    """Every ``_target_`` a stored config may name: :data:`OTHER_TARGETS` and the registered models' builders and
    net classes (``riskvision.models.model_targets``)."""
    from riskvision.models.registry import model_targets  # imported when a config is checked, not with this module

    return OTHER_TARGETS | model_targets()


def check_stored_config(
    config: Mapping[str, Any], source: str, sections: Iterable[str] | None = BUILT_SECTIONS, trusted: Iterable[str] = ()
) -> None:
    """Raise :class:`UntrustedConfigError` unless ``config`` is plain data whose built parts name only trusted
    targets (see the module docstring).

    Args:
        config: the stored mapping (a checkpoint's ``riskvision_cfg`` or ``hyper_parameters``).
        source: what to call it in messages (``"<file>: stored run config"``).
        sections: the top-level keys whose ``_target_`` values are checked; ``None`` checks all of them.
        trusted: more targets to accept (what the user named with ``trusted_targets=``).
    """
    if not isinstance(config, Mapping):
        raise UntrustedConfigError(f"{source} is a {type(config).__name__}, not a mapping of config keys")
    allowed = trusted_targets() | set(trusted)
    for key, value in config.items():
        built = sections is None or key in sections
        _check(value, str(key), source, allowed if built else None)


def _check(value: Any, key: str, source: str, allowed: frozenset[str] | set[str] | None) -> None:
    """Recursive walk; ``allowed`` is ``None`` where targets are not checked (never-built sections)."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            if not isinstance(name, str):
                raise UntrustedConfigError(f"{source}: key {name!r} under {key!r} is not a string")
            if name.startswith("_") and name.endswith("_") and name not in SPECIAL_KEYS:
                raise UntrustedConfigError(
                    f"{source}: {key}.{name} is a special key riskvision does not accept in a "
                    f"stored config (accepted: {sorted(SPECIAL_KEYS)})"
                )
            _check(item, f"{key}.{name}", source, allowed)
        target = value.get("_target_")
        if allowed is not None and target is not None and target not in allowed:
            raise UntrustedConfigError(
                f"{source}: {key}._target_={target!r} is not a class riskvision builds from a stored config, so "
                "nothing was built or imported. Fix: use a checkpoint written by riskvision's train.py; if you wrote "
                f"this class and trust the file, name it on the command line: trusted_targets=[{target}]"
            )
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, f"{key}[{index}]", source, allowed)
    elif not isinstance(value, PLAIN):
        raise UntrustedConfigError(
            f"{source}: {key} holds a {type(value).__name__} where a stored config holds "
            "plain values (str, int, float, bool, null, lists, mappings)"
        )
    elif isinstance(value, str) and "${" in value:
        raise UntrustedConfigError(
            f"{source}: {key}={value!r} is an interpolation; a stored config is resolved "
            "when it is written, so this file was edited. Nothing was resolved"
        )


def check_stored_files(stored_data: Mapping[str, Any], given_data: Mapping[str, Any] | None, source: str) -> None:
    """Refuse a stored data config naming a file (:data:`STORED_FILE_KEYS`) the command line does not name too.

    Args:
        stored_data: the checkpoint's stored ``data`` config.
        given_data: the ``data`` keys the command line gives (``+data.labels.alerts=PATH``), or ``None``.
        source: what to call the stored config in messages.

    Raises:
        UntrustedConfigError: naming the key, the stored path and the fix; nothing was opened.
    """
    for key in STORED_FILE_KEYS:
        stored = _lookup(stored_data, key)
        if stored is not None and not _given(given_data or {}, key):
            raise UntrustedConfigError(
                f"{source}: data.{key}={stored!r} names a file; riskvision does not open files a checkpoint names, "
                f"so it was not read. Fix: if you trust it, pass it yourself: +data.{key}={stored} (or "
                f"+data.{key}=null to evaluate without it)"
            )


def _lookup(config: Mapping[str, Any], dotted: str) -> Any:
    """``config[a][b]`` for ``"a.b"``; ``None`` where a level is missing."""
    value: Any = config
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _given(config: Mapping[str, Any], dotted: str) -> bool:
    """The command line set ``dotted`` (to ``null`` too)."""
    *parents, last = dotted.split(".")
    parent = _lookup(config, ".".join(parents)) if parents else config
    return isinstance(parent, Mapping) and last in parent
