"""The feature cache: per-frame features of a frozen backbone, computed once per video and kept on disk.

A frozen backbone without augmentation gives the same features every epoch, so training a sequence head on them
(``models.FrameFeatureNet.forward_sequence``) needs the backbone once per frame, not once per frame per epoch.
The data layer knows no model: it is handed the backbone's identity (what the key records) and ``encode``
(normalised frames ``[N, 3, H, W]`` -> features ``[N, D]``); ``RiskModule`` hands them over when a fit starts.

Layout, under ``<root>/<backbone>-<16 hex digits of the key>/``::

    key.json                 everything that changes the features (below); the folder name is its hash
    index.json               what the folder holds: entry -> video id, source, frames, views, bytes
    videos/<entry>.json      one entry's record (video id, frames, views, shape), written first
    videos/<entry>.npy       float16 [views, frames, D], memory-mapped when read; written last (the commit)
    videos/<entry>.lock      flock'ed by the process extracting the entry

The key: the backbone and a SHA-256 of its weights, the frame size, the normalisation preset, the reader's
settings, the target frame rate, the storage dtype and the format version. An entry's name hashes the rest: the
video (source, id, path, kind, native rate, the native frames it reads, the file's or folder's size and
modification time), its target frames, the read size, and for augmented views their number, the augmentation's
description and seed. A changed key or video is a new name: stale features are never read (a frame folder's
frame files are keyed on their own size and modification time: a frame overwritten in place is noticed).

Every entry is checked before it is reused (:meth:`FeatureCache.entry_problem`): a damaged one (a truncated or
foreign array, another feature width or dtype, a link, a non-finite value, an unreadable record) is re-extracted
with a warning naming it, and an "unreadable" record is re-tried each run (the video may be fixed). A complete
cache in a read-only folder is used as it is.

Writing is atomic (``files.atomic_write``: a killed extraction leaves no half-written array under a final name) and
resumable (an entry whose array exists is skipped). Processes that share a folder (two runs, DDP ranks) take an
entry's lock before extracting it and skip an entry another process holds, then wait for it; the kernel drops
the lock of a process that dies, so its entries are picked up by whoever waits.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from riskvision.data.readers import FrameReader, FrameReadError, reader_for
from riskvision.data.records import DataWarning
from riskvision.data.timebase import TargetVideo
from riskvision.files import atomic_write
from riskvision.progress import ProgressLine

__all__ = ["FeatureCache", "FeatureEntry", "FillReport", "describe_callable"]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DTYPE = "float16"

Encode = Callable[[torch.Tensor], torch.Tensor]
"""Normalised float32 frames ``[N, 3, H, W]`` -> features ``[N, D]`` (any device; the cache moves them to CPU)."""


def describe_callable(function: Callable | None) -> str:
    """A stable description of a reader factory (``functools.partial`` of a function, or a function): its
    qualified name and keyword arguments, without memory addresses."""
    if function is None:
        return describe_callable(reader_for)
    keywords = dict(getattr(function, "keywords", {}) or {})
    args = tuple(getattr(function, "args", ()) or ())
    target = getattr(function, "func", function)
    name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', type(target).__name__)}"
    return f"{name}(args={list(args)}, {', '.join(f'{k}={v!r}' for k, v in sorted(keywords.items()))})"


def _file_stamp(path: Path) -> list:
    """``[name, size, mtime_ns]`` of a file (``[name, None, None]`` when it cannot be read): what an entry's name
    hashes of each frame file, so a frame overwritten in place gives a new name (never stale features)."""
    try:
        stat = os.stat(path)
    except OSError:
        return [path.name, None, None]
    return [path.name, stat.st_size, stat.st_mtime_ns]


def _hash(value: Any, length: int = 16) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:length]


@dataclass
class FeatureEntry:
    """One cached array: the features of ``frames`` of ``video``, as read (``views == 0``) or under ``views``
    draws of the training augmentation ``augment`` (``views >= 1``).

    Attributes:
        video: the video at the target rate.
        frames: sorted target-rate frame indices the array holds (the frames its clips can use).
        read_size: ``(H, W)`` the frames are read at (before ``augment``).
        views: 0 (one row: the frames as read) or the number of augmented rows.
        augment: uint8 ``[F, 3, H, W]`` -> ``[F, 3, h, w]`` (one draw per call); ``None`` when ``views == 0``.
        augment_name: the augmentation's description (``repr``), part of the entry's name.
        seed: seeds view ``k``'s draw (with the entry's name), so a re-extraction draws the same views.
    """

    video: TargetVideo
    frames: tuple[int, ...]
    read_size: tuple[int, int]
    views: int = 0
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None
    augment_name: str = ""
    seed: int = 0

    @property
    def rows(self) -> int:
        """Rows of the array: ``max(1, views)``."""
        return max(1, self.views)

    def identity(self) -> dict[str, Any]:
        """What the entry's name hashes (module docstring)."""
        record = self.video.record
        try:
            stat = os.stat(record.path)
            file = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        except OSError:
            file = None  # unreadable: extraction reports it
        native = self.video.native_indices(list(self.frames))
        identity = {
            "source": record.source,
            "video_id": record.video_id,
            "path": str(record.path),
            "kind": record.kind,
            "native_fps": record.native_fps,
            "native_frames": native,
            "file": file,
            "frames": list(self.frames),
            "read_size": list(self.read_size),
            "views": self.views,
        }
        if record.kind == "frames":  # a frame overwritten in place changes its size or mtime, not the folder's
            identity["frame_files"] = [
                _file_stamp(Path(record.path) / record.frame_files[i])
                for i in sorted(set(native))
                if i < len(record.frame_files)
            ]
        if self.views:
            identity.update(augment=self.augment_name, seed=self.seed)
        return identity

    @functools.cached_property
    def name(self) -> str:
        """File stem of the entry: a readable prefix of the video id and a hash of :meth:`identity`, computed once
        (the file's size and mtime as first seen), so extraction and reading agree on it."""
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.video.record.video_id)[:48]
        return f"{safe}-{_hash(self.identity(), 20)}"


@dataclass
class FillReport:
    """What :meth:`FeatureCache.fill` did: entries ``extracted`` here, ``reused`` (already there), ``unreadable``
    (their video cannot be read), and the backbone frames computed."""

    extracted: int = 0
    reused: int = 0
    unreadable: int = 0
    frames: int = 0


class _ViewFrames(Dataset):
    """Item ``entry``: the entry's frames read ONCE and its rows drawn from them: ``views`` uint8 ``[F, 3, H, W]``
    tensors (the frames as read, or one per augmented view, each with its own seeded draw), plus the
    substituted-frame count; ``{"error": message}`` for an unreadable video. Runs in DataLoader workers; readers
    are built once per worker and record kind."""

    def __init__(self, entries: Sequence[FeatureEntry], names: Sequence[str], reader_factory: Callable | None):
        self.entries, self.names = list(entries), list(names)
        self.reader_factory = reader_factory or reader_for
        self._readers: dict[tuple[str, tuple[int, int]], FrameReader] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, e: int) -> dict:
        entry = self.entries[e]
        record = entry.video.record
        reader_key = (record.kind, entry.read_size)
        if reader_key not in self._readers:
            self._readers[reader_key] = self.reader_factory(record, entry.read_size)
        try:
            result = self._readers[reader_key].read(record, entry.video.native_indices(list(entry.frames)))
        except FrameReadError as error:
            return {"entry": e, "error": str(error)}
        return {
            "entry": e,
            "views": [self._view(e, view, result.frames) for view in range(entry.rows)],
            "substituted": len(result.substituted),
        }

    def _view(self, e: int, view: int, frames: torch.Tensor) -> torch.Tensor:
        """Row ``view`` of entry ``e`` from its decoded ``frames``: the frames as read, or the augmentation drawn
        with the view's own seed (what a separate read of the video would give: the augmentation gets a copy)."""
        entry = self.entries[e]
        if not entry.views:
            return frames
        seed = int(hashlib.sha256(f"{self.names[e]}:{view}:{entry.seed}".encode()).hexdigest()[:15], 16)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return entry.augment(frames.clone())


class _ClaimingSampler(Sampler[int]):
    """Yields the entries this process claims, in the main process, as the DataLoader asks for them:
    an entry already committed is skipped (:attr:`reused`), one whose lock another process holds is left for later
    (:attr:`deferred`), otherwise its lock is taken (:attr:`locks`, released once the entry is committed) and it is
    yielded. It never waits for a lock, so processes that share a folder cannot deadlock."""

    def __init__(self, cache: FeatureCache, dataset: _ViewFrames, order: Sequence[int]) -> None:
        self.cache, self.dataset, self.order = cache, dataset, list(order)
        self.locks: dict[int, int] = {}
        self.reused = 0
        self.deferred: list[int] = []

    def __len__(self) -> int:
        return len(self.order)

    def _claim(self, e: int) -> bool:
        name = self.dataset.names[e]
        if self.cache.committed(name):
            self.reused += 1
            return False
        fd = os.open(self.cache.videos / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self.deferred.append(e)
            return False
        if self.cache.committed(name):  # committed by the process that held the lock just before
            os.close(fd)
            self.reused += 1
            return False
        self.cache.remove_leftovers(name)
        self.locks[e] = fd
        return True

    def __iter__(self) -> Iterator[int]:
        for e in self.order:
            if self._claim(e):
                yield e

    def release(self, e: int) -> None:
        fd = self.locks.pop(e, None)
        if fd is not None:
            os.close(fd)  # drops the flock

    def release_all(self) -> None:
        for e in list(self.locks):
            self.release(e)


class FeatureCache:
    """One key's folder of cached features (module docstring).

    Args:
        root: the cache folder (``model.feature_cache.dir``); the key's folder is made under it.
        key: everything that changes the features; JSON-serialisable, must name ``backbone``.
    """

    def __init__(self, root: str | os.PathLike, key: Mapping[str, Any]) -> None:
        self.key = {
            **json.loads(json.dumps(dict(key), sort_keys=True, default=str)),
            "format": FORMAT_VERSION,
            "dtype": DTYPE,
        }
        backbone = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(self.key.get("backbone", "backbone")))
        self.root = Path(root)
        self.path = self.root / f"{backbone}-{_hash(self.key)}"
        self.videos = self.path / "videos"

    def open(self) -> FeatureCache:
        """Make the folder and its ``key.json`` (or check the one there is this key); returns ``self``."""
        try:
            self.videos.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OSError(
                error.errno,
                f"cannot create the feature cache {self.videos}: {error.strerror}. Fix: "
                "model.feature_cache.dir=<a folder you can write>",
            ) from None
        key_file = self.path / "key.json"
        if key_file.exists():
            try:
                stored = json.loads(key_file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
                raise ValueError(
                    f"feature cache key {key_file} cannot be read ({error}); the folder is damaged. "
                    f"Fix: delete {self.path} (its features are extracted again)"
                ) from None
            if stored != self.key:
                raise ValueError(
                    f"{key_file} holds another key than its folder name says ({stored} != {self.key}); "
                    f"the folder is damaged. Fix: delete {self.path}"
                )
        else:
            atomic_write(key_file, lambda tmp: tmp.write_text(json.dumps(self.key, indent=1, sort_keys=True)))
        return self

    # ------------------------------------------------------------------------- entries

    def committed(self, name: str) -> bool:
        """The entry is complete: its array (or its unreadable record) is there."""
        if (self.videos / f"{name}.npy").exists():
            return True
        meta = self.videos / f"{name}.json"
        try:
            return meta.exists() and bool(self.record(name).get("unreadable"))
        except ValueError:  # a damaged record: not complete (entry_problem says why)
            return False

    def record(self, name: str) -> dict:
        """The entry's JSON record.

        Raises:
            ValueError: the record is not a JSON object (damaged); the message names it and the fix.
        """
        path = self.videos / f"{name}.json"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(
                f"feature cache entry {path} is damaged ({error}). Fix: delete it (it is extracted again)"
            ) from None
        if not isinstance(record, dict):
            raise ValueError(
                f"feature cache entry {path} is damaged (a JSON {type(record).__name__}, not an "
                "object). Fix: delete it (it is extracted again)"
            )
        return record

    def entry_problem(self, entry: FeatureEntry, name: str, width: int | None) -> str | None:
        """What is wrong with the committed entry ``name`` of ``entry`` (``None``: it can be used): its record
        and array must be plain files (not links), the record a JSON object of this entry, the array a float16
        ``[rows, frames, width]`` ``.npy`` of finite values (``width``: the features' size, when known). An
        "unreadable" record is a problem too: it is re-tried."""
        meta, array_path = self.videos / f"{name}.json", self.videos / f"{name}.npy"
        for path in (meta, array_path):
            if path.is_symlink():
                return f"{path.name} is a link to {os.readlink(path)}, not a file the cache wrote"
        if not meta.is_file():
            return f"{meta.name} is missing"
        try:
            record = self.record(name)
        except (OSError, ValueError) as error:
            return str(error)
        if record.get("unreadable"):
            return f"its video was recorded as unreadable ({record['unreadable']}); trying again"
        if record.get("video_id") != entry.video.record.video_id or record.get("frames") != list(entry.frames):
            return f"{meta.name} describes video {record.get('video_id')!r}, not {entry.video.record.video_id!r}"
        try:
            array = np.load(array_path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as error:
            return f"{array_path.name} is not a readable .npy array ({error})"
        expected = [entry.rows, len(entry.frames), width if width is not None else array.shape[-1]]
        if array.dtype != np.dtype(DTYPE) or list(array.shape) != expected:
            return (
                f"{array_path.name} holds {array.dtype} {list(array.shape)}, expected {DTYPE} {expected} "
                "(views, frames, features)"
            )
        if not np.isfinite(array).all():
            return f"{array_path.name} holds non-finite values (NaN or inf)"
        return None

    def _repair(self, entries: Sequence[FeatureEntry], names: Sequence[str]) -> int:
        """Remove every committed entry that :meth:`entry_problem` finds damaged, warning once per entry, so
        :meth:`fill` extracts it again; returns how many. The features' width is the key's ``feature_dim``, else
        the most common width of the entries' arrays."""
        width = self.key.get("feature_dim")
        width = int(width) if isinstance(width, int) else self._common_width(names)
        removed = 0
        for entry, name in zip(entries, names):
            meta, array_path = self.videos / f"{name}.json", self.videos / f"{name}.npy"
            if not (meta.exists() or meta.is_symlink() or array_path.exists() or array_path.is_symlink()):
                continue
            problem = self.entry_problem(entry, name, width)
            if problem is None:
                continue
            try:
                fd = self._try_lock(name)
            except OSError:
                if "unreadable" in problem:  # a read-only cache: its record stands
                    continue
                raise
            if fd is None:  # another process extracts it now
                continue
            try:
                for path in (array_path, meta):
                    path.unlink(missing_ok=True)
            except OSError as error:
                raise OSError(
                    error.errno,
                    f"feature cache entry {self.videos / name}.* cannot be used ({problem}) "
                    f"and cannot be removed ({error.strerror}). Fix: delete {self.videos / name}.npy and "
                    f".json, or model.feature_cache.dir=<a folder you can write>",
                ) from None
            finally:
                os.close(fd)
            removed += 1
            if "unreadable" not in problem:
                warnings.warn(
                    f"feature cache entry {self.videos / name}.npy is damaged: {problem}; extracting it again",
                    DataWarning,
                    stacklevel=3,
                )
        return removed

    def _common_width(self, names: Sequence[str]) -> int | None:
        """The most common last dimension of the entries' arrays (``None`` when none can be read)."""
        widths: dict[int, int] = {}
        for name in names:
            path = self.videos / f"{name}.npy"
            if path.is_file() and not path.is_symlink():
                try:
                    shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
                except (OSError, ValueError, EOFError):
                    continue
                if shape:
                    widths[shape[-1]] = widths.get(shape[-1], 0) + 1
        return max(widths, key=widths.get) if widths else None

    def _try_lock(self, name: str) -> int | None:
        """The entry's lock file descriptor, held (``None`` when another process holds it)."""
        try:
            fd = os.open(self.videos / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise OSError(
                error.errno,
                f"feature cache {self.videos} is damaged and cannot be repaired "
                f"({error.strerror}). Fix: model.feature_cache.dir=<a folder you can write>, or delete "
                f"{self.path}",
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def array(self, name: str) -> np.ndarray:
        """The entry's float16 ``[views, frames, D]`` array, memory-mapped read-only."""
        return np.load(self.videos / f"{name}.npy", mmap_mode="r", allow_pickle=False)

    def remove_leftovers(self, name: str) -> None:
        """Temporary files a killed extraction of ``name`` left (call with the entry's lock held)."""
        for leftover in self.videos.glob(f".{name}.*.tmp"):
            leftover.unlink(missing_ok=True)

    def _commit(
        self, entry: FeatureEntry, name: str, features: np.ndarray | None, substituted: int, error: str | None
    ) -> None:
        record = {
            "video_id": entry.video.record.video_id,
            "source": entry.video.record.source,
            "frames": list(entry.frames),
            "views": entry.views,
            "substituted": substituted,
        }
        if error is not None:
            record["unreadable"] = error
        else:
            record["shape"] = list(features.shape)
        if features is not None and not np.isfinite(features).all():
            raise ValueError(
                f"the backbone gave non-finite features (NaN or inf) for {entry.video.record.video_id} "
                f"({entry.video.record.path}); training on them would give a NaN loss. Fix: check the "
                "backbone's weights (model.net.pretrained) and that its frames decode"
            )
        atomic_write(
            self.videos / f"{name}.json",
            lambda tmp: tmp.write_text(json.dumps(record)),
            option="model.feature_cache.dir",
        )
        if features is None:
            return

        def save(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.save(handle, features)

        atomic_write(self.videos / f"{name}.npy", save, option="model.feature_cache.dir")

    # ------------------------------------------------------------------------- extraction

    @torch.no_grad()
    def fill(
        self,
        entries: Sequence[FeatureEntry],
        encode: Encode,
        reader_factory: Callable | None = None,
        normalize: Callable[[torch.Tensor], torch.Tensor] | None = None,
        num_workers: int = 0,
        batch_frames: int = 64,
        rank: int = 0,
        world_size: int = 1,
        poll_s: float = 2.0,
    ) -> FillReport:
        """Extract every entry not committed yet; returns what was done.

        Frames are read (and views augmented) in ``num_workers`` DataLoader workers while this process runs
        ``encode`` on ``normalize``-d chunks of ``batch_frames`` frames. ``rank`` of ``world_size`` (DDP) starts at
        its share of the list, so ranks rarely meet. Entries another process is extracting are left to it and
        waited for afterwards (checked every ``poll_s`` seconds, holding no lock); one whose extractor died (its lock
        dropped, its array missing) is extracted here."""
        self.open()
        names = [entry.name for entry in entries]
        self._repair(entries, names)
        dataset = _ViewFrames(entries, names, reader_factory)
        start = (len(entries) * rank) // max(1, world_size)
        order = [(start + k) % len(entries) for k in range(len(entries))]
        report = FillReport()
        waited = False
        todo = sum(entry.rows for entry, name in zip(entries, names) if not self.committed(name))
        progress = ProgressLine(f"feature cache {self.path.name}: extracting", todo, "videos x views")
        while order:
            sampler = _ClaimingSampler(self, dataset, order)
            self._run_pass(dataset, sampler, encode, normalize, num_workers, batch_frames, report, progress)
            report.reused += sampler.reused
            order = [e for e in sampler.deferred if not self.committed(names[e])]
            report.reused += len(sampler.deferred) - len(order)
            if order:
                if not waited:
                    log.info(
                        "feature cache %s: %d entries are being extracted by another process; waiting for them",
                        self.path,
                        len(order),
                    )
                    waited = True
                time.sleep(poll_s)
        if report.extracted or report.unreadable:
            progress.close()
        self._update_index(entries, names)
        return report

    def _run_pass(
        self,
        dataset: _ViewFrames,
        sampler: _ClaimingSampler,
        encode: Encode,
        normalize: Callable | None,
        num_workers: int,
        batch_frames: int,
        report: FillReport,
        progress: ProgressLine,
    ) -> None:
        """Extract the entries ``sampler`` claims, committing each once its last view is encoded."""
        loader = DataLoader(dataset, batch_size=None, sampler=sampler, num_workers=num_workers)
        try:
            for item in loader:
                e = item["entry"]
                entry = dataset.entries[e]
                if "error" in item:
                    self._commit(entry, dataset.names[e], None, 0, item["error"])
                    report.unreadable += 1
                    record = entry.video.record
                    warnings.warn(
                        f"feature cache: {record.video_id} ({record.path}) cannot be read: {item['error']} "
                        "Its clips are replaced by the next readable clip; `python scripts/check_data.py` "
                        "lists every such file.",
                        DataWarning,
                        stacklevel=2,
                    )
                else:
                    views = [self._encode(frames, encode, normalize, batch_frames) for frames in item["views"]]
                    self._commit(entry, dataset.names[e], np.stack(views), item["substituted"], None)
                    report.extracted += 1
                    report.frames += sum(len(frames) for frames in item["views"])
                progress.advance(entry.rows)
                sampler.release(e)
        finally:
            sampler.release_all()

    @staticmethod
    def _encode(frames: torch.Tensor, encode: Encode, normalize: Callable | None, batch_frames: int) -> np.ndarray:
        chunks = []
        for start in range(0, len(frames), batch_frames):
            chunk = frames[start : start + batch_frames]
            chunk = normalize(chunk) if normalize is not None else chunk.float()
            chunks.append(encode(chunk).float().cpu().numpy().astype(DTYPE))
        return np.concatenate(chunks)

    def _update_index(self, entries: Sequence[FeatureEntry], names: Sequence[str]) -> None:
        """Add ``entries`` to ``index.json`` (under ``index.lock``: processes sharing the folder merge their lists).
        A damaged index (it only lists the folder) is rebuilt; an index already listing every entry is left alone,
        so a complete cache in a read-only folder can be used."""
        index_file = self.path / "index.json"
        if all(name in self._read_index(index_file) for name in names):
            return
        try:
            fd = os.open(self.path / "index.lock", os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            log.warning("feature cache %s: index.json not updated (%s)", self.path, error.strerror)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            index = self._read_index(index_file)
            for entry, name in zip(entries, names):
                array = self.videos / f"{name}.npy"
                if name not in index and self.committed(name):
                    index[name] = {
                        "video_id": entry.video.record.video_id,
                        "source": entry.video.record.source,
                        "frames": len(entry.frames),
                        "views": entry.views,
                        "bytes": array.stat().st_size if array.exists() else 0,
                    }
            atomic_write(
                index_file,
                lambda tmp: tmp.write_text(json.dumps(index, indent=0, sort_keys=True)),
                option="model.feature_cache.dir",
            )
        finally:
            os.close(fd)

    @staticmethod
    def _read_index(index_file: Path) -> dict:
        """``index.json`` as a dict of entries; ``{}`` when missing or damaged (it is rebuilt, with a warning)."""
        if not index_file.exists():
            return {}
        try:
            index = json.loads(index_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            index = error
        if isinstance(index, dict) and all(isinstance(value, dict) for value in index.values()):
            return index
        log.warning(
            "feature cache index %s is damaged (%s); rebuilding it",
            index_file,
            index if isinstance(index, Exception) else f"a JSON {type(index).__name__}",
        )
        return {}

    def size_bytes(self) -> int:
        """Bytes of every array in the folder."""
        return sum(path.stat().st_size for path in self.videos.glob("*.npy"))

    def describe(self, report: FillReport | None = None) -> str:
        """Where the cache is, what it holds, how big it is and how to clear it."""
        entries = sum(1 for _ in self.videos.glob("*.npy"))
        done = (
            ""
            if report is None
            else (
                f" (this run: {report.extracted} extracted, {report.frames} backbone frames; "
                f"{report.reused} reused; {report.unreadable} unreadable)"
            )
        )
        return (
            f"Feature cache {self.path}: {entries} arrays, {self.size_bytes() / 2**20:.1f} MB{done}. Key: "
            f"{json.dumps({k: v for k, v in self.key.items() if k != 'weights_sha256'}, sort_keys=True)}. "
            f"Clear it with: rm -rf {self.path} (or the whole {self.root})"
        )
