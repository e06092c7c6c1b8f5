"""Config values checked against the signatures they are passed to, before anything is built.

``trainer.max_epochs=abc`` used to reach ``Trainer(max_epochs="abc")`` after the model was built and the data
indexed. :func:`check_argument_types` walks every ``_target_`` node of the config sections train.py builds
and checks each key against the target's signature: an argument it does not take, or a value whose type
cannot match the annotation (``int``, ``float``, ``bool``, ``str``, paths, ``Literal``, ``Optional``/unions,
sequences and mappings), is a message naming the key, the value and what is expected (``validate_config``
raises them as one ``ConfigError``). Annotations it cannot read are not checked (never a false alarm).
"""

from __future__ import annotations

import enum
import inspect
import os
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, ListConfig, OmegaConf

__all__ = ["argument_problems"]

SPECIAL = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}


def argument_problems(node: Any, key: str) -> list[str]:
    """One message per argument of a ``_target_`` node under ``node`` (at dotted ``key``) that its target does not
    take or whose value does not fit its annotation."""
    problems: list[str] = []
    if isinstance(node, DictConfig):
        if "_target_" in node:
            problems += _node_problems(node, key)
        for name in node:
            if name not in SPECIAL:
                problems += argument_problems(_value(node, name), f"{key}.{name}")
    elif isinstance(node, ListConfig):
        for index in range(len(node)):
            problems += argument_problems(_value(node, index), f"{key}[{index}]")
    return problems


def _value(node: DictConfig | ListConfig, name: Any) -> Any:
    """``node[name]`` resolved, or ``None`` when it cannot be resolved here (``???``, a runtime interpolation)."""
    try:
        return node[name]
    except Exception:
        return None


def _parameters(target: Any) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """``(parameters by name, type hints by name, takes any keyword)`` of a target. Keywords typed
    ``**settings: Unpack[SomeTypedDict]`` are the TypedDict's keys with their types (a data set's datamodule passes
    RiskDataModule's arguments on, ``riskvision.data.datasets``)."""
    parameters = dict(inspect.signature(target).parameters)
    try:
        hints = typing.get_type_hints(target.__init__ if inspect.isclass(target) else target)
    except Exception:
        hints = {}
    takes_any = False
    for name, parameter in list(parameters.items()):
        if parameter.kind is not inspect.Parameter.VAR_KEYWORD:
            continue
        del parameters[name]
        hint = hints.pop(name, None)
        if typing.get_origin(hint) is typing.Unpack and typing.is_typeddict(typing.get_args(hint)[0]):
            settings = typing.get_args(hint)[0]
            keys = typing.get_type_hints(settings)
            parameters.update({key: inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY) for key in keys})
            hints.update(keys)
        else:
            takes_any = True
    return parameters, hints, takes_any


def _node_problems(node: DictConfig, key: str) -> list[str]:
    try:
        target = hydra.utils.get_object(str(node._target_))
        parameters, hints, takes_any = _parameters(target)
    except Exception:
        return []  # an unknown target is reported by Hydra with its own message; a builtin has no signature
    name_of = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', target)}"
    problems = []
    for name in node:
        if name in SPECIAL:
            continue
        if name not in parameters:
            if not takes_any:
                accepted = ", ".join(p for p in parameters if p not in ("self", "args", "kwargs"))
                problems.append(f"{key}.{name} is not an argument of {name_of} (it takes: {accepted})")
            continue
        if OmegaConf.is_missing(node, name) or name not in hints:
            continue
        value = _value(node, name)
        default = parameters[name].default
        if value is None and default is None:
            continue
        if _fits(value, hints[name]) is False:
            problems.append(
                f"{key}.{name}={value!r} is not {_describe(hints[name])} (the type of {name_of}'s argument {name!r})"
            )
    return problems


def _fits(value: Any, hint: Any) -> bool | None:
    """Whether ``value`` can be passed as ``hint``: ``True``, ``False``, or ``None`` when it cannot be told."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        verdicts = [_fits(value, arg) for arg in typing.get_args(hint)]
        return True if True in verdicts else (None if None in verdicts else False)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is type(None):
        return value is None
    if hint in (int, float) and isinstance(value, (list, tuple, ListConfig)):
        return None  # many APIs annotate a number and take per-channel sequences too (RandomErasing's value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint in (Path, os.PathLike) or origin is os.PathLike:
        return isinstance(value, (str, os.PathLike))
    container = origin or hint
    collections = (list, tuple, dict, Sequence, Iterable, Mapping)
    if (
        isinstance(hint, type)
        and not issubclass(hint, (enum.Enum, str))
        and container not in collections
        and isinstance(value, str)
    ):
        return False  # a string where an object (a Tensor, a config of a class) is expected
    if isinstance(value, str):
        if container in (Sequence, Iterable):  # a string is a sequence of strings, of nothing else
            return None if typing.get_args(hint)[:1] in ((), (str,)) else False
        return False if container in (list, tuple, dict, Mapping) else None
    if container in (list, tuple, Sequence):
        return isinstance(value, (list, tuple, ListConfig))
    if container in (dict, Mapping):
        return isinstance(value, (dict, DictConfig))
    if isinstance(hint, type) and not issubclass(hint, enum.Enum) and isinstance(value, (int, float, bool)):
        return False  # a number where an object (a Tensor, a config of a class) is expected
    return None


def _describe(hint: Any) -> str:
    """An annotation in words: ``an int``, ``a float``, ``one of ['a', 'b']``, ``an int or None``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return f"one of {list(typing.get_args(hint))}"
    if hint is type(None):
        return "None"
    names = {int: "an int", float: "a number", bool: "true/false", str: "a string", Path: "a path"}
    return names.get(hint, f"a {getattr(hint, '__name__', str(hint))}")
