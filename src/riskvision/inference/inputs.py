"""Input videos: the names of their outputs and of their rows, the suffixes read as videos, and the error a
source that cannot be used raises (``inference.sources`` opens and decodes them)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

__all__ = ["VIDEO_SUFFIXES", "VideoInputError", "output_names", "source_label"]

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg")


class VideoInputError(Exception):
    """One input video cannot be used (missing, undecodable, no frames); the others still run."""


def output_names(sources: Sequence[str | Path]) -> list[str]:
    """One distinct output stem per source: a file's stem (a folder's name; ``<clip>`` for ``<clip>/images``),
    ``<stem>_<suffix>`` when stems
    collide, numbered when those collide too; a URL, device or pipe that is not a file is named by its spec
    with every run of characters other than letters, digits, ``_`` and ``-`` replaced by ``_``."""

    def name_path(spec: str | Path) -> Path:
        path = _named_path(spec)
        if path.exists() and (path.is_dir() or path.suffix):  # a file, a folder or a named pipe such as camera.ts
            return path
        return Path(re.sub(r"[^A-Za-z0-9_-]+", "_", str(spec)).strip("_") or "source")

    paths = [name_path(source) for source in sources]
    stems = [p.stem for p in paths]
    names = [
        f"{p.stem}_{p.suffix.lstrip('.').lower()}" if stems.count(p.stem) > 1 and p.suffix else p.stem for p in paths
    ]
    for i, name in enumerate(names):  # same stem and suffix in two folders: number them
        if names.count(name) > 1:
            names[i] = f"{name}_{names[:i].count(name) + 1}"
    return names


def source_label(source: str | Path) -> str:
    """What tables and summaries call a source: a file's name, a folder's name (``<clip>`` for ``<clip>/images``),
    a URL or device as given."""
    path = _named_path(source)
    return path.name if path.exists() else str(source)


def _named_path(source: str | Path) -> Path:
    path = Path(source)
    return path.parent if path.is_dir() and path.name == "images" else path  # DoTA's <clip>/images: the clip
