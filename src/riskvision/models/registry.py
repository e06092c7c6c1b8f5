"""The model registry: every net of riskvision under one name, like ``timm.create_model`` /
``torchvision.models.get_model``.

A model is registered once, where it is defined, by decorating its builder::

    @register_model("resnet3d101")
    def resnet3d101(*, num_outputs: int, **kwargs: Any) -> ResNet3D:
        return ResNet3D(depth=101, num_outputs=num_outputs, **kwargs)

A builder takes the head width ``num_outputs`` (the ONE name of it for every net: logits per clip, set by the task,
``riskvision.tasks.Task.num_outputs``) and its net's own keyword arguments, and returns a
:class:`~riskvision.models.base.ClipNet`; its return annotation names that class (the class's ``read_pretrained``
reads the family's weights before anything is built). A ``ClipNet`` subclass whose constructor takes
``num_outputs`` may be registered directly.

- :func:`list_models`: the registered names; :func:`create_model`: one built (with pretrained weights loaded);
- :func:`model_targets`: the import paths of every registered builder and net class, the ``_target_`` values a
  checkpoint's stored config may name for its net (``riskvision.checkpoints.trust``);
- :func:`net_class`: the ClipNet class a ``_target_`` builds, without building it;
- :func:`upgrade_net_config`: a stored net config of an older riskvision in today's form (``num_classes`` ->
  ``num_outputs``).

The package's ``__init__`` imports every family module (each registers its models on import); Python runs it before
this module, so every lookup here sees every built-in model.
"""

from __future__ import annotations

import difflib
import sys
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from riskvision.models.base import ClipNet
from riskvision.models.pretrained import load_pretrained

__all__ = [
    "OLD_WIDTH_KEYS",
    "UnknownModelError",
    "create_model",
    "list_models",
    "model_entry",
    "model_targets",
    "net_class",
    "register_model",
    "upgrade_net_config",
]

#: The package whose exported names are also import paths of the registered objects (``riskvision.models.X``).
PACKAGE = "riskvision.models"
#: Head-width argument names of older riskvision versions, translated to ``num_outputs`` in stored configs.
OLD_WIDTH_KEYS = ("num_classes",)

Builder = TypeVar("Builder", bound=Callable[..., ClipNet])


class UnknownModelError(ValueError):
    """A model name that is not registered; the message lists the registered names."""


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its ``name``, its ``builder`` (``builder(*, num_outputs, **kwargs) -> ClipNet``) and
    the ClipNet class it builds (``net_class``)."""

    name: str
    builder: Callable[..., ClipNet]
    net_class: type[ClipNet]

    @property
    def targets(self) -> frozenset[str]:
        """The builder's and the net class's import paths (``module.qualname``, and ``riskvision.models.<name>``
        where the package exports them)."""
        return frozenset(path for obj in (self.builder, self.net_class) for path in _import_paths(obj))


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str) -> Callable[[Builder], Builder]:
    """Decorator registering ``builder`` under ``name`` (see the module docstring); returns it unchanged.

    Raises:
        ValueError: ``name`` is taken by another builder, or the builder does not say which ClipNet it builds.
    """

    def register(builder: Builder) -> Builder:
        previous = _REGISTRY.get(name)
        if previous is not None and _import_path(previous.builder) != _import_path(builder):
            raise ValueError(
                f"model name {name!r} is already registered by {_import_path(previous.builder)}; "
                f"{_import_path(builder)} needs another name"
            )
        _REGISTRY[name] = ModelEntry(name, builder, _built_class(builder))
        return builder

    return register


def list_models() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_REGISTRY)


def model_entry(name: str) -> ModelEntry:
    """The registered entry of ``name``.

    Raises:
        UnknownModelError: ``name`` is not registered (the message lists the registered names and the closest).
    """
    entry = _REGISTRY.get(name)
    if entry is None:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownModelError(
            f"model {name!r} is not registered.{hint} Registered models: "
            f"{', '.join(list_models())}. Fix: one of these names "
            "(riskvision.models.list_models())"
        )
    return entry


def create_model(name: str, *, num_outputs: int, pretrained: str | Path | None = None, **kwargs: Any) -> ClipNet:
    """The registered model ``name`` with ``num_outputs`` logits per clip, in training mode.

    Args:
        name: a registered name (:func:`list_models`).
        num_outputs: logits per clip (``task.num_outputs``: 1 for the binary crash head, 3 for the risk levels).
        pretrained: ``None`` (random initialisation), a weights file, or a name the family knows
            (``"torchvision"``); read by the net class's ``read_pretrained`` and loaded with
            :func:`riskvision.models.pretrained.load_pretrained` (the classifier is skipped when its width differs).
        kwargs: the net's own arguments.
    """
    net = model_entry(name).builder(num_outputs=int(num_outputs), **kwargs)
    if pretrained is not None:
        load_pretrained(net, pretrained)
    return net


def model_targets() -> frozenset[str]:
    """Every registered builder's and net class's import path, with its ``riskvision.models.<name>`` alias where
    the package exports it: the net ``_target_`` values a stored config may name (``riskvision.checkpoints.trust``)."""
    return frozenset(path for entry in _REGISTRY.values() for path in entry.targets)


def net_class(target: str) -> type[ClipNet]:
    """The ClipNet class a net ``_target_`` (a registered builder or net class, by any of :func:`model_targets`'
    paths) builds, without building anything.

    Raises:
        UnknownModelError: ``target`` is no registered builder or net class.
    """
    for entry in _REGISTRY.values():
        if target in entry.targets:
            return entry.net_class
    raise UnknownModelError(
        f"model.net._target_={target!r} is not a registered model's builder or class. Fix: "
        f"register it (riskvision.models.register_model) or use one of {', '.join(list_models())}"
    )


def upgrade_net_config(net: Mapping[str, Any]) -> dict[str, Any]:
    """A stored net config in today's form: the head width of older versions (``num_classes``, ResNet3D's until
    the registry) becomes ``num_outputs``. A config holding both with different values is refused."""
    net = dict(net)
    for old in OLD_WIDTH_KEYS:
        if old not in net:
            continue
        width = net.pop(old)
        if "num_outputs" in net and net["num_outputs"] != width:
            raise ValueError(
                f"stored net config has {old}={width!r} and num_outputs={net['num_outputs']!r}; they "
                "name one head width. Fix: keep num_outputs only"
            )
        net["num_outputs"] = width
    return net


def _import_path(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _import_paths(obj: Any) -> set[str]:
    """``obj``'s import path, and ``riskvision.models.<name>`` when the package exports it under its own name."""
    package = sys.modules[PACKAGE]  # imported before this module: its __init__ imports every family
    paths = {_import_path(obj)}
    if getattr(package, obj.__name__, None) is obj:
        paths.add(f"{PACKAGE}.{obj.__name__}")
    return paths


def _built_class(builder: Callable[..., ClipNet]) -> type[ClipNet]:
    """The ClipNet class ``builder`` builds: itself when it is one, else its return annotation."""
    if isinstance(builder, type):
        built: Any = builder
    else:
        try:
            built = typing.get_type_hints(builder).get("return")
        except NameError as error:
            raise ValueError(
                f"the return annotation of {_import_path(builder)} cannot be resolved ({error}); "
                "annotate it with the ClipNet class it builds"
            ) from None
    if not (isinstance(built, type) and issubclass(built, ClipNet)):
        raise ValueError(
            f"{_import_path(builder)} is registered as a model but does not say which ClipNet it builds "
            f"(return annotation {built!r}). Fix: annotate it, e.g. '-> ResNet3D'"
        )
    return built
