"""Bad frame files: one decode decision (right 8-bit RGB picture, or unreadable) for training reads and
check_data; clips with no readable frame are dropped at training time and FATAL in check_data."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import warnings
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from riskvision.data.check import check, verify_frames
from riskvision.data.config import FrameConfig, LoaderConfig
from riskvision.data.datamodule import RiskDataModule
from riskvision.data.readers import FrameDecodeError, FrameReadError, JpegFolderReader, reader_for
from riskvision.data.records import DataWarning, VideoRecord
from riskvision.data.sampling import WindowSampler
from riskvision.data.sources.bdd import BddSource

REPO = Path(__file__).resolve().parents[2]
SIZE = (24, 32)  # (H, W) of the generated frames
RNG = np.random.default_rng(0)


def _rgb() -> Image.Image:
    return Image.fromarray(RNG.integers(0, 256, (*SIZE, 3), dtype=np.uint8))


def _grey16() -> Image.Image:
    """A 16-bit greyscale image (PIL mode I;16) whose values span 0..65535: clipped to 8 bits, nearly white."""
    return Image.fromarray(RNG.integers(0, 65536, SIZE, dtype=np.uint16))


#: name -> (image, save format); every file is named .jpg whatever it holds.
READABLE = {
    "palette": (lambda: _rgb().quantize(16), "PNG"),
    "grey": (lambda: _rgb().convert("L"), "PNG"),
    "grey_alpha": (lambda: _rgb().convert("LA"), "PNG"),
    "rgba": (lambda: Image.merge("RGBA", [*_rgb().split(), _rgb().convert("L")]), "PNG"),
    "bilevel": (lambda: _rgb().convert("1"), "PNG"),
    "cmyk_jpeg": (lambda: _rgb().convert("CMYK"), "JPEG"),
}
UNREADABLE = {
    "grey16_png": (_grey16, "PNG", "'I;16'"),
    "grey16_tiff": (_grey16, "TIFF", "'I;16'"),
    "int32_tiff": (lambda: _grey16().convert("I"), "TIFF", "'I'"),
    "float_tiff": (lambda: Image.fromarray(RNG.random(SIZE, dtype=np.float32) * 1000), "TIFF", "'F'"),
}


def _folder(root: Path, middle: Image.Image, fmt: str) -> VideoRecord:
    """Frames 000000.jpg (grey 60), 000001.jpg (``middle`` saved as ``fmt``), 000002.jpg (grey 200)."""
    root.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", SIZE[::-1], (60,) * 3).save(root / "000000.jpg", quality=95)
    middle.save(root / "000001.jpg", format=fmt)
    Image.new("RGB", SIZE[::-1], (200,) * 3).save(root / "000002.jpg", quality=95)
    return VideoRecord(
        root.name, "dota", root, "frames", 10.0, 3, frame_files=("000000.jpg", "000001.jpg", "000002.jpg")
    )


@pytest.mark.parametrize("name", READABLE)
def test_8bit_modes_decode_to_their_rgb_picture(tmp_path, name):
    """Palette, L, LA, RGBA (alpha dropped), bilevel and CMYK files, even named .jpg, give PIL's RGB picture."""
    make, fmt = READABLE[name]
    record = _folder(tmp_path / name, make(), fmt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = JpegFolderReader(None).read(record, [1])
    expected = torch.from_numpy(np.asarray(Image.open(record.path / "000001.jpg").convert("RGB")).copy())
    assert result.substituted == []
    difference = (result.frames[0].int() - expected.permute(2, 0, 1).int()).abs().max()
    assert difference <= (1 if fmt == "JPEG" else 0)  # libjpeg-turbo's CMYK -> RGB rounds unlike PIL's


@pytest.mark.parametrize("name", UNREADABLE)
def test_high_bit_depth_files_count_as_unreadable_and_are_substituted(tmp_path, name):
    """A 16-bit/32-bit/float image named .jpg would come out (nearly) white: it is substituted, with a warning
    naming the file and its mode, by the nearest readable frame."""
    make, fmt, mode = UNREADABLE[name]
    record = _folder(tmp_path / name, make(), fmt)
    bad = record.path / "000001.jpg"
    with pytest.warns(UserWarning, match=rf"(?s)unreadable frame {bad}.*{mode}") as caught:
        result = JpegFolderReader((12, 16)).read(record, [1, 2])
    assert len([w for w in caught if "unreadable frame" in str(w.message)]) == 1
    assert result.substituted == [str(bad)]
    assert result.frames[0].float().mean() == pytest.approx(60, abs=2)  # frame 0, not a white frame
    with pytest.raises(FrameDecodeError, match=mode) as error:
        JpegFolderReader(None).decode(bad)
    assert error.value.path == bad and "8-bit" in str(error.value)


def _declare_jpeg_size(data: bytes, height: int, width: int) -> bytes:
    """``data`` (a baseline JPEG) with its SOF0 header declaring ``height`` x ``width``."""
    sof = data.index(b"\xff\xc0")
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


def _declare_png_size(data: bytes, height: int, width: int) -> bytes:
    """``data`` (a PNG) with its IHDR declaring ``height`` x ``width`` (CRC recomputed)."""
    start = data.index(b"IHDR")
    body = struct.pack(">II", width, height) + data[start + 12 : start + 17]
    return data[:start] + b"IHDR" + body + struct.pack(">I", zlib.crc32(b"IHDR" + body)) + data[start + 21 :]


def test_files_declaring_huge_sizes_are_unreadable_before_decoding(tmp_path):
    """A decompression bomb (a small file declaring 50000 x 50000 pixels) is refused from its header by both
    decoders (simplejpeg for JPEGs, PIL for the rest), with the file and the size named."""
    jpeg, png = tmp_path / "bomb.jpg", tmp_path / "bomb_png.jpg"
    _rgb().save(jpeg, quality=90)
    _rgb().save(png, format="PNG")
    jpeg.write_bytes(_declare_jpeg_size(jpeg.read_bytes(), 50000, 50000))
    png.write_bytes(_declare_png_size(png.read_bytes(), 50000, 50000))
    reader = JpegFolderReader((12, 16))
    with pytest.raises(FrameDecodeError, match=r"bomb\.jpg.*50000x50000 = 2500000000 pixels.*MAX_IMAGE_PIXELS"):
        reader.decode(jpeg)
    with pytest.raises(FrameDecodeError, match=r"bomb_png\.jpg.*DecompressionBombError"):
        reader.decode(png)
    assert all(isinstance(r, FrameDecodeError) for r in reader.decode_many([jpeg, png]))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_pixel_limit_is_pil_max_image_pixels_for_both_decoders(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # 24 x 32 = 768 pixels is over it
    record = _folder(tmp_path / "clip", _rgb(), fmt)
    with pytest.raises(FrameDecodeError, match=r"000001\.jpg.*32x24 = 768 pixels.*MAX_IMAGE_PIXELS = 500"):
        JpegFolderReader((12, 16)).decode(record.path / "000001.jpg")
    with pytest.raises(FrameReadError, match="no frame of"):  # every frame of the clip is over the limit
        JpegFolderReader((12, 16)).read(record, [1])


# ------------------------------------------------------------------ one decision for training and check_data


def _bdd_frames(root: Path, clips: dict[str, int], subset: str = "val") -> Path:
    """BDD frame folders ``root/frames/100k/<subset>/<id>/%06d.jpg`` (10 fps), ``clips``: id -> frame count."""
    for clip, count in clips.items():
        folder = root / "frames" / "100k" / subset / clip
        folder.mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", SIZE[::-1], (10 + 20 * i,) * 3).save(folder / f"{i:06d}.jpg", quality=95)
    (root / "frames" / "100k" / "prepared.json").write_text(json.dumps({"fps": 10}))
    return root


def _module(root: Path, reader_factory=None) -> RiskDataModule:
    """The BDD frame folders of ``root`` (subset val: the test split), 2-frame windows of 8 x 8."""
    return RiskDataModule(
        {"bdd": BddSource(root)},
        samplers={"window": WindowSampler(2)},
        sampler="window",
        frames=FrameConfig(size=(8, 8), reader_factory=reader_factory),
        loader=LoaderConfig(eval_batch_size=4),
    )


def _damage(folder: Path, kind: str, name: str) -> None:
    path = folder / name
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(path.read_bytes()[:120])
    elif kind == "garbage":
        path.write_bytes(b"not an image" * 40)
    elif kind == "grey16":
        _grey16().save(path, format="PNG")
    elif kind == "bomb":
        path.write_bytes(_declare_jpeg_size(path.read_bytes(), 40000, 40000))
    elif kind == "palette":  # readable
        _rgb().quantize(8).save(path, format="PNG")


def test_check_data_reports_exactly_the_frames_training_substitutes(tmp_path):
    root = _bdd_frames(tmp_path / "bdd", {"aaaa-0001": 8})
    folder = root / "frames/100k/val/aaaa-0001"
    for i, kind in enumerate(["empty", "truncated", "garbage", "grey16", "bomb", "palette"]):
        _damage(folder, kind, f"{i + 1:06d}.jpg")
    dm = _module(root)
    (record,) = dm.build_records()
    issues = verify_frames(dm)
    with pytest.warns(UserWarning, match="unreadable frame"):
        substituted = reader_for(record, dm.frame_size).read(record, range(record.num_frames)).substituted
    assert sorted(i.path for i in issues) == sorted(substituted) == [str(folder / f"{i:06d}.jpg") for i in range(1, 6)]
    assert {i.kind for i in issues} == {"unreadable_frame"} and not any(i.fatal for i in issues)
    by_path = {Path(i.path).name: i.message for i in issues}
    assert "empty" in by_path["000001.jpg"] and "'I;16'" in by_path["000004.jpg"]
    assert "40000x40000" in by_path["000005.jpg"] and "nearest readable frame" in by_path["000005.jpg"]


def test_check_data_uses_the_reader_factory_training_uses(tmp_path):
    """verify_frames decodes with datamodule.reader_factory: a stricter reader's decision is the one reported."""
    root = _bdd_frames(tmp_path / "bdd", {"aaaa-0001": 3})
    calls = []

    def factory(record, size):
        calls.append(size)
        return JpegFolderReader(size, chunk_size=2)

    dm = _module(root, reader_factory=factory)
    dm.build_records()
    verify_frames(dm)
    assert calls == [(8, 8)]


# ------------------------------------------------------------------ a clip with no readable frame


def _one_bad_clip(tmp_path: Path) -> RiskDataModule:
    """Test split of three 4-frame BDD clips; every frame of the second one is corrupt."""
    root = _bdd_frames(tmp_path / "bdd", {"aaaa-0001": 4, "bbbb-0002": 4, "cccc-0003": 4})
    for name in ("000000.jpg", "000001.jpg", "000002.jpg", "000003.jpg"):
        _damage(root / "frames/100k/val/bbbb-0002", "garbage", name)
    dm = _module(root)
    dm.setup("test")
    return dm


def test_unreadable_clip_is_dropped_once_and_replaced_by_the_next_readable_clip(tmp_path):
    dm = _one_bad_clip(tmp_path)
    dataset = dm.dataset("test", dm.sampler, train=False)
    ids = [v.record.video_id for v in dataset.videos]
    assert ids == ["aaaa-0001", "bbbb-0002", "cccc-0003"]
    first_of = {video_id: int(dataset.clips.offsets[v]) for v, video_id in enumerate(ids)}
    with pytest.warns(DataWarning, match=r"dropping clip bbbb-0002 \(.*frames/100k/val/bbbb-0002\)") as caught:
        item = dataset[first_of["bbbb-0002"] + 2]
    assert len([w for w in caught if "dropping clip" in str(w.message)]) == 1
    assert item["video_id"] == "cccc-0003" and int(item["end_frame"]) == 0  # the next clip that reads
    assert torch.equal(item["video"], dataset[first_of["cccc-0003"]]["video"])
    assert dataset.dropped == {1}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not read again: no reader warning, no second drop warning
        assert dataset[first_of["bbbb-0002"]]["video_id"] == "cccc-0003"


def test_epoch_goes_on_past_an_unreadable_clip(tmp_path):
    dm = _one_bad_clip(tmp_path)
    with pytest.warns(DataWarning, match="bbbb-0002"):
        ids = [i for batch in dm.test_dataloader() for i in batch["video_id"]]
    assert Counter(ids) == {"aaaa-0001": 4, "cccc-0003": 8}  # bbbb's 4 clips became cccc's first clip


def test_dataset_with_no_readable_clip_raises_a_clear_error(tmp_path):
    dm = _one_bad_clip(tmp_path)
    for clip in ("aaaa-0001", "cccc-0003"):
        for path in (tmp_path / "bdd/frames/100k/val" / clip).iterdir():
            path.write_bytes(b"")
    dataset = dm.dataset("test", dm.sampler, train=False)
    with pytest.warns(DataWarning, match="dropping clip"):
        with pytest.raises(FrameReadError, match="no clip of this dataset can be read.*check_data"):
            next(iter(DataLoader(dataset, batch_size=2)))
    assert dataset.dropped == {0, 1, 2}


def test_check_reports_a_clip_with_no_readable_frame_as_fatal(tmp_path):
    dm = _one_bad_clip(tmp_path)
    _, problems = check(dm)
    (fatal,) = [p for p in problems if p.kind == "unreadable_clip"]
    assert fatal.fatal and fatal.video_id == "bbbb-0002" and "bbbb-0002" in fatal.message
    assert "none of its 4 frame files decodes" in fatal.message and "drops it" in fatal.message
    assert Counter(p.kind for p in problems)["unreadable_frame"] == 4


def test_check_data_script_exits_non_zero_on_a_clip_with_no_readable_frame(make_official_tree):
    clips = [
        "pWZSG2cUdEo_003797",
        "WWyeuvpHmfc_004101",
        "Z9K13eBUwJM_000135",
        "JV0D-YkWHD8_000689",
        "0RJPQ_97dcs_000199",
        "88LcRU7uEFE_003534",
    ]  # as test_check_data_prints_counts_and_fails_on_fatal_problems
    root = make_official_tree(clips)
    for path in (root / "frames" / clips[0] / "images").iterdir():
        path.write_bytes(b"garbage" * 30)
    command = [
        sys.executable,
        str(REPO / "scripts" / "check_data.py"),
        "data=dota_bdd",
        f"data.dota_root={root}",
        "data.split.val_fraction=0.5",
        "data.filters.categories=[LA,TC,OO]",
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=root.parent, timeout=300)
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert "- unreadable_clip (FATAL): 1" in run.stdout and f"clip {clips[0]} (" in run.stdout
    assert "duplicate_split" not in run.stdout  # the only fatal problem


@pytest.mark.parametrize(
    ("middle", "said"),
    [
        (Image.new("RGB", (1, 1), (90,) * 3), r"frames smaller than 16 px \(1x1\); its frame sizes 1x1, 32x24"),
        (Image.new("RGB", (64, 48), (90,) * 3), r"frames of different sizes; its frame sizes 32x24, 64x48"),
    ],
)
def test_a_clip_of_mixed_or_tiny_frames_is_read_and_said_once(tmp_path, middle, said):
    """Issue 31: a 1x1 frame, or frames of another size inside one clip, are resized like the others (the clip is
    read) and one warning per clip read names the folder, the sizes and the fix; a clip of one size says nothing."""
    record = _folder(tmp_path / "odd", middle, "JPEG")
    with pytest.warns(
        UserWarning,
        match=rf"{record.path} \(video_id odd\): this clip holds {said} are all resized "
        r"to 16x12\. Fix: re-extract",
    ) as caught:
        result = JpegFolderReader((12, 16)).read(record, [0, 1, 2])
    assert len([w for w in caught if "this clip holds" in str(w.message)]) == 1
    assert tuple(result.frames.shape) == (3, 3, 12, 16) and result.substituted == []
    same = _folder(tmp_path / "same", _rgb(), "JPEG")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        JpegFolderReader((12, 16)).read(same, [0, 1, 2])


# ------------------------------------------------------------------ verification kept across runs (issue 28)


def test_a_second_verification_of_an_unchanged_tree_decodes_nothing(tmp_path, monkeypatch):
    from riskvision.data import check as check_module

    root = _bdd_frames(tmp_path / "bdd", {"aaaa-0001": 5, "bbbb-0002": 4})
    _damage(root / "frames/100k/val/aaaa-0001", "garbage", "000002.jpg")
    decoded: list[str] = []
    real = JpegFolderReader.decode_many

    def counting(self, paths):
        decoded.extend(Path(p).name for p in paths)
        return real(self, paths)

    monkeypatch.setattr(JpegFolderReader, "decode_many", counting)
    cache = tmp_path / "verified.json"
    dm = _module(root)
    dm.build_records()
    first = verify_frames(dm, cache)
    assert len(decoded) == 9 and [Path(i.path).name for i in first] == ["000002.jpg"]
    decoded.clear()
    assert [(i.kind, i.path) for i in verify_frames(dm, cache)] == [(i.kind, i.path) for i in first]
    assert decoded == ["000002.jpg"]  # only the unreadable file, whose issue is found again
    # a changed file is decoded again (here: now unreadable); another reader or frame size trusts nothing
    decoded.clear()
    _damage(root / "frames/100k/val/bbbb-0002", "empty", "000003.jpg")
    again = verify_frames(dm, cache)
    assert sorted(decoded) == ["000002.jpg", "000003.jpg"] and len(again) == 2
    decoded.clear()
    larger = RiskDataModule(
        {"bdd": BddSource(root)},
        samplers={"window": WindowSampler(2)},
        sampler="window",
        frames=FrameConfig(size=(16, 16)),
        loader=LoaderConfig(eval_batch_size=4),
    )
    larger.build_records()
    verify_frames(larger, cache)
    assert len(decoded) == 9
    # a damaged cache file is ignored: everything is decoded again, and the file rewritten
    for damage in ("not json", '{"reader": "JpegFolderReader (8, 8)", "files": {"x": 3}}', "[]"):
        cache.write_text(damage)
        decoded.clear()
        assert len(verify_frames(dm, cache)) == 2 and len(decoded) == 9
    assert check_module.VerifiedFrames(cache, "JpegFolderReader (8, 8)").files
