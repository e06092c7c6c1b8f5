"""The error of a config that asks for something impossible, on the floor so that every layer (data, inference,
evaluation, train.py's checks) raises the same type without importing train.py's helpers."""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """The composed config asks for something impossible; the message names the key and the fix."""
