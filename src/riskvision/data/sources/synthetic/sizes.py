"""How much synthetic data to generate (:class:`SyntheticSizes`) and the generator's version."""

from __future__ import annotations

from dataclasses import dataclass, fields

VERSION = 4  # bump whenever the output changes: cached trees are keyed by it


@dataclass(frozen=True)
class SyntheticSizes:
    """How much to generate (every field is an ``ensure_synthetic`` keyword argument).

    Attributes:
        num_crash: DoTA-format crash clips.
        num_normal: BDD-format normal videos.
        width, height: frame size in pixels (even numbers; H.264 wants them).
        crash_seconds: (min, max) crash clip length in seconds (10 fps frames).
        normal_seconds: (min, max) normal video length in seconds (30 fps frames).
        val_fraction: fraction of each source put in its val split (at least one clip each).
        clips_per_source: (min, max) DoTA clips cut from one synthetic "YouTube" source video.
        jpeg_quality: quality of the camera JPEG stage (DoTA frames are these JPEG files).
        qp: x264 constant quantiser of the H.264 stage (BDD videos; DoTA frames pass it too). A
            constant QP, not CRF: x264's CRF depends on the frame rate, QP does not.
    """

    num_crash: int = 60
    num_normal: int = 60
    width: int = 160
    height: int = 96
    crash_seconds: tuple[float, float] = (4.0, 7.0)
    normal_seconds: tuple[float, float] = (4.0, 7.0)
    val_fraction: float = 0.25
    clips_per_source: tuple[int, int] = (1, 4)
    jpeg_quality: int = 90
    qp: int = 22

    @classmethod
    def from_kwargs(cls, **sizes: object) -> "SyntheticSizes":
        """Build from keyword arguments; unknown names are an error that lists the valid ones."""
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(sizes) - valid)
        if unknown:
            raise TypeError(f"ensure_synthetic got unknown size(s) {unknown}; valid: {sorted(valid)}")
        out = cls(**{k: _coerce(getattr(cls, k), v) for k, v in sizes.items()})
        if out.width % 2 or out.height % 2 or out.width < 32 or out.height < 32:
            raise ValueError(f"synthetic frame size {out.width}x{out.height} must be even and >= 32")
        if out.num_crash < 2 or out.num_normal < 2:
            raise ValueError(f"need >= 2 crash and normal clips (train and val), got {out.num_crash}/{out.num_normal}")
        return out


def _coerce(default: object, value: object) -> object:
    """``value`` in the type of the field's ``default`` (lists -> tuples, 2 -> 2.0), so equal sizes hash equal."""
    if isinstance(default, tuple):
        return tuple(type(d)(v) for d, v in zip(default, value, strict=True))
    return type(default)(value)
