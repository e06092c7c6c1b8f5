"""Frame-folder listings cached across starts: a BDD100K tree of frame folders is listed once, not at every start.

Listing 2,000 folders of 400 frames took 41 s here (80k folders: minutes). :class:`ListingCache` keeps each folder's
frame names (:class:`~riskvision.data.records.FrameNames`: a pattern, or the names) in an index cache file
(``.riskvision_frames_index.json`` in the frames folder, or ``<cache_dir>/<name>.riskvision_frames_index.json``),
keyed by the folder's path relative to the root and its ``mtime_ns`` (adding, removing or renaming a file changes
it). The file is outside input: an entry is believed only when it is ``[mtime_ns, count, ["pattern", prefix, start,
width, suffix] or ["names", [...]]]`` holding ``count`` plain image names (no path separator, an image suffix)
whose first and last are files of the folder (and, for a pattern, whose next number is not); else the folder is
listed again. A file that is not a JSON object is ignored (and rewritten). Only listings that raised no data issue
are kept: a folder with an issue is listed, and its issue reported, at every start.
"""

from __future__ import annotations

import os
from pathlib import Path

from riskvision.data.layout import IMAGE_SUFFIXES
from riskvision.data.probe import read_cache_file, write_cache_file
from riskvision.data.records import FrameNames

__all__ = ["LISTING_CACHE_NAME", "ListingCache"]

LISTING_CACHE_NAME = ".riskvision_frames_index.json"


def _is_image_name(name: object) -> bool:
    """A plain file name of an image inside the folder (no separator, not ``.`` / ``..``, an image suffix)."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and "\\" not in name
        and "\x00" not in name
        and name.lower().endswith(IMAGE_SUFFIXES)
    )


def _names_of(form: object, count: object) -> FrameNames | None:
    """The names an entry's ``form`` holds, ``None`` when it is malformed or does not hold ``count`` image names."""
    if not (isinstance(count, int) and not isinstance(count, bool) and count >= 1 and isinstance(form, list)):
        return None
    if len(form) == 5 and form[0] == "pattern":
        _, prefix, start, width, suffix = form
        if not (
            isinstance(prefix, str)
            and isinstance(suffix, str)
            and isinstance(start, int)
            and start >= 0
            and isinstance(width, int)
            and 1 <= width <= 12
            and not isinstance(start, bool)
        ):
            return None
        names = FrameNames.from_pattern(prefix, start, width, suffix, count)
        return names if _is_image_name(names[0]) and _is_image_name(names[-1]) else None
    if len(form) == 2 and form[0] == "names" and isinstance(form[1], list) and len(form[1]) == count:
        return FrameNames(form[1]) if all(_is_image_name(name) for name in form[1]) else None
    return None


class ListingCache:
    """``{relative folder: [mtime_ns, count, form]}`` of frame folders under ``root``, stored as JSON (module doc).

    Args:
        root: the folder the frame folders' keys are relative to (BDD's ``frames/100k``).
        cache_dir: where the file goes instead of ``root`` (``None``: inside ``root``).
        name: the file's name inside ``cache_dir`` (before the suffix), one per data tree, e.g. ``bdd_<root name>``.
    """

    def __init__(self, root: Path, cache_dir: str | Path | None = None, name: str = "bdd") -> None:
        self.root = root
        self.path = Path(cache_dir) / f"{name}{LISTING_CACHE_NAME}" if cache_dir else root / LISTING_CACHE_NAME
        self.entries = read_cache_file(self.path)
        self.dirty = False

    def _key(self, folder: Path) -> tuple[str, int]:
        return str(folder.relative_to(self.root)), os.stat(folder).st_mtime_ns

    def get(self, folder: Path) -> FrameNames | None:
        """The cached names of ``folder``; ``None`` (list it) when the entry is missing, stale or malformed, or the
        folder cannot be stat'ed."""
        try:
            key, mtime = self._key(folder)
        except OSError:
            return None
        entry = self.entries.get(key)
        if not (isinstance(entry, list) and len(entry) == 3 and entry[0] == mtime):
            return None
        names = _names_of(entry[2], entry[1])
        if names is None or not (folder / names[0]).is_file() or not (folder / names[-1]).is_file():
            return None
        pattern = names.pattern
        if pattern is not None:  # a numbered folder ends where the cache says: the next number is not there
            prefix, start, width, suffix, count = pattern
            if (folder / f"{prefix}{start + count:0{width}d}{suffix}").exists():
                return None
        return names

    def put(self, folder: Path, names: FrameNames) -> None:
        """Remember ``names`` as ``folder``'s listing (at its current mtime)."""
        try:
            key, mtime = self._key(folder)
        except OSError:
            return
        pattern = names.pattern
        form = ["pattern", *pattern[:4]] if pattern is not None else ["names", list(names)]
        self.entries[key] = [mtime, len(names), form]
        self.dirty = True

    def save(self) -> None:
        """Write the file when something changed (an unwritable location only costs listing again)."""
        if self.dirty:
            write_cache_file(self.path, self.entries)
