"""Frame readers: a :class:`VideoRecord` and native frame indices -> a uint8 clip tensor.

Public API (used by :mod:`riskvision.data.dataset`)::

    reader = reader_for(record, size=(224, 224))    # JpegFolderReader or VideoFileReader
    result = reader.read(record, native_indices)    # ReadResult
    result.frames       # uint8 [T, 3, H, W], T == len(native_indices), RGB
    result.substituted  # unreadable frames replaced by the nearest readable one (one warning each)
    probe_video(path)   # -> (native_fps, num_frames)
    count_decoded_frames(path)  # -> (frames that decode, error or None): slow, for check_data

``native_indices`` may repeat and need not be sorted; every distinct frame is decoded once.
A whole unreadable video or frame folder raises :class:`FrameReadError`.

Speed (see ``scripts/benchmark_data.py``):

* JPEGs decode with libjpeg-turbo (``simplejpeg``) at a reduced DCT scale (1/2, 1/4, 1/8 inside
  the IDCT), the largest reduction that keeps the decoded image at least ``min_decode_fraction``
  x the target size in both dimensions (default 1.0: never upsample). Entropy decoding, which no
  scale avoids, is then most of the cost of a 1280x720 frame. Other formats use PIL.
  Not 0.8 by default although it is ~18% faster at 44 dB: 1280x720 would decode to 320x180 and be
  upsampled to 224 rows, so raw DoTA JPEGs would be softer than BDD frames from video, a cue
  that separates crash from normal clips.
* A clip's JPEGs are decoded ``chunk_size`` (8) at a time into one buffer and resized by one
  ``interpolate`` call per chunk (6% faster than frame by frame in the benchmark, same pixels).
* Every resize, JPEG or video, is the same antialiased bilinear filter
  (``torch.nn.functional.interpolate(..., antialias=True)`` on uint8, which matches PIL's BILINEAR
  resize and is ~3x faster than it), so DoTA frames and BDD frames are filtered alike and the
  filter is never a cue that separates the sources.
* Video files seek to the keyframe before the first needed frame, decode forward, convert to RGB
  only the needed frames, stop after the last one, and seek again across gaps longer than
  ``reseek_gap`` frames.

Readers hold no open files between calls (a container is opened per ``read``), so a reader made
in the main process is safe to use after the DataLoader forks its workers; opening a file costs
well under a millisecond next to decoding a clip.
"""

from __future__ import annotations

import io
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import simplejpeg
import torch
import torch.nn.functional as F
from PIL import Image

from riskvision.data.records import VideoRecord
from riskvision.video_io import frame_to_rgb

Size = tuple[int, int]
"""Frame size ``(height, width)`` in pixels."""

_DECODE_ERRORS = (OSError, ValueError, SyntaxError, RuntimeError, Image.DecompressionBombError)

RGB_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr"})
"""PIL modes whose ``convert("RGB")`` is the right 8-bit picture (alpha is dropped). Any other mode
(``I;16``, ``I``, ``F``: 16/32-bit samples) would be clipped to 0..255 (a 16-bit frame comes out
nearly white), so such a file counts as unreadable."""


class FrameReadError(Exception):
    """A whole video or frame folder cannot be read (missing, empty, or nothing decodes)."""


class FrameDecodeError(FrameReadError):
    """One image file does not decode to a correct 8-bit RGB picture; readers substitute it.

    Attributes:
        path: the file.
        reason: what is wrong with it (corrupt, empty, 16-bit, too many pixels, ...).
    """

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(
            f"{path} does not decode to an 8-bit RGB picture: {reason}. Fix: re-extract or convert "
            "it to an 8-bit RGB JPEG of the data set's frame size"
        )


class _BadImage(ValueError):
    """An image that decodes, but not to the right 8-bit RGB picture (its message is the reason)."""


def _reason(error: Exception) -> str:
    """The reason part of a :class:`FrameDecodeError` for ``error`` raised by a decoder."""
    return str(error) if isinstance(error, _BadImage) else f"{type(error).__name__}: {error}"


def _check_pixels(height: int, width: int) -> None:
    """:class:`_BadImage` when ``height x width`` exceeds ``PIL.Image.MAX_IMAGE_PIXELS`` (checked
    from the header, before anything is decoded: a decompression bomb never reaches the decoder)."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and height * width > limit:
        raise _BadImage(
            f"it declares {width}x{height} = {height * width} pixels, more than "
            f"PIL.Image.MAX_IMAGE_PIXELS = {limit} (a decompression bomb, or not a video frame)"
        )


@dataclass
class ReadResult:
    """Decoded clip.

    Attributes:
        frames: uint8 ``[T, 3, H, W]`` RGB, one entry per requested native index, in request order.
        substituted: the unreadable frames that were replaced by the nearest readable frame of the
            same clip: a JPEG's path, or ``"<video path>:<native index>"`` for a video frame.
    """

    frames: torch.Tensor
    substituted: list[str] = field(default_factory=list)


def resize_frame(frame: np.ndarray | torch.Tensor, size: Size | None) -> torch.Tensor:
    """uint8 RGB frame -> uint8 ``[3, H, W]`` tensor, antialiased bilinear resize to ``size``.

    Args:
        frame: uint8 numpy ``[h, w, 3]`` or tensor ``[3, h, w]``.
        size: ``(H, W)`` in pixels, or ``None`` to keep ``(h, w)``.
    """
    if isinstance(frame, torch.Tensor):
        chw = frame
    else:
        if not frame.flags.writeable:  # PIL's buffers are read-only; torch wants writable memory
            frame = frame.copy()
        chw = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)
    return resize_frames(chw[None], size)[0]


def resize_frames(frames: torch.Tensor, size: Size | None) -> torch.Tensor:
    """uint8 ``[N, 3, h, w]`` -> uint8 ``[N, 3, H, W]``, antialiased bilinear (``size=None``: unchanged).

    Fastest on channels-last memory (a permuted ``[N, h, w, 3]`` array), which is what decoders give.
    """
    if size is None or tuple(frames.shape[-2:]) == tuple(size):
        return frames
    return F.interpolate(frames, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)


def _stack(frames: dict[int, torch.Tensor], order: Sequence[int], names: dict[int, str | Path]) -> torch.Tensor:
    """Stack ``frames[i]`` for ``i`` in ``order`` into a contiguous uint8 ``[T, 3, H, W]`` (``names`` for errors)."""
    first = frames[order[0]]
    out = torch.empty((len(order), *first.shape), dtype=torch.uint8)
    for t, i in enumerate(order):
        if frames[i].shape != first.shape:
            raise FrameReadError(
                f"{names[i]} is {tuple(frames[i].shape[1:])} pixels but {names[order[0]]} is "
                f"{tuple(first.shape[1:])}; frames of one clip must share a size. Fix: pass "
                "size=(H, W) to the reader so every frame is resized."
            )
        out[t] = frames[i]
    return out


#: A frame with a side shorter than this many pixels is not a video frame (a 1x1 placeholder, a thumbnail).
MIN_FRAME_SIDE = 16


def _native_size(data: bytes) -> tuple[int, int] | None:
    """``(height, width)`` an image file declares in its header (nothing is decoded); ``None`` if it declares none."""
    try:
        if simplejpeg.is_jpeg(data):
            height, width, _, _ = simplejpeg.decode_jpeg_header(data)
            return int(height), int(width)
        with Image.open(io.BytesIO(data)) as image:
            return image.height, image.width
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _warn_odd_sizes(record: VideoRecord, size: Size | None, sizes: Sequence[tuple[int, int]]) -> None:
    """Say once per clip read (one warning naming the folder) that its frames come in several sizes, or that one is
    too small to be a video frame: they are all resized to ``size`` and read, but the clip is probably damaged."""
    shapes = sorted(set(sizes))
    tiny = [shape for shape in shapes if min(shape) < MIN_FRAME_SIDE]
    if len(shapes) < 2 and not tiny:
        return
    listed = ", ".join(f"{w}x{h}" for h, w in shapes)
    target = f"{size[1]}x{size[0]}" if size is not None else "the first frame's size"
    problem = (
        f"frames smaller than {MIN_FRAME_SIDE} px ({', '.join(f'{w}x{h}' for h, w in tiny)})"
        if tiny
        else "frames of different sizes"
    )
    warnings.warn(
        f"{record.path} (video_id {record.video_id}): this clip holds {problem}; its frame sizes {listed} "
        f"are all resized to {target}. Fix: re-extract the video's frames at one size (scripts/"
        "prepare_data.py), or drop the clip from the index",
        stacklevel=3,
    )


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; :class:`FrameDecodeError` when it cannot be read (missing, permissions)."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise FrameDecodeError(path, _reason(error)) from error


def _nearest(index: int, candidates: Sequence[int]) -> int:
    """The candidate closest to ``index`` (the earlier one on a tie)."""
    return min(candidates, key=lambda c: (abs(c - index), c))


class FrameReader(ABC):
    """Reads frames of records of one ``kind`` at one output size.

    Args:
        size: output ``(H, W)`` in pixels; ``None`` keeps the native size.
    """

    def __init__(self, size: Size | None) -> None:
        self.size: Size | None = None if size is None else (int(size[0]), int(size[1]))

    @abstractmethod
    def read(self, record: VideoRecord, native_indices: Sequence[int]) -> ReadResult:
        """Decode ``native_indices`` (native frame numbers from 0) of ``record``."""

    @staticmethod
    def _check_indices(record: VideoRecord, native_indices: Sequence[int]) -> list[int]:
        indices = [int(i) for i in native_indices]
        if not indices:
            raise ValueError(f"no frame indices requested for {record.path}")
        bad = [i for i in indices if not 0 <= i < record.num_frames]
        if bad:
            raise IndexError(
                f"frame indices {bad[:5]} are outside [0, {record.num_frames}) for {record.path} "
                f"(video_id {record.video_id}); indices are NATIVE frame numbers from 0."
            )
        return indices


class JpegFolderReader(FrameReader):
    """Frames of a ``kind == "frames"`` record: ``record.path / record.frame_files[i]``.

    Frames are decoded ``chunk_size`` at a time into one uint8 ``[k, h, w, 3]`` buffer and resized
    by one ``interpolate`` call per chunk: on a 1280x720 -> 224x224 clip this is 6% faster than
    decoding and resizing frame by frame (fewer calls, and the decoder and the resize kernel each
    run back to back), at no cost in pixels (the same decode and the same filter).

    Args:
        size: output ``(H, W)``; ``None`` keeps the native size (no DCT-scaled decode).
        min_decode_fraction: the DCT-scaled decode may be as small as this fraction of ``size`` in
            each dimension (1.0: never smaller than the target, so the resize only shrinks).
        chunk_size: frames decoded into one buffer and resized together (memory: ``chunk_size``
            decoded frames, 5.5 MB for 8 frames of 640x360).
    """

    def __init__(self, size: Size | None, min_decode_fraction: float = 1.0, chunk_size: int = 8) -> None:
        super().__init__(size)
        if not 0.0 < min_decode_fraction <= 1.0:
            raise ValueError(f"min_decode_fraction must be in (0, 1], got {min_decode_fraction}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.min_decode_fraction = min_decode_fraction
        self.chunk_size = chunk_size

    def decode(self, path: Path) -> torch.Tensor:
        """One image file -> uint8 ``[3, H, W]`` RGB; :class:`FrameDecodeError` naming it when it is unreadable.

        The one decision on a frame file, shared by training reads (:meth:`decode_many`, :meth:`read`) and
        ``riskvision.data.check.verify_frames``: it is readable when it decodes to the right 8-bit RGB
        picture (see :meth:`_decode_array`).
        """
        return self._decode_one(path, _read_bytes(path))

    def decode_many(self, paths: Sequence[Path]) -> list[torch.Tensor | FrameDecodeError]:
        """Image files -> uint8 ``[3, H, W]`` each, or the :class:`FrameDecodeError` of a file that is unreadable.

        JPEGs whose DCT-scaled size equals the chunk's first JPEG's decode into one shared buffer
        and are resized in one call; any other file (another size, not a JPEG, CMYK) is decoded and
        resized on its own by :meth:`decode`'s path, with the same decoder and filter.
        """
        return self._decode_sized(paths)[0]

    def _decode_sized(
        self, paths: Sequence[Path]
    ) -> tuple[list[torch.Tensor | FrameDecodeError], list[tuple[int, int] | None]]:
        """:meth:`decode_many`, and each file's native ``(height, width)`` from its header (``None``: unreadable)."""
        out: list[torch.Tensor | FrameDecodeError] = []
        sizes: list[tuple[int, int] | None] = []
        for start in range(0, len(paths), self.chunk_size):
            frames, chunk_sizes = self._decode_chunk(paths[start : start + self.chunk_size])
            out.extend(frames)
            sizes.extend(chunk_sizes)
        return out, sizes

    def _decode_chunk(
        self, paths: Sequence[Path]
    ) -> tuple[list[torch.Tensor | FrameDecodeError], list[tuple[int, int] | None]]:
        """Decode + resize up to ``chunk_size`` files (see :meth:`decode_many`); their native sizes too."""
        frames: list[torch.Tensor | FrameDecodeError | None] = [None] * len(paths)
        datas: list[bytes | None] = [None] * len(paths)
        shapes: list[tuple[int, int] | None] = [None] * len(paths)
        native: list[tuple[int, int] | None] = [None] * len(paths)
        for k, path in enumerate(paths):
            try:
                data = _read_bytes(path)
                shapes[k] = self._jpeg_shape(data)
                native[k] = _native_size(data)
                datas[k] = data
            except FrameDecodeError as error:
                frames[k] = error
            except _BadImage as error:  # a JPEG over the pixel limit
                frames[k] = FrameDecodeError(path, str(error))
        batch_shape = next((shape for shape in shapes if shape is not None), None)
        batch = None if batch_shape is None else np.empty((len(paths), *batch_shape, 3), np.uint8)
        in_batch: list[int] = []
        for k, (data, shape) in enumerate(zip(datas, shapes)):
            if data is None:
                continue
            if shape is not None and shape == batch_shape:
                try:
                    decoded = simplejpeg.decode_jpeg(data, buffer=batch[k], **self._jpeg_options(shape))
                except ValueError:
                    pass  # CMYK or corrupt: _decode_array's PIL fallback converts the first, rejects the second
                else:
                    if decoded.shape[:2] == shape:  # else libjpeg chose another scale: decode it alone
                        in_batch.append(k)
                        continue
            try:
                frames[k] = self._decode_one(paths[k], data)
            except FrameDecodeError as error:
                frames[k] = error  # read() substitutes the nearest readable frame
        if in_batch:
            resized = resize_frames(torch.from_numpy(batch).permute(0, 3, 1, 2), self.size)
            for k in in_batch:
                frames[k] = resized[k]
        return frames, native

    def _decode_one(self, path: Path, data: bytes) -> torch.Tensor:
        """``data`` (the bytes of ``path``) -> uint8 ``[3, H, W]``; :class:`FrameDecodeError` naming ``path``."""
        try:
            return resize_frame(self._decode_array(data), self.size)
        except _DECODE_ERRORS as error:
            raise FrameDecodeError(path, _reason(error)) from error

    def _jpeg_shape(self, data: bytes) -> tuple[int, int] | None:
        """``(h, w)`` of a JPEG at the DCT scale of :meth:`_draft_scale`; ``None`` for anything else.

        Raises :class:`_BadImage` when the JPEG's header declares more than ``PIL.Image.MAX_IMAGE_PIXELS``.
        """
        if not simplejpeg.is_jpeg(data):
            return None
        try:
            height, width, _, _ = simplejpeg.decode_jpeg_header(data)
        except ValueError:
            return None
        _check_pixels(height, width)
        scale = self._draft_scale(height, width)
        return math.ceil(height / scale), math.ceil(width / scale)

    def _jpeg_options(self, shape: tuple[int, int]) -> dict:
        """``simplejpeg.decode_jpeg`` options that decode a JPEG to ``shape`` (DCT-scaled ``(h, w)``).

        When the frame is resized anyway, libjpeg-turbo's fast integer IDCT and chroma upsampling
        are used (~10% faster on 256-pixel frames; 47 dB vs the seed path instead of 51 dB on
        1280x720 frames); without a resize the pixels equal PIL's.
        """
        resized = self.size is not None and shape != self.size
        return {
            "colorspace": "RGB",
            "fastdct": resized,
            "fastupsample": resized,
            "min_height": shape[0],
            "min_width": shape[1],
        }

    def _decode_array(self, data: bytes) -> np.ndarray:
        """Encoded image -> uint8 ``[h, w, 3]`` RGB at the DCT scale of :meth:`_draft_scale`.

        A JPEG decodes with libjpeg-turbo through ``simplejpeg``, which only takes 8-bit
        baseline/progressive JPEGs and fails on any corrupt data: the IDCT, colour conversion and
        upsampling run on a quarter of the pixels for 1280x720 -> 224x224, and ``simplejpeg``
        skips PIL's per-image overhead. Other formats (a PNG named ``.jpg`` included), and JPEGs
        ``simplejpeg`` refuses (CMYK, corrupt), go through PIL at the same scale, which checks the
        pixel mode. Raises ``OSError``/``ValueError`` (:class:`_BadImage` with the reason) when the file
        is empty, corrupt, over ``PIL.Image.MAX_IMAGE_PIXELS`` or not convertible to 8-bit RGB.
        """
        if not data:
            raise _BadImage("the file is empty (0 bytes)")
        shape = self._jpeg_shape(data)
        if shape is not None:
            try:
                return simplejpeg.decode_jpeg(data, **self._jpeg_options(shape))
            except ValueError:
                pass
        return self._decode_with_pil(data)

    def _decode_with_pil(self, data: bytes) -> np.ndarray:
        """Any 8-bit image PIL opens -> uint8 ``[h, w, 3]`` RGB, draft-decoded at :meth:`_draft_scale`.

        The size is checked against ``PIL.Image.MAX_IMAGE_PIXELS`` and the mode against
        :data:`RGB_MODES` before the pixels are decoded.
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # _check_pixels decides, below
            try:
                image = Image.open(io.BytesIO(data))
            except Image.UnidentifiedImageError as error:
                raise _BadImage("it is no image format PIL knows (corrupt, truncated, or not an image)") from error
        with image:
            _check_pixels(image.height, image.width)
            if image.mode not in RGB_MODES:
                raise _BadImage(
                    f"its pixels are PIL mode {image.mode!r} (not 8 bits per channel); converting "
                    "them to 8-bit RGB would clip them (a 16-bit frame comes out nearly white)"
                )
            scale = self._draft_scale(image.height, image.width)
            if scale > 1:
                image.draft("RGB", (math.ceil(image.width / scale), math.ceil(image.height / scale)))
            image.load()
            rgb = image if image.mode == "RGB" else image.convert("RGB")
            return np.asarray(rgb)

    def _draft_scale(self, height: int, width: int) -> int:
        """Largest DCT reduction (1, 2, 4, 8) keeping both sides >= min_decode_fraction x target."""
        if self.size is None:
            return 1
        fraction = self.min_decode_fraction
        limit = min(width / (self.size[1] * fraction), height / (self.size[0] * fraction))
        return next(s for s in (8, 4, 2, 1) if s <= limit or s == 1)

    def read(self, record: VideoRecord, native_indices: Sequence[int]) -> ReadResult:
        """Decode the requested frames; a bad file is replaced by the nearest readable frame.

        Raises:
            FrameReadError: the folder is missing or no frame of the clip can be decoded.
        """
        if not record.path.is_dir():
            raise FrameReadError(
                f"frame folder {record.path} (video_id {record.video_id}) does not exist. Fix: check "
                "the data root, or rebuild the index so the clip is dropped."
            )
        if len(record.frame_files) < record.num_frames:
            raise FrameReadError(
                f"{record.path} lists {len(record.frame_files)} frame files but num_frames is "
                f"{record.num_frames}. Fix: rebuild the index from the folder."
            )
        indices = self._check_indices(record, native_indices)
        wanted = sorted(set(indices))
        files = {i: record.path / record.frame_files[i] for i in wanted}
        frames_read, native = self._decode_sized(list(files.values()))
        decoded = dict(zip(wanted, frames_read))
        _warn_odd_sizes(record, self.size, [size for size in native if size is not None])

        def readable(i: int) -> bool:
            if i not in decoded:
                files[i] = record.path / record.frame_files[i]
                decoded[i] = self.decode_many([files[i]])[0]
            return isinstance(decoded[i], torch.Tensor)

        bad = [i for i in wanted if not readable(i)]
        replacement = {i: self._find_readable(i, record, readable) for i in bad}
        for i in bad:
            warnings.warn(
                f"unreadable frame {decoded[i]}; using the nearest readable frame {files[replacement[i]]} instead",
                stacklevel=2,
            )
        frames = {i: decoded[i] for i in wanted if i not in replacement}
        frames.update({i: decoded[replacement[i]] for i in bad})
        return ReadResult(_stack(frames, indices, files), [str(files[i]) for i in bad])

    @staticmethod
    def _find_readable(index: int, record: VideoRecord, readable: Callable[[int], bool]) -> int:
        """Nearest frame to ``index`` that decodes (earlier first on a tie)."""
        for distance in range(1, record.num_frames):
            for candidate in (index - distance, index + distance):
                if 0 <= candidate < record.num_frames and readable(candidate):
                    return candidate
        raise FrameReadError(
            f"no frame of {record.path} can be decoded (none of its {record.num_frames} image files is a "
            "readable 8-bit RGB picture). Fix: re-extract the frames or drop the clip from the index."
        )


class VideoFileReader(FrameReader):
    """Frames of a ``kind == "video"`` record, decoded with PyAV and picked by presentation time.

    Native index ``i`` is the time ``start + i / fps`` where ``fps`` is the stream's average rate
    and ``start`` its start time; a decoded frame sits at position ``(pts - start) * fps`` (in
    frames). Index ``i`` takes the first frame within half a frame of it (position in
    ``(i - 1/2, i + 1/2]``), and when there is none, the frame on screen then (the last one before
    it). A constant-rate video gives frame ``i`` for index ``i``; a variable-rate one repeats a frame
    across a gap in its timestamps (and skips frames where they crowd), which is its picture at that
    time, not damage. Indices past the last decoded frame (a truncated file) are substituted.
    Frame durations are not used: muxers derive them from decode order, so they are unreliable.

    Args:
        size: output ``(H, W)``; ``None`` keeps the native size.
        thread_type: FFmpeg decoder threading (``"AUTO"``, ``"FRAME"``, ``"SLICE"``, ``"NONE"``).
        reseek_gap: when the next needed frame is more than this many frames ahead, seek to it
            instead of decoding through the gap.
    """

    def __init__(self, size: Size | None, thread_type: str = "AUTO", reseek_gap: int = 90) -> None:
        super().__init__(size)
        self.thread_type = thread_type
        self.reseek_gap = reseek_gap

    def read(self, record: VideoRecord, native_indices: Sequence[int]) -> ReadResult:
        """Decode the requested frames; frames missing from the stream become the nearest decoded one.

        Raises:
            FrameReadError: the file cannot be opened or none of the requested frames decodes.
        """
        indices = self._check_indices(record, native_indices)
        wanted = sorted(set(indices))
        with _open_video(record.path) as container:
            stream = container.streams.video[0]
            stream.thread_type = self.thread_type
            got, spare = self._decode(container, stream, wanted, record.path)
        if not got and not spare:
            raise FrameReadError(
                f"none of frames {wanted[0]}..{wanted[-1]} of {record.path} decodes (num_frames "
                f"{record.num_frames}). Fix: check the file with `ffprobe {record.path}`, re-encode "
                "or drop it from the index."
            )
        names = {i: f"{record.path}:{i}" for i in wanted}
        missing = [i for i in wanted if i not in got]
        available = {**spare, **got}
        for i in missing:
            source = _nearest(i, list(available))
            warnings.warn(f"frame {names[i]} could not be decoded; using frame {source} instead", stacklevel=2)
            got[i] = available[source]
        return ReadResult(_stack(got, indices, names), [names[i] for i in missing])

    def _decode(
        self, container, stream, wanted: list[int], path: Path
    ) -> tuple[dict[int, torch.Tensor], dict[int, torch.Tensor]]:
        """Seek + decode forward over ``wanted`` (sorted, distinct), each index taking the frame on screen.

        Returns:
            ``(got, spare)``: index -> ``[3, H, W]`` for the wanted frames found, and, when some are
            missing, the last frame decoded (their nearest readable frame past the stream's end).
        """
        fps = _stream_fps(stream, path)
        time_base = stream.time_base
        start = stream.start_time or 0
        got: dict[int, torch.Tensor] = {}
        pos = 0
        shown: _Shown | None = None
        try:
            while pos < len(wanted):
                target = wanted[pos]
                container.seek(start + int(Fraction(target) / fps / time_base), stream=stream, backward=True)
                shown, reseek = None, False
                for frame in container.decode(stream):
                    begin = _frame_position(frame, start, time_base, fps, shown)
                    while pos < len(wanted) and wanted[pos] + _HALF < begin:  # no frame near it: held through a gap
                        if shown is not None:
                            got[wanted[pos]] = shown.rgb(self.size)
                        pos += 1  # else: not in the stream, substituted by the caller
                    shown = _Shown(frame, begin)
                    while pos < len(wanted) and wanted[pos] + _HALF < begin + 1:  # within half a frame
                        got[wanted[pos]] = shown.rgb(self.size)
                        pos += 1
                    if pos == len(wanted):
                        break
                    if wanted[pos] != target and wanted[pos] - begin > self.reseek_gap:
                        reseek = True
                        break
                if not reseek:
                    break  # end of stream or done
        except av.FFmpegError as error:
            warnings.warn(f"decoding {path} stopped at an error ({error}); later frames are substituted", stacklevel=3)
        if len(got) < len(wanted) and shown is not None:
            return got, {round(shown.begin): shown.rgb(self.size)}
        return got, {}


_HALF = Fraction(1, 2)


@dataclass
class _Shown:
    """The decoded frame on screen and its native position (``begin``: pts in native frames)."""

    frame: av.VideoFrame
    begin: Fraction
    _rgb: torch.Tensor | None = None

    def rgb(self, size: Size | None) -> torch.Tensor:
        """uint8 ``[3, H, W]``, converted once however many indices hold this frame."""
        if self._rgb is None:
            self._rgb = resize_frame(frame_to_rgb(self.frame), size)
        return self._rgb


def _frame_position(
    frame: av.VideoFrame, start: int, time_base: Fraction, fps: Fraction, previous: _Shown | None
) -> Fraction:
    """Position of a decoded frame in native frames (from its pts; without one, the previous frame's + 1)."""
    if frame.pts is None:
        return Fraction(0) if previous is None else previous.begin + 1
    return (frame.pts - start) * time_base * fps


def _stream_fps(stream, path: Path) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate
    if not rate:
        raise FrameReadError(f"{path} has no frame rate in its video stream. Fix: re-encode it with a constant rate.")
    return Fraction(rate)


def _is_image_format(name: str) -> bool:
    """FFmpeg's demuxers of single images: ``image2`` and the ``*_pipe`` ones (``png_pipe``, ``jpeg_pipe``...)."""
    return name == "image2" or name.endswith("_pipe")


def _open_video(path: Path):
    """``av.open`` with a :class:`FrameReadError` naming the file when it fails, has no video or is a
    still image (a ``.png`` renamed ``.mp4`` opens as a one-frame "video")."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as error:
        raise FrameReadError(
            f"cannot open video {path}: {error}. Fix: check the path, re-download or re-encode the "
            "file, or drop it from the index."
        ) from error
    if not container.streams.video:
        container.close()
        raise FrameReadError(f"{path} has no video stream. Fix: drop it from the index.")
    if _is_image_format(container.format.name):
        codec = container.streams.video[0].codec_context.name
        container.close()
        raise FrameReadError(
            f"{path} is a still image ({codec}, read by FFmpeg's {container.format.name} "
            "demuxer), not a video. Fix: replace it with the video or drop it from the index."
        )
    return container


def count_decoded_frames(path: str | Path) -> tuple[int, str | None]:
    """``(frames, error)``: how many frames of ``path`` decode from start to end (not converted to RGB),
    and the decoder's error when one stopped it early (``None`` otherwise).

    Slow (every frame is decoded); ``riskvision.data.check.verify_videos`` compares it with the
    frame count the index states. Raises :class:`FrameReadError` when the file cannot be opened.
    """
    path = Path(path)
    count = 0
    with _open_video(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for _ in container.decode(stream):
                count += 1
        except av.FFmpegError as error:
            return count, str(error)
    return count, None


def probe_video(path: str | Path) -> tuple[float, int]:
    """``(native_fps, num_frames)`` of a video file.

    The frame count comes from the container, or from demuxing the packets when the container
    does not know it (0). Raises :class:`FrameReadError` when the file cannot be read.
    """
    path = Path(path)
    with _open_video(path) as container:
        stream = container.streams.video[0]
        fps = _stream_fps(stream, path)
        num_frames = stream.frames
        if not num_frames:
            try:
                num_frames = sum(1 for packet in container.demux(stream) if packet.size > 0)
            except av.FFmpegError as error:
                raise FrameReadError(f"cannot demux {path}: {error}. Fix: re-encode or drop the file.") from error
    if num_frames <= 0:
        raise FrameReadError(f"{path} has no video frames. Fix: drop it from the index.")
    return float(fps), int(num_frames)


def reader_for(record: VideoRecord, size: Size | None, min_decode_fraction: float = 1.0) -> FrameReader:
    """The reader for ``record.kind`` (``"frames"`` -> JPEG folder, ``"video"`` -> PyAV) at ``size`` (H, W).

    ``min_decode_fraction`` goes to :class:`JpegFolderReader` (video files ignore it); a datamodule
    takes it as ``reader_factory: {_target_: riskvision.data.readers.reader_for, _partial_: true,
    min_decode_fraction: 0.8}``.
    """
    if record.kind == "frames":
        return JpegFolderReader(size, min_decode_fraction)
    if record.kind == "video":
        return VideoFileReader(size)
    raise ValueError(f"record {record.video_id} ({record.path}) has kind {record.kind!r}; expected 'frames' or 'video'")
