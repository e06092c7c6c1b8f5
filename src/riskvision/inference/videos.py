"""Score sources end to end with the streaming engine: what ``scripts/predict_video.py`` and ``riskvision-predict``
run.

    report = predict_videos("last.ckpt", ["drive.mp4", "clips/", "rtsp://camera/stream"], "OUT", overlay=True)

Each source (a video file, a frame folder, a live URL, camera or pipe; a folder of videos gives each video) is
streamed through :meth:`Predictor.stream` (constant memory, results as frames are scored) into
``OUT/<name>.csv`` (or ``.jsonl``), and optionally ``OUT/<name>_overlay.mp4`` (encoded as frames are scored) and
``OUT/<name>_timeline.png`` (drawn from the results file when the source ends) (:mod:`.outputs`). Names come
from :func:`~riskvision.inference.inputs.output_names` (two sources with one stem never share a file). A
progress line shows the video time scored and the real-time factor. A source that cannot be opened, fails
midway or ends early is reported; the others still run (its results so far stay in ``<name>.csv.partial``,
or, for a file that ended early, in ``<name>.csv``), and the report lists it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import torch

from riskvision.alarm import Alarm, AlarmPolicy, Smoother, check_threshold
from riskvision.data.layout import DataLayoutError
from riskvision.data.readers import FrameReadError
from riskvision.files import partial_path
from riskvision.inference.annotations import read_anomaly_spans, span_for
from riskvision.inference.inputs import VIDEO_SUFFIXES, VideoInputError, output_names, source_label
from riskvision.inference.outputs import (
    FORMATS,
    OverlayWriter,
    ResultWriter,
    Summary,
    read_results,
    result_row,
    summary_table,
    write_stream_timeline,
)
from riskvision.inference.predictor import Predictor
from riskvision.inference.sources import IMAGE_SUFFIXES, FrameSource, is_live_spec, open_source
from riskvision.inference.threads import inference_threads
from riskvision.progress import ProgressLine
from riskvision.runs import claim_run_folder

__all__ = ["PredictReport", "Progress", "SourceResult", "find_sources", "predict_source", "predict_videos"]

log = logging.getLogger(__name__)


@dataclass
class SourceResult:
    """What one source produced: its output files (``results``, ``timeline``, ``overlay``) and summary line."""

    source: str
    name: str
    outputs: dict[str, Path]
    summary: str
    rows: int
    row: tuple[str, ...] = ()  # its row of the summary table (outputs.Summary.row)


@dataclass
class PredictReport:
    """All sources of a run: the results and the failures ``(source, message)``."""

    results: list[SourceResult] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    alarm_rule: str = ""

    def table(self) -> str:
        """The table the run ends with: one row per scored source, then the failed ones (``outputs.summary_table``)."""
        return summary_table([result.row for result in self.results], self.alarm_rule, self.failures)


def find_sources(entries: str | Path | Sequence[str | Path]) -> tuple[list[str], list[tuple[str, str]]]:
    """Expand ``entries`` into ``(sources, problems)``: a video file stays; a folder of video files gives every
    video in it (sorted); a folder of images is a frame folder; a folder of frame folders (``<clip>/`` or
    ``<clip>/images/``, DoTA's layout) gives each; a URL, camera or pipe stays. A missing path or a folder with
    none of these is a problem ``(entry, message)``."""
    entries = [entries] if isinstance(entries, (str, Path)) else list(entries)
    if not entries:
        raise ValueError(
            "videos=[] is empty. Fix: videos=[a.mp4,b.mov], videos=/path/to/folder or videos=rtsp://camera/stream"
        )
    sources: list[str] = []
    problems: list[tuple[str, str]] = []
    for entry in map(str, entries):
        path = Path(entry).expanduser()
        if is_live_spec(entry) and not path.is_dir():
            sources.append(entry)
        elif path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file())
            videos = [str(p) for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
            clips = [
                str(folder)
                for folder in map(_frame_folder, sorted(p for p in path.iterdir() if p.is_dir()))
                if folder is not None
            ]
            if videos:
                sources += videos
            elif _frame_folder(path) is not None:
                sources.append(str(path))
            elif clips:  # a folder of frame folders, e.g. DoTA's frames/<clip>/images
                sources += clips
            else:
                problems.append(
                    (
                        entry,
                        f"folder {path} holds no video files ({', '.join(VIDEO_SUFFIXES)}), no "
                        f"frames ({', '.join(IMAGE_SUFFIXES)}) and no folders of frames. Fix: point "
                        "videos= at the files or at the folder that holds them",
                    )
                )
        elif path.exists():
            sources.append(str(path))
        else:
            problems.append(
                (
                    entry,
                    f"video file {path} does not exist (videos entry {entry!r}, working directory "
                    f"{Path.cwd()}). Fix: pass an existing file or folder, a stream URL "
                    "(rtsp://...) or a camera (/dev/video0); relative paths are relative to the "
                    "directory you run the command from",
                )
            )
    return sources, problems


def _frame_folder(folder: Path) -> Path | None:
    """``folder`` when it holds frames, its ``images/`` subfolder when that does (DoTA's layout), else ``None``."""
    for candidate in (folder, folder / "images"):
        if candidate.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in candidate.iterdir()):
            return candidate
    return None


class Progress(ProgressLine):
    """The progress line of one source: video seconds scored (of how many, when known), the ETA, the real-time
    factor (video seconds per wall-clock second) and the alarms so far."""

    def __init__(self, name: str, stream: IO[str] | None, duration_s: float | None, every_s: float = 0.5) -> None:
        super().__init__(name, duration_s, "s", stream, every_s, decimals=1)
        self.alarms = 0

    @property
    def real_time_factor(self) -> float:
        return self.rate

    def update(self, video_s: float, alarm_on: int) -> None:
        self.alarms += alarm_on
        super().update(video_s, f"{self.alarms} alarm(s)")

    def rate_text(self) -> str:
        return f"{self.rate:.2f}x real time"


def predict_source(
    predictor: Predictor,
    source: FrameSource,
    name: str,
    out_dir: Path,
    *,
    backend: Any = None,
    step: int = 1,
    fmt: str = "csv",
    timeline: bool = True,
    overlay: bool = False,
    overlay_short_side: int = 360,
    smoothing: Smoother | None = None,
    alarm: Alarm | None = None,
    anomaly_s: tuple[float, float] | None = None,
    progress: IO[str] | None = None,
) -> SourceResult:
    """Stream one open ``source`` into ``out_dir/<name>.<fmt>`` (and the overlay and timeline); see the module.

    Raises whatever stops it midway, after closing the files under their partial names (the rows so far kept).
    """
    alarm = predictor.make_alarm() if alarm is None else alarm
    results_path = out_dir / f"{name}.{fmt}"
    writer = ResultWriter(results_path, fmt)
    overlay_writer = OverlayWriter(out_dir / f"{name}_overlay.mp4", predictor, overlay_short_side) if overlay else None
    summary, shown = Summary(), source_label(source.name)
    bar = Progress(shown, progress, source.duration_s)
    try:
        frames = overlay_writer.frames(source) if overlay_writer else source
        for result in predictor.stream(
            frames, step, backend, smoothing=smoothing, alarm=alarm, latest_only=source.live
        ):
            writer.write(result_row(shown, result, predictor))
            summary.add(result)
            if overlay_writer:
                overlay_writer.add(result)
            bar.update(result.time_s, sum(event.kind == "on" for event in result.events))
        if not writer.rows:
            ended = f" ({source.stopped_reason})" if source.stopped_reason else ""
            raise VideoInputError(
                f"{source.name} gave no frame to score{ended}. Fix: check that it is a video "
                f'(`ffprobe "{source.name}"`), or that the camera or stream sends pictures'
            )
        outputs = {"results": writer.commit()}
        if overlay_writer:
            outputs["overlay"] = overlay_writer.commit()
    except BaseException as error:
        writer.close()
        if not writer.rows:  # nothing to keep
            partial_path(results_path).unlink(missing_ok=True)
        if overlay_writer:
            overlay_writer.close()
        if isinstance(error, KeyboardInterrupt):  # Ctrl-C: say what was kept (the caller prints it, no traceback)
            kept = f"{writer.rows} rows kept in {partial_path(results_path)}" if writer.rows else "no rows to keep"
            raise KeyboardInterrupt(f"interrupted; {kept}") from None
        raise
    finally:
        bar.close()
    if timeline:
        title = f"{source.name} ({Path(predictor.name).name}, step {step})"
        outputs["timeline"] = write_stream_timeline(
            out_dir / f"{name}_timeline.png", read_results(results_path), predictor, title, anomaly_s, alarm
        )
    stats = source.stats()
    rate = writer.rows / max(bar.elapsed, 1e-9)
    why = ""
    if stats.dropped and writer.rows:  # newest frame wins: frames came faster than the net scored them
        why = (
            f" (the net took {1000 * bar.elapsed / writer.rows:.0f} ms per result while frames arrived every "
            f"{1000 / max(stats.received_fps, 1e-9):.0f} ms; the newest frame wins)"
        )
    jumps = (
        f"; {stats.discontinuities} timestamp discontinuities (the times jumped back; the timeline continued)"
        if stats.discontinuities
        else ""
    )
    log.info(
        f"{source.name}: {stats.received} frames received ({_rate(source)}) -> {writer.rows} results at "
        f"{predictor.target_fps:g} fps, {bar.done:.1f} s of video scored in {bar.elapsed:.1f} s "
        f"({bar.real_time_factor:.2f}x real time, achieved {rate:.1f} results/s); {stats.dropped} frames "
        f"dropped by the live buffer{why}{jumps}"
    )
    return SourceResult(source.name, name, outputs, summary.line(shown, alarm), writer.rows, summary.row(shown))


def _rate(source: FrameSource) -> str:
    return f"{source.nominal_fps:.3g} fps" if source.nominal_fps else "no declared frame rate"


def predict_videos(
    ckpt_path: str | Path,
    videos: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    step: int = 1,
    batch_size: int = 8,
    device: str = "cpu",
    overlay: bool = False,
    overlay_short_side: int = 360,
    fmt: str = "csv",
    timeline: bool = True,
    backend: str = "auto",
    precision: str = "fp32",
    export_dir: str | Path | None = None,
    policy: AlarmPolicy | None = None,
    alarm_threshold: float | None = None,
    annotations: str | Path | None = None,
    frames_fps: float = 10.0,
    trusted_targets: Sequence[str] = (),
    progress: IO[str] | None = sys.stderr,
    run_kind: str = "predict_video",
    out_option: str = "hydra.run.dir",
) -> PredictReport:
    """Score every source with the checkpoint; a bad source becomes a failure and the others still run.

    Args:
        ckpt_path: a train.py checkpoint (:meth:`Predictor.from_checkpoint`).
        videos: files, folders (of videos, or of frames), URLs, cameras, pipes (:func:`find_sources`).
        out_dir: the run folder, claimed for this run (``riskvision.runs``).
        step: a result every ``step``-th target-rate frame.
        batch_size, device, backend, precision, export_dir: how the net runs (:class:`Predictor`).
        overlay, overlay_short_side: also the overlay MP4, its shorter side in pixels.
        fmt: ``csv`` or ``jsonl``; timeline: also the timeline PNG.
        policy: the alarm policy (smoother + rule, ``riskvision.alarm``; ``None``: the checkpoint's deployed one,
            ``Predictor.alarm_policy``).
        alarm_threshold: the alarm's threshold on the smoothed P(crash) (``None``: the checkpoint's operating point
            chosen on validation, else its decision threshold; ``Predictor.alarm_threshold``).
        annotations: anomaly spans drawn on the timelines (:mod:`.annotations`).
        frames_fps: the frame rate of frame folders.
        trusted_targets: targets beyond riskvision's own the checkpoint's stored config may name.
        progress: where the progress line goes (``None``: nowhere).
        run_kind: what the run folder records as the command.
        out_option: the command's option naming ``out_dir`` (``hydra.run.dir``, ``--out``), for refusals.

    Raises (before any source) when the checkpoint, a setting or the annotations are unusable.
    """
    if int(step) < 1:
        raise ValueError(f"step={step} must be >= 1 (score every step-th target-rate frame)")
    if int(overlay_short_side) < 2:
        raise ValueError(f"overlay_short_side={overlay_short_side} must be >= 2 pixels (default 360)")
    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r} is not one of {list(FORMATS)}")
    sources, problems = find_sources(videos)
    spans = read_anomaly_spans(annotations) if annotations else {}
    predictor = Predictor.from_checkpoint(
        ckpt_path,
        device,
        batch_size,
        trusted_targets=trusted_targets,
        precision=precision,
        backend=backend,
        export_dir=export_dir,
    )
    live = any(is_live_spec(spec) for spec in sources)  # a decode thread runs beside the net: leave it a core
    threads = inference_threads(live=True) if live else None
    engine_backend = predictor.make_backend(threads.net if threads else None)  # a bad export fails here, first
    policy = predictor.alarm_policy if policy is None else policy
    threshold = (
        predictor.alarm_threshold if alarm_threshold is None else check_threshold(alarm_threshold, "alarm_threshold")
    )
    used = threads.describe() if threads else f"threads: {torch.get_num_threads()} for the net (torch's setting)"
    log.info(f"Model {predictor.describe()}; {used}; {len(sources)} source(s) -> {out_dir}")
    point = predictor.operating_point
    if point is not None and int(step) != point.step:
        log.warning(
            f"step={step}, but the operating point was chosen on results every {point.step} frames: the "
            "smoothing and the minimum on-time see another rate, so the false-alarm rate it was chosen for "
            f"may not hold. Fix: step={point.step}"
        )
    if policy != predictor.alarm_policy or threshold != predictor.alarm_threshold:
        log.info(f"Alarm set here: {policy.describe(threshold)} (the checkpoint's: {predictor.describe_alarm()})")
    out_dir = claim_run_folder(out_dir, run_kind, option=out_option).path  # this process owns it (riskvision.runs)
    report = PredictReport(failures=list(problems), alarm_rule=policy.alarm(threshold).describe())
    for _, message in problems:
        log.error(message)
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(threads.net if threads else torch_threads)  # restored below (a library caller's setting)
    try:
        _predict_each(
            predictor,
            sources,
            out_dir,
            report,
            engine_backend,
            spans,
            (policy, threshold),
            frames_fps,
            dict(
                step=int(step),
                fmt=fmt,
                timeline=timeline,
                overlay=overlay,
                overlay_short_side=overlay_short_side,
                progress=progress,
            ),
        )
    finally:
        torch.set_num_threads(torch_threads)
    return report


def _predict_each(
    predictor: Predictor,
    sources: list[str],
    out_dir: Path,
    report: PredictReport,
    engine_backend: Any,
    spans: dict,
    deployed: tuple[AlarmPolicy, float],
    frames_fps: float,
    settings: dict[str, Any],
) -> None:
    """Score each source into ``out_dir`` (:func:`predict_source` with ``settings``; a fresh smoother and alarm of the
    ``deployed`` policy and threshold each), recording it in ``report``."""
    policy, threshold = deployed
    for spec, name in zip(sources, output_names(sources)):
        try:
            with open_source(spec, fps=frames_fps) as source:
                result = predict_source(
                    predictor,
                    source,
                    name,
                    out_dir,
                    backend=engine_backend,
                    smoothing=policy.smoother(),
                    alarm=policy.alarm(threshold),
                    anomaly_s=span_for(spans, spec),
                    **settings,
                )
        except VideoInputError as error:  # its message names the source
            _fail(report, spec, str(error))
            continue
        except (FrameReadError, DataLayoutError, OSError, ValueError, RuntimeError) as error:
            _fail(report, spec, f"{spec}: {error}")
            continue
        except Exception as error:  # one source must not stop the others; the traceback goes to the log
            log.exception(f"{spec}: unexpected error")
            report.failures.append((spec, f"unexpected {type(error).__name__}: {error}"))
            continue
        report.results.append(result)  # its line goes into the summary table the run ends with
        if source.stopped_reason:  # ended early: its results are complete up to there, but the user must know
            _fail(
                report, spec, f"{source.stopped_reason} (its {result.rows} results are in {result.outputs['results']})"
            )


def _fail(report: PredictReport, spec: str, message: str) -> None:
    log.error(message)
    report.failures.append((spec, message))
