"""Score sources end to end with the streaming engine: what ``scripts/predict_video.py`` and ``riskvision-predict``
run.

    report = predict_videos(
        "last.ckpt", ["drive.mp4", "clips/", "rtsp://camera/stream"], "OUT", outputs=OutputConfig(overlay=True)
    )

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import torch

from riskvision.data.layout import DataLayoutError
from riskvision.data.readers import FrameReadError
from riskvision.files import partial_path
from riskvision.inference.annotations import read_anomaly_spans, span_for
from riskvision.inference.config import AlarmConfig, InputConfig, OutputConfig, RunCommand, RuntimeConfig
from riskvision.inference.inputs import VIDEO_SUFFIXES, VideoInputError, output_names, source_label
from riskvision.inference.outputs import (
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
    outputs: OutputConfig = OutputConfig(),
    alarm: AlarmConfig = AlarmConfig(),
    anomaly_s: tuple[float, float] | None = None,
    progress: IO[str] | None = None,
) -> SourceResult:
    """Stream one open ``source`` into ``out_dir/<name>.<fmt>`` (and the overlay and timeline); see the module.

    Args:
        predictor: the loaded checkpoint; ``backend``: what runs its net (``None``: :meth:`Predictor.make_backend`).
        source: an open frame source; ``name``: its output files' name (:func:`~.inputs.output_names`).
        step: a result every ``step``-th target-rate frame.
        outputs: what it writes (:class:`~.config.OutputConfig`); ``alarm``: which alarm it raises (a fresh
            smoother and alarm of :meth:`AlarmConfig.resolve`'s policy and threshold).
        anomaly_s: the anomaly span drawn on its timeline (seconds); ``progress``: where the progress line goes.

    Raises whatever stops it midway, after closing the files under their partial names (the rows so far kept).
    """
    fmt, overlay, overlay_short_side = outputs.fmt, outputs.overlay, outputs.overlay_short_side
    policy, threshold = alarm.resolve(predictor)
    smoother, raised = policy.smoother(), policy.alarm(threshold)  # this source's own state
    results_path = out_dir / f"{name}.{fmt}"
    writer = ResultWriter(results_path, fmt)
    overlay_writer = OverlayWriter(out_dir / f"{name}_overlay.mp4", predictor, overlay_short_side) if overlay else None
    summary, shown = Summary(), source_label(source.name)
    bar = Progress(shown, progress, source.duration_s)
    try:
        frames = overlay_writer.frames(source) if overlay_writer else source
        for result in predictor.stream(
            frames, step, backend, smoothing=smoother, alarm=raised, latest_only=source.live
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
        files = {"results": writer.commit()}
        if overlay_writer:
            files["overlay"] = overlay_writer.commit()
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
    if outputs.timeline:
        title = f"{source.name} ({Path(predictor.name).name}, step {step})"
        files["timeline"] = write_stream_timeline(
            out_dir / f"{name}_timeline.png", read_results(results_path), predictor, title, anomaly_s, raised
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
    return SourceResult(source.name, name, files, summary.line(shown, raised), writer.rows, summary.row(shown))


def _rate(source: FrameSource) -> str:
    return f"{source.nominal_fps:.3g} fps" if source.nominal_fps else "no declared frame rate"


def predict_videos(
    ckpt_path: str | Path,
    videos: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    *,
    step: int = 1,
    runtime: RuntimeConfig = RuntimeConfig(),
    outputs: OutputConfig = OutputConfig(),
    alarm: AlarmConfig = AlarmConfig(),
    inputs: InputConfig = InputConfig(),
    command: RunCommand = RunCommand(),
) -> PredictReport:
    """Score every source with the checkpoint; a bad source becomes a failure and the others still run.

    Args:
        ckpt_path: a train.py checkpoint (:meth:`Predictor.from_checkpoint`).
        videos: files, folders (of videos, or of frames), URLs, cameras, pipes (:func:`find_sources`).
        out_dir: the run folder, claimed for this run (``riskvision.runs``).
        step: a result every ``step``-th target-rate frame.
        runtime: how the net runs (device, batch size, backend, precision, export, threads, trusted targets).
        outputs: what each source writes (format, timeline, overlay and its size).
        alarm: the alarm policy and threshold (``None`` parts: the checkpoint's operating point).
        inputs: the frame rate of frame folders, the anomaly spans drawn on the timelines.
        command: what the run folder records as the command, the option naming ``out_dir`` (for refusals) and
            where the progress line goes.

    The settings are the typed configs of :mod:`.config`. Raises (before any source) when the checkpoint, a
    setting or the annotations are unusable.
    """
    if int(step) < 1:
        raise ValueError(f"step={step} must be >= 1 (score every step-th target-rate frame)")
    sources, problems = find_sources(videos)
    spans = read_anomaly_spans(inputs.annotations) if inputs.annotations else {}
    predictor = runtime.load(ckpt_path)
    threads, used = runtime.net_threads(live=any(is_live_spec(spec) for spec in sources))
    engine_backend = predictor.make_backend(threads)  # a bad export fails here, first
    policy, threshold = alarm.resolve(predictor)
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
    out_dir = claim_run_folder(out_dir, command.kind, option=command.out_option).path  # this process owns it
    report = PredictReport(failures=list(problems), alarm_rule=policy.alarm(threshold).describe())
    for _, message in problems:
        log.error(message)
    settings = dict(
        backend=engine_backend,
        step=int(step),
        outputs=outputs,
        alarm=AlarmConfig(policy, threshold),
        progress=command.progress,
    )
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(threads or torch_threads)  # restored below (a library caller's setting)
    try:
        for spec, name in zip(sources, output_names(sources)):
            this_source = dict(settings, name=name, out_dir=out_dir, anomaly_s=span_for(spans, spec))
            _predict_one(report, spec, inputs.frames_fps, predictor, this_source)
    finally:
        torch.set_num_threads(torch_threads)
    return report


def _predict_one(
    report: PredictReport, spec: str, frames_fps: float, predictor: Predictor, settings: dict[str, Any]
) -> None:
    """Score the source ``spec`` (frame folders read at ``frames_fps``): :func:`predict_source` with ``settings``,
    its result or its failure recorded in ``report``."""
    try:
        with open_source(spec, fps=frames_fps) as source:
            result = predict_source(predictor, source, **settings)
    except VideoInputError as error:  # its message names the source
        _fail(report, spec, str(error))
        return
    except (FrameReadError, DataLayoutError, OSError, ValueError, RuntimeError) as error:
        _fail(report, spec, f"{spec}: {error}")
        return
    except Exception as error:  # one source must not stop the others; the traceback goes to the log
        log.exception(f"{spec}: unexpected error")
        report.failures.append((spec, f"unexpected {type(error).__name__}: {error}"))
        return
    report.results.append(result)  # its line goes into the summary table the run ends with
    if source.stopped_reason:  # ended early: its results are complete up to there, but the user must know
        _fail(report, spec, f"{source.stopped_reason} (its {result.rows} results are in {result.outputs['results']})")


def _fail(report: PredictReport, spec: str, message: str) -> None:
    log.error(message)
    report.failures.append((spec, message))
