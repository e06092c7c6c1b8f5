"""Decoding speed of riskvision's loader against the seed's per-frame path, in one run (``scripts/benchmark_data.py``).

    rows = jpeg_rows(tmp, num_frames=24, repeats=7) + video_rows(tmp, repeats=7)   # (name, frames/s, x seed, PSNR)
    print_table(rows)

Everything runs on one thread (``torch.set_num_threads(1)``, one "worker"); the machine's load varies,
so each comparison interleaves its contenders and reports the ratio of medians from the same run.

Rows:
* seed path: per frame PIL full decode -> torchvision ``Resize((224, 224))`` -> ``ToTensor`` -> ``Normalize``.
* ours raw: ``reader_for(record, (224, 224)).read`` (DCT-draft decode + antialiased resize) + ``Normalize``
  on 1280x720 photo-like JPEGs (1/f texture, hard-edged shapes, sensor noise, quality 90, ~100-250 KB).
* ours raw variants: no DCT scaling, frames decoded and resized one at a time (``chunk_size=1``), and
  DCT 1/4 (``min_decode_fraction=0.8``), each isolating one choice of the reader.
* ours prepared: the same frames after ``scripts/prepare_data.py`` (short side 256).
* PSNR (dB) of each row's 224x224 uint8 frames against the seed path's (before normalisation).
* video: a 30 fps 1280x720 H.264 MP4 (keyframe every 30 frames) read as 10-frame clips at 10 fps.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image, ImageDraw
from torchvision import transforms as T

from riskvision.data.prepare import Settings, prepare_dota_clip
from riskvision.data.readers import JpegFolderReader, VideoFileReader, reader_for
from riskvision.data.records import VideoRecord
from riskvision.data.transforms import Normalize
from riskvision.models import ResNet3D, ResNetBiLSTM
from riskvision.tasks import BinaryCrash, RiskLevels

__all__ = ["jpeg_rows", "print_table", "run", "train_rows", "video_rows"]

SIZE = (224, 224)
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


def photo_like(rng: np.random.Generator, height: int = 720, width: int = 1280) -> np.ndarray:
    """uint8 ``[H, W, 3]``: 1/f^1.6 colour texture + sky-to-road gradient + hard-edged shapes + noise."""
    fy, fx = np.fft.fftfreq(height)[:, None], np.fft.rfftfreq(width)[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0
    amplitude = f**-1.6

    def field() -> np.ndarray:
        x = np.fft.irfft2(amplitude * np.exp(2j * np.pi * rng.random(amplitude.shape)), s=(height, width))
        return (x - x.mean()) / x.std()

    shared = field()
    texture = np.stack([0.8 * shared + 0.2 * field() for _ in range(3)], -1)
    gradient = np.linspace(0.5, -0.5, height)[:, None, None]
    image = Image.fromarray(np.clip(120 + 40 * texture + 50 * gradient, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        box = [x0, y0, x0 + int(rng.integers(4, 200)), y0 + int(rng.integers(4, 120))]
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = int(rng.integers(3))
        if kind == 0:
            draw.rectangle(box, fill=colour)
        elif kind == 1:
            draw.ellipse(box, fill=colour)
        else:
            draw.line(box, fill=colour, width=3)
    noisy = np.asarray(image, np.float32) + rng.normal(0, 2.0, (height, width, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def write_clip(folder: Path, frames: list[np.ndarray], quality: int = 90) -> VideoRecord:
    """JPEG frames ``folder/%06d.jpg`` -> a ``kind == "frames"`` record."""
    folder.mkdir(parents=True)
    names = tuple(f"{i:06d}.jpg" for i in range(len(frames)))
    for name, frame in zip(names, frames):
        Image.fromarray(frame).save(folder / name, quality=quality)
    return VideoRecord(folder.name, "dota", folder, "frames", 10.0, len(frames), frame_files=names)


def write_mp4(path: Path, frame: np.ndarray, num_frames: int, fps: int = 30, gop: int = 30) -> VideoRecord:
    """H.264 MP4 of ``frame`` panning 4 px per frame, 30 fps."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frame.shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"g": str(gop), "preset": "veryfast", "crf": "23"}
        for i in range(num_frames):
            shifted = np.roll(frame, 4 * i, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(shifted, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return VideoRecord(path.stem, "bdd", path, "video", float(fps), num_frames)


def seed_path(paths: list[Path]) -> torch.Tensor:
    """The seed's loader: per frame PIL decode -> Resize((224, 224)) -> ToTensor -> Normalize."""
    transform = T.Compose([T.Resize(SIZE), T.ToTensor(), T.Normalize(*IMAGENET)])
    return torch.stack([transform(Image.open(p).convert("RGB")) for p in paths])


def seed_pixels(paths: list[Path]) -> torch.Tensor:
    """The seed path's frames before normalisation, uint8 ``[T, 3, 224, 224]`` (PSNR reference)."""
    return torch.stack([T.PILToTensor()(T.Resize(SIZE)(Image.open(p).convert("RGB"))) for p in paths])


def psnr(ours: torch.Tensor, reference: torch.Tensor) -> float:
    mse = torch.mean((ours.double() - reference.double()) ** 2).item()
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each contender, calls interleaved so load drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for name, function in contenders.items():
        function()  # warm-up (page cache, lazy imports)
    for _ in range(repeats):
        for name, function in contenders.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


class FullDecodeReader(JpegFolderReader):
    """JpegFolderReader without the DCT scaling (full-size decode, same decoder and resize): isolates its gain."""

    def _draft_scale(self, height: int, width: int) -> int:
        return 1


def jpeg_rows(tmp: Path, num_frames: int, repeats: int) -> list[tuple]:
    rng = np.random.default_rng(0)
    raw = write_clip(tmp / "raw" / "clip_000001", [photo_like(rng) for _ in range(num_frames)])
    prepare_dota_clip(raw.path, tmp / "prepared", Settings())
    pfolder = tmp / "prepared" / "frames" / raw.video_id / "images"
    prepared = VideoRecord(raw.video_id, "dota", pfolder, "frames", 10.0, num_frames, frame_files=raw.frame_files)
    paths = [raw.path / n for n in raw.frame_files]
    indices = list(range(num_frames))
    normalize = Normalize("imagenet")

    def loader(record: VideoRecord, reader_factory) -> Callable[[], torch.Tensor]:
        return lambda: normalize(reader_factory(record).read(record, indices).frames)

    contenders = {
        "seed path (PIL full decode + Resize + ToTensor + Normalize)": lambda: seed_path(paths),
        "ours, raw 1280x720 (draft 1/2 + resize + Normalize)": loader(raw, lambda r: reader_for(r, SIZE)),
        "ours, raw, DCT scaling off (full decode + resize)": loader(raw, lambda r: FullDecodeReader(SIZE)),
        "ours, raw, frame by frame (chunk_size 1)": loader(raw, lambda r: JpegFolderReader(SIZE, chunk_size=1)),
        "ours, raw, draft to 1/4 (min_decode_fraction 0.8)": loader(raw, lambda r: JpegFolderReader(SIZE, 0.8)),
        "ours, prepared short side 256": loader(prepared, lambda r: reader_for(r, SIZE)),
    }
    seconds = interleaved(contenders, repeats)
    reference = seed_pixels(paths)
    pixels = {
        "ours, raw 1280x720 (draft 1/2 + resize + Normalize)": reader_for(raw, SIZE).read(raw, indices).frames,
        "ours, raw, DCT scaling off (full decode + resize)": FullDecodeReader(SIZE).read(raw, indices).frames,
        "ours, raw, frame by frame (chunk_size 1)": JpegFolderReader(SIZE, chunk_size=1).read(raw, indices).frames,
        "ours, raw, draft to 1/4 (min_decode_fraction 0.8)": JpegFolderReader(SIZE, 0.8).read(raw, indices).frames,
        "ours, prepared short side 256": reader_for(prepared, SIZE).read(prepared, indices).frames,
    }
    base = seconds[next(iter(contenders))]
    sizes = [p.stat().st_size / 1024 for p in paths]
    psizes = [(pfolder / n).stat().st_size / 1024 for n in raw.frame_files]
    print(
        f"raw JPEGs: {num_frames} x 1280x720, {min(sizes):.0f}-{max(sizes):.0f} KB (mean {np.mean(sizes):.0f}); "
        f"prepared: {Image.open(pfolder / raw.frame_files[0]).size}, mean {np.mean(psizes):.0f} KB"
    )
    rows = []
    for name, sec in seconds.items():
        quality = psnr(pixels[name], reference) if name in pixels else None
        rows.append((name, num_frames / sec, base / sec, quality))
    return rows


def video_rows(tmp: Path, repeats: int) -> list[tuple]:
    rng = np.random.default_rng(1)
    record = write_mp4(tmp / "drive.mp4", photo_like(rng), num_frames=150)
    clip_native = [60 + 3 * i for i in range(10)]  # 10 frames at 10 fps from a 30 fps video, mid-GOP start
    normalize = Normalize("imagenet")

    def ours(thread_type: str) -> Callable[[], torch.Tensor]:
        return lambda: normalize(VideoFileReader(SIZE, thread_type=thread_type).read(record, clip_native).frames)

    def decode_all() -> torch.Tensor:
        """Naive: decode from the start, convert + resize every native frame, keep the clip's."""
        transform = T.Compose([T.Resize(SIZE), T.ToTensor(), T.Normalize(*IMAGENET)])
        keep = []
        with av.open(str(record.path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                image = transform(frame.to_image())
                if i in clip_native:
                    keep.append(image)
                if i >= clip_native[-1]:
                    break
        return torch.stack(keep)

    contenders = {
        "video naive (decode from start, PIL convert every frame)": decode_all,
        "video ours (seek + decode forward, thread AUTO)": ours("AUTO"),
        "video ours (seek + decode forward, thread NONE)": ours("NONE"),
    }
    seconds = interleaved(contenders, repeats)
    base = seconds[next(iter(contenders))]
    return [(name, len(clip_native) / sec, base / sec, None) for name, sec in seconds.items()]


def train_rows(steps: int) -> list[tuple]:
    """Frames/s consumed by one CPU training step of each net (forward + the task's loss + backward + Adam)."""
    rows = []
    setups = [
        ("train bilstm (ResNet18 frozen + BiLSTM), batch 2 x 16 frames", ResNetBiLSTM(), BinaryCrash(), (2, 16)),
        (
            "train resnet3d101 (shortcut A), batch 1 x 10 frames",
            ResNet3D(depth=101, shortcut_type="A"),
            RiskLevels(),
            (1, 10),
        ),
    ]
    for name, model, task, (batch, frames) in setups:
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        video = torch.randn(batch, frames, 3, *SIZE)
        target = torch.zeros(batch, dtype=torch.long)

        def step() -> None:
            loss = task.loss(model(video), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        model.train()
        seconds = interleaved({name: step}, steps)[name]
        rows.append((name, batch * frames / seconds, None, None))
    return rows


def print_table(rows: list[tuple]) -> None:
    print(f"\n{'path':<64} {'frames/s':>9} {'x seed':>7} {'PSNR dB':>8}")
    print("-" * 91)
    for name, fps, ratio, quality in rows:
        ratio_text = "" if ratio is None else f"{ratio:.2f}"
        quality_text = "" if quality is None else f"{quality:.1f}"
        print(f"{name:<64} {fps:>9.1f} {ratio_text:>7} {quality_text:>8}")


def run(frames: int = 24, repeats: int = 7, train_fps: bool = False, train_steps: int = 2) -> list[tuple]:
    """Every row on one thread: JPEG clips of ``frames`` frames and a video clip, ``repeats`` timed calls each
    (median), and with ``train_fps`` a training step of each net; prints the tables and returns the rows."""
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        rows = jpeg_rows(Path(tmp), frames, repeats)
        print_table(rows)
        vrows = video_rows(Path(tmp), repeats)
        print_table(vrows)
        trows = train_rows(train_steps) if train_fps else []
    print("\nSUMMARY (one thread; x seed = ratio of medians measured in this run)")
    print_table(rows + vrows + trows)
    return rows + vrows + trows
