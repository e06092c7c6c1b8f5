"""Score a checkpoint on video files end to end: decode, score, write the outputs (``scripts/predict_video.py``).

A bad video (missing, undecodable, no frames) is reported and the others are still processed; two videos with
one stem (``a.mp4``, ``a.mov``) are written as ``a_mp4.*`` and ``a_mov.*`` (:mod:`.inputs`, :mod:`.outputs`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from riskvision.data.readers import FrameReadError
from riskvision.files import atomic_write
from riskvision.inference.inputs import VideoInputError, decode_video, find_videos, output_names
from riskvision.inference.outputs import scores_table, summary_line, write_overlay, write_timeline
from riskvision.inference.predictor import Predictor
from riskvision.inference.scoring import score_windows
from riskvision.runs import claim_run_folder

__all__ = ["PredictReport", "VideoResult", "predict_one", "predict_videos"]

log = logging.getLogger(__name__)


@dataclass
class VideoResult:
    """What one video produced."""

    path: Path
    name: str
    table: pd.DataFrame
    outputs: dict[str, Path]
    summary: str


@dataclass
class PredictReport:
    """All videos of a run: the results and the failures ``(video, message)``."""

    results: list[VideoResult] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def predict_one(predictor: Predictor, path: Path, name: str, out_dir: Path, step: int = 1, overlay: bool = False,
                short_side: int = 360) -> VideoResult:
    """Decode, score and write the outputs of one video."""
    begin = time.perf_counter()
    video = decode_video(path, predictor.frame_size, predictor.target_fps)
    decoded = time.perf_counter()
    ends, probs = score_windows(predictor, video.frames, step)
    scored = time.perf_counter()
    record, n = video.record, video.target.num_frames
    log.info(f"{path}: {record.num_frames} frames at {record.native_fps:.3g} fps ({video.seconds:.1f} s of video, "
             f"{video.native_size[1]}x{video.native_size[0]}) -> {n} frames at {predictor.target_fps:g} fps "
             f"({video.frames.numel() / 2**20:.1f} MiB in memory), decoded in {decoded - begin:.1f} s; "
             f"{len(ends)} windows scored in {scored - decoded:.1f} s ({n / max(scored - decoded, 1e-9):.1f} frames/s)")
    if video.substituted:
        log.warning(f"{path}: {video.substituted} of {n} frames could not be decoded and were replaced by the "
                    "nearest decoded frame (a damaged file, or a container that overstates its frame count)")
    table = scores_table(path.name, ends, probs, predictor)
    outputs = {"csv": atomic_write(out_dir / f"{name}.csv", lambda tmp: table.to_csv(tmp, index=False))}
    outputs["timeline"] = write_timeline(out_dir / f"{name}_timeline.png", table, predictor,
                                         f"{path.name} ({Path(predictor.name).name}, step {step})")
    if overlay:
        start = time.perf_counter()
        outputs["overlay"] = write_overlay(out_dir / f"{name}_overlay.mp4", video, table, predictor, step, short_side)
        log.info(f"{path}: overlay written in {time.perf_counter() - start:.1f} s")
    return VideoResult(path, name, table, outputs, summary_line(path.name, table, predictor))


def predict_videos(ckpt_path: str | Path, videos: str | Path | Sequence[str | Path], out_dir: str | Path,
                   step: int = 1, batch_size: int = 8, device: str = "cpu", overlay: bool = False,
                   overlay_short_side: int = 360, cache_features: bool = True,
                   trusted_targets: Sequence[str] = ()) -> PredictReport:
    """Score every video with the checkpoint; a bad video becomes a failure and the others still run.
    ``trusted_targets``: targets beyond riskvision's own the checkpoint's stored config may name.

    Raises (before any video) when the checkpoint or a setting is unusable.
    """
    if int(step) < 1:
        raise ValueError(f"step={step} must be >= 1 (score every step-th target-rate frame)")
    if int(overlay_short_side) < 2:
        raise ValueError(f"overlay_short_side={overlay_short_side} must be >= 2 pixels (default 360)")
    paths, problems = find_videos(videos)
    predictor = Predictor.from_checkpoint(ckpt_path, device, batch_size, cache_features, trusted_targets)
    log.info(f"Model {predictor.describe()}; {len(paths)} video(s) to score -> {out_dir}")
    out_dir = claim_run_folder(out_dir, "predict_video").path  # this process owns it (riskvision.runs)
    report = PredictReport(failures=list(problems))
    for video, message in problems:
        log.error(message)
    for path, name in zip(paths, output_names(paths)):
        try:
            result = predict_one(predictor, path, name, out_dir, int(step), bool(overlay), int(overlay_short_side))
        except VideoInputError as error:  # its message names the file
            log.error(str(error))
            report.failures.append((str(path), str(error)))
            continue
        except (FrameReadError, OSError, ValueError) as error:
            log.error(f"{path}: {error}")
            report.failures.append((str(path), str(error)))
            continue
        except Exception as error:  # one video must not stop the others; the traceback goes to the log
            log.exception(f"{path}: unexpected error")
            report.failures.append((str(path), f"unexpected {type(error).__name__}: {error}"))
            continue
        print(result.summary, flush=True)
        report.results.append(result)
    return report
