"""The synthetic data set: real DoTA/BDD layouts and schema, determinism, caching, and the shortcut
probe (a single frame must not reveal crash vs normal, nor the warning period before a crash; motion must
reveal the crash)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from riskvision.data.sources.synthetic import SyntheticSizes, ensure_synthetic
from riskvision.data.sources.synthetic.scene import WARNING_S

REAL_ANNOTATION = Path(__file__).resolve().parents[1] / "fixtures" / "dota" / "annotations" / "0RJPQ_97dcs_000199.json"
TINY = dict(num_crash=4, num_normal=3, width=64, height=40, crash_seconds=(3.0, 4.0), normal_seconds=(2.0, 3.0))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    return ensure_synthetic(tmp_path_factory.mktemp("synthetic"), seed=3, **TINY)


def _tree_bytes(root: Path, pattern: str) -> dict[str, bytes]:
    """``{relative path: bytes}`` of the generated files matching ``pattern`` (not the readers' hidden caches)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob(pattern)) if not p.name.startswith(".")}


# ----------------------------------------------------------------------------- layout and schema


def test_dota_tree_matches_the_official_layout_and_schema(tiny) -> None:
    real = json.loads(REAL_ANNOTATION.read_text())
    root = tiny.dota_root
    splits = {s: (root / f"{s}_split.txt").read_text().split() for s in ("train", "val")}
    metadata = {s: json.loads((root / f"metadata_{s}.json").read_text()) for s in ("train", "val")}
    assert splits["train"] and splits["val"] and not set(splits["train"]) & set(splits["val"])
    for subset, clips in splits.items():
        assert sorted(metadata[subset]) == sorted(clips)
        for clip in clips:
            meta = metadata[subset][clip]
            annotation = json.loads((root / "annotations" / f"{clip}.json").read_text())
            assert list(annotation) == list(real)  # same keys in the same order
            assert set(annotation["labels"][0]) == set(real["labels"][0])
            source, start = clip.rsplit("_", 1)
            assert len(source) == 11 and start == f"{annotation['video_start']:06d}"
            n, a, b = annotation["num_frames"], annotation["anomaly_start"], annotation["anomaly_end"]
            assert 0 <= a < b <= n and annotation["video_end"] == annotation["video_start"] + n - 1
            assert isinstance(annotation["accident_id"], str) and meta["subset"] == subset
            who = "ego" if annotation["ego_involve"] else "other"
            assert meta["anomaly_class"] == f"{who}: {annotation['accident_name']}"
            assert {k: meta[k] for k in ("anomaly_start", "anomaly_end", "num_frames")} == {
                "anomaly_start": a,
                "anomaly_end": b,
                "num_frames": n,
            }
            ids = [label["accident_id"] for label in annotation["labels"]]
            assert ids == [int(annotation["accident_id"]) if a <= i < b else 0 for i in range(n)]
            frames = sorted((root / "frames" / clip / "images").iterdir())
            assert [p.name for p in frames] == [f"{i:06d}.jpg" for i in range(n)]
            assert Image.open(frames[0]).size == (TINY["width"], TINY["height"])
    for obj in (
        o
        for f in sorted((root / "annotations").iterdir())
        for label in json.loads(f.read_text())["labels"]
        for o in label["objects"]
    ):
        x0, y0, x1, y1 = obj["bbox"]
        assert 0 <= x0 < x1 <= TINY["width"] and 0 <= y0 < y1 <= TINY["height"] and "category ID" in obj


def test_bdd_tree_holds_30fps_h264_videos_in_train_and_val(tiny) -> None:
    videos = {s: sorted((tiny.bdd_root / "videos" / "100k" / s).glob("*.mp4")) for s in ("train", "val")}
    assert videos["train"] and videos["val"]
    for path in videos["train"] + videos["val"]:
        head, tail = path.stem.split("-")
        assert len(head) == len(tail) == 8
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264" and stream.average_rate == 30
            count = sum(1 for _ in container.decode(video=0))
        assert TINY["normal_seconds"][0] * 30 <= count <= TINY["normal_seconds"][1] * 30 + 1


def test_both_roots_say_synthetic(tiny) -> None:
    for root in (tiny.dota_root, tiny.bdd_root):
        meta = json.loads((root / "synthetic.json").read_text())
        assert meta["synthetic"] is True and meta["seed"] == 3 and meta["sizes"]["num_crash"] == 4


def test_index_builders_mark_records_synthetic(tiny) -> None:
    from riskvision.data.sources.bdd import build_bdd_index
    from riskvision.data.sources.dota import build_dota_index

    dota, bdd = build_dota_index(tiny.dota_root), build_bdd_index(tiny.bdd_root)
    assert len(dota) == TINY["num_crash"] and len(bdd) == TINY["num_normal"]
    assert all(r.synthetic for r in dota + bdd) and all(r.has_anomaly for r in dota)


# ----------------------------------------------------------------------------- caching, determinism


def test_same_seed_gives_identical_bytes_and_a_second_call_reuses(tiny, tmp_path: Path) -> None:
    again = ensure_synthetic(tmp_path, seed=3, **TINY)
    assert again.generated and again.root.name == tiny.root.name
    for pattern in ("*.json", "*.txt", "*.jpg", "*.mp4"):
        assert _tree_bytes(again.root, pattern) == _tree_bytes(tiny.root, pattern), pattern
    reused = ensure_synthetic(tmp_path, seed=3, **TINY)
    assert not reused.generated and reused.root == again.root
    assert [p.name for p in tmp_path.iterdir()] == [again.root.name]  # no temporary folder left


def test_another_seed_gives_another_data_set(tiny, tmp_path: Path) -> None:
    other = ensure_synthetic(tmp_path, seed=4, **TINY)
    assert other.root.name != tiny.root.name
    assert _tree_bytes(other.dota_root, "*.json") != _tree_bytes(tiny.dota_root, "*.json")
    assert _tree_bytes(other.bdd_root, "*.mp4").values() != _tree_bytes(tiny.bdd_root, "*.mp4").values()


def test_an_incomplete_tree_is_regenerated(tiny, tmp_path: Path) -> None:
    first = ensure_synthetic(tmp_path, seed=3, **TINY)
    (first.root / "COMPLETE").unlink()
    for path in (first.dota_root / "annotations").iterdir():
        path.write_text("{")  # a half-written tree
    redone = ensure_synthetic(tmp_path, seed=3, **TINY)
    assert redone.generated and (redone.root / "COMPLETE").is_file()
    assert _tree_bytes(redone.root, "*.json") == _tree_bytes(tiny.root, "*.json")


def test_unknown_size_names_the_valid_ones() -> None:
    with pytest.raises(TypeError, match="num_crash"):
        SyntheticSizes.from_kwargs(num_crashes=3)


# ----------------------------------------------------------------------------- the shortcut probe

PROBE_FPS = 10


def _dota_frames(root: Path, clip: str) -> np.ndarray:
    """Every 10 fps frame of a DoTA clip, uint8 ``[T, H, W, 3]``."""
    return np.stack([np.asarray(Image.open(p)) for p in sorted((root / "frames" / clip / "images").iterdir())])


def _bdd_frames(path: Path) -> np.ndarray:
    """A 30 fps video resampled to 10 fps (native frame round(i * 30 / 10)), uint8 ``[T, H, W, 3]``."""
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack(frames[:: 30 // PROBE_FPS])


def _grey_small(frame: np.ndarray, cells: tuple[int, int] = (8, 12)) -> np.ndarray:
    """Mean grey level over a ``cells`` grid, ``[cells[0] * cells[1]]`` in 0-255."""
    grey = frame.astype(np.float32).mean(axis=2)
    h, w = grey.shape
    rows, cols = h // cells[0] * cells[0], w // cells[1] * cells[1]
    return grey[:rows, :cols].reshape(cells[0], rows // cells[0], cells[1], cols // cells[1]).mean(axis=(1, 3)).ravel()


def single_frame_features(frame: np.ndarray) -> np.ndarray:
    """Grey thumbnail + per-channel colour histograms + compression-artefact statistics of one frame."""
    pixels = frame.astype(np.float32)
    hist = np.concatenate(
        [np.histogram(frame[..., c], bins=8, range=(0, 256))[0] / frame[..., 0].size for c in range(3)]
    )
    grey = pixels.mean(axis=2)
    laplace = np.abs(4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:])
    block_edges = np.abs(np.diff(grey, axis=1))[:, 7::8].mean() / (np.abs(np.diff(grey, axis=1)).mean() + 1e-6)
    return np.concatenate([_grey_small(frame), hist, [laplace.mean(), np.median(laplace), block_edges]])


def motion_features(frames: np.ndarray, t: int, gap: int = 2) -> np.ndarray:
    """Change from frame ``t`` to frames ``t + 1 .. t + gap``: absolute grey differences on a 4x6 grid,
    relative to the frame's brightness (night clips are dark), and their means."""
    cells = [_grey_small(frames[t + g], (4, 6)) for g in range(gap + 1)]
    diffs = [np.abs(c - cells[0]) / (cells[0].mean() + 10) for c in cells[1:]]
    return np.concatenate(diffs + [[d.mean() for d in diffs]])


def _probe_accuracy(features: list[np.ndarray], labels: list[int], groups: list[str]) -> float:
    """Held-out-video accuracy of a logistic regression (5-fold, folds split by video)."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    scores = cross_val_score(model, np.stack(features), np.array(labels), groups=groups, cv=GroupKFold(5))
    return float(scores.mean())


def shortcut_probe(
    dota_root: Path, bdd_root: Path, phase: str = "anomaly", per_video: int = 4, gap: int = 3
) -> tuple[float, float]:
    """(single-frame accuracy, motion accuracy) for crash vs normal on held-out videos.

    Crash samples come from ``phase`` of each crash clip: ``anomaly``, the anomaly span (single frames evenly
    spread over it, impact and aftermath included; motion from its first frames, the fast closing), or
    ``warning``, the ``WARNING_S`` before it (single frames and motion evenly spread over it). Normal samples come from
    evenly spaced frames of each 10 fps-resampled BDD video.
    """
    single, motion, labels, groups = [], [], [], []
    for path in sorted((dota_root / "annotations").iterdir()):
        annotation = json.loads(path.read_text())
        frames = _dota_frames(dota_root, annotation["video_name"])
        start, end = annotation["anomaly_start"], min(annotation["anomaly_end"], len(frames) - gap)
        if phase == "warning":
            first = max(0, start - round(WARNING_S * PROBE_FPS))
            if start - gap - first < per_video:
                continue  # the clip starts too close to its anomaly
            spots = np.linspace(first, start - gap - 1, per_video).astype(int)
            pairs = zip(spots, spots)
        else:
            pairs = zip(np.linspace(start, end - 1, per_video).astype(int), range(start, start + per_video))
        for t, u in pairs:
            single.append(single_frame_features(frames[t]))
            motion.append(motion_features(frames, min(u, len(frames) - gap - 1), gap))
            labels.append(1)
            groups.append(path.stem)
    for path in sorted(bdd_root.rglob("*.mp4")):
        frames = _bdd_frames(path)
        for t in np.linspace(0, len(frames) - gap - 1, per_video).astype(int):
            single.append(single_frame_features(frames[t]))
            motion.append(motion_features(frames, t, gap))
            labels.append(0)
            groups.append(path.stem)
    return _probe_accuracy(single, labels, groups), _probe_accuracy(motion, labels, groups)


def test_single_frames_do_not_reveal_the_class_but_motion_does(tmp_path: Path) -> None:
    paths = ensure_synthetic(tmp_path, seed=0, num_crash=30, num_normal=30, width=96, height=56)
    single, motion = shortcut_probe(paths.dota_root, paths.bdd_root)
    assert single <= 0.65, f"a single frame reveals crash vs normal (probe accuracy {single:.2f})"
    assert motion >= 0.8, f"motion does not separate crash from normal (probe accuracy {motion:.2f})"
    # the warning period (the struck vehicle closing in) must not be told from normal driving by one frame either
    single, _ = shortcut_probe(paths.dota_root, paths.bdd_root, phase="warning")
    assert single <= 0.65, f"a single frame reveals the warning period (probe accuracy {single:.2f})"
