"""The feature cache on issue 31's cases: damaged entries are re-extracted with a warning naming them, a frame
overwritten in place is never served stale features, a damaged key or index is named or rebuilt, a complete
read-only cache is usable, and a backbone giving NaN is refused before anything is written."""

from __future__ import annotations

import errno
import json
import os
import warnings

import numpy as np
import pytest
from data.test_feature_cache import CountingEncoder, datamodule, frozen_net, use_cache

from riskvision.data import feature_cache
from riskvision.data.sources.synthetic import ensure_synthetic

SIZES = {
    "num_crash": 2,
    "num_normal": 2,
    "width": 32,
    "height": 32,
    "crash_seconds": [2, 2],
    "normal_seconds": [2, 2],
    "clips_per_source": [1, 1],
}


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic_damage")
    ensure_synthetic(root, seed=0, **SIZES)
    return root


def _damage(kind: str, npy, meta) -> None:
    rows = np.load(npy)
    if kind == "truncated":
        npy.write_bytes(npy.read_bytes()[:200])
    elif kind == "random":
        npy.write_bytes(os.urandom(npy.stat().st_size))
    elif kind == "width":
        np.save(npy, np.zeros((*rows.shape[:2], rows.shape[2] // 2), np.float16))
    elif kind == "object":
        np.save(npy, np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
    elif kind == "symlink":
        npy.unlink()
        npy.symlink_to("/etc/hostname")
    elif kind == "garbage_json":
        meta.write_text("{not json")
    elif kind == "nan":
        np.save(npy, np.full(rows.shape, np.nan, np.float16))
    elif kind == "forged_unreadable":
        meta.write_text(json.dumps({**json.loads(meta.read_text()), "unreadable": "forged"}))
        npy.unlink()


KINDS = ["truncated", "random", "width", "object", "symlink", "garbage_json", "nan", "forged_unreadable"]


def test_damaged_entries_are_named_and_extracted_again(synthetic_root, tmp_path):
    net = frozen_net()
    dm = datamodule(synthetic_root)
    cache = use_cache(dm, net, tmp_path)
    entries = [entry for split in dm.feature_entries.values() for entry in split]
    damaged = dict(zip(KINDS, entries))
    for kind, entry in damaged.items():
        _damage(kind, cache.videos / f"{entry.name}.npy", cache.videos / f"{entry.name}.json")
    encoder = CountingEncoder(net)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        use_cache(datamodule(synthetic_root), net, tmp_path, encoder)
    messages = [str(w.message) for w in caught if "is damaged" in str(w.message)]
    for kind, entry in damaged.items():
        named = [m for m in messages if entry.name in m]
        assert (kind == "forged_unreadable") == (not named), (kind, messages)  # a retried record is not "damaged"
    assert encoder.calls == len(damaged)  # each damaged entry extracted again, the others reused
    fresh = CountingEncoder(net)
    use_cache(datamodule(synthetic_root), net, tmp_path, fresh)
    assert fresh.calls == 0  # all repaired


def test_a_frame_overwritten_in_place_is_extracted_again(synthetic_root, tmp_path):
    net = frozen_net()
    dm = datamodule(synthetic_root)
    use_cache(dm, net, tmp_path)
    frames = next(v.record for split in dm.videos.values() for v in split if v.record.kind == "frames")
    frame = frames.path / frames.frame_files[0]
    other = frames.path / frames.frame_files[-1]
    saved = frame.read_bytes()
    try:
        frame.write_bytes(other.read_bytes())  # new content, same folder, same name
        encoder = CountingEncoder(net)
        use_cache(datamodule(synthetic_root), net, tmp_path, encoder)
        assert encoder.calls == 1
    finally:
        frame.write_bytes(saved)


def test_a_damaged_key_is_named_and_a_damaged_index_rebuilt(synthetic_root, tmp_path):
    net = frozen_net()
    cache = use_cache(datamodule(synthetic_root), net, tmp_path)
    (cache.path / "index.json").write_text("[1, 2]")
    encoder = CountingEncoder(net)
    use_cache(datamodule(synthetic_root), net, tmp_path, encoder)
    assert encoder.calls == 0 and isinstance(json.loads((cache.path / "index.json").read_text()), dict)
    (cache.path / "key.json").write_text("\x00garbage")
    with pytest.raises(
        ValueError,
        match=rf"feature cache key {cache.path / 'key.json'} cannot be read .*Fix: delete "
        rf"{cache.path}",
    ):
        use_cache(datamodule(synthetic_root), net, tmp_path)


def test_a_complete_read_only_cache_is_used(synthetic_root, tmp_path, monkeypatch):
    net = frozen_net()
    cache = use_cache(datamodule(synthetic_root), net, tmp_path)
    real_open = os.open

    def read_only(path, flags, *args):  # tests run as root, which chmod does not stop
        if str(path).startswith(str(cache.path)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(feature_cache.os, "open", read_only)
    encoder = CountingEncoder(net)
    dm = datamodule(synthetic_root)
    use_cache(dm, net, tmp_path, encoder)
    assert encoder.calls == 0 and dm.dataset("train", dm.sampler, train=True)[0]["features"].shape[-1] == 512


def test_a_backbone_giving_nan_is_refused_before_anything_is_written(synthetic_root, tmp_path):
    net = frozen_net()

    class NaNEncoder(CountingEncoder):
        def __call__(self, frames):
            return super().__call__(frames) * float("nan")

    with pytest.raises(ValueError, match=r"the backbone gave non-finite features .* Fix: check the backbone's weights"):
        use_cache(datamodule(synthetic_root), net, tmp_path, NaNEncoder(net))
    assert not list(tmp_path.rglob("*.npy"))
