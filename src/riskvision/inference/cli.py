"""``riskvision-predict``: the streaming engine on video files, frame folders and live sources, from a shell.

    riskvision-predict RUN/checkpoints/last.ckpt drive.mp4 other.mov --out OUT
    riskvision-predict last.ckpt rtsp://camera/stream --out OUT --format jsonl
    riskvision-predict last.ckpt /dev/video0 --out OUT --onnx EXPORT_FOLDER     # onnxruntime (scripts/export.py)
    riskvision-predict last.ckpt drive.mp4 --out OUT --backend onnxruntime --overlay

The installed console command (``pyproject.toml``), for users who only ``pip install`` the package: no Hydra
config, no repository needed; the same work as ``scripts/predict_video.py`` (``riskvision.inference.videos``).
Each source gets ``OUT/<name>.csv`` (or ``.jsonl``): one row per result (frame, time, class probabilities,
P(crash), decision, smoothed, level, alarm, latency), written and flushed as results are made into
``OUT/<name>.<format>.partial`` and renamed when the source ends, so a killed run leaves complete rows under an
unmistakably partial name; ``--timeline`` and ``--overlay`` add the figure and the video. A progress line
shows the real-time factor (video seconds per wall-clock second). A source that cannot be used is reported;
the others still run, and the command exits 1 with the list.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from riskvision.inference.outputs import FORMATS
from riskvision.inference.predictor import Predictor
from riskvision.inference.settings import check_predict_settings
from riskvision.inference.smoothing import ExponentialSmoother, MovingAverage, NoSmoothing
from riskvision.inference.videos import predict_videos

__all__ = ["main"]

#: The options that carry the checked settings (riskvision.inference.settings), for its messages.
OPTION_NAMES = {"step": "--step", "device": "--device", "frames_fps": "--fps", "smoothing.time_constant_s":
                "--time-constant", "smoothing.n": "--moving-average", "alarm.on_threshold": "--alarm-on",
                "alarm.off_threshold": "--alarm-off", "alarm.min_on_s": "--alarm-min-s"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="riskvision-predict", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a .ckpt written by riskvision's train.py")
    parser.add_argument("sources", nargs="+", help="video files, frame folders, rtsp://|http://|udp:// URLs, "
                                                   "/dev/videoN, a FIFO carrying MPEG-TS")
    parser.add_argument("--out", required=True, help="output folder (owned by this run: riskvision.runs)")
    parser.add_argument("--format", choices=FORMATS, default="csv")
    parser.add_argument("--step", type=int, default=1, help="a result every step-th target-rate frame")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", choices=Predictor.BACKENDS, default="torch")
    parser.add_argument("--precision", choices=Predictor.PRECISIONS, default="fp32", help="torch backend only")
    parser.add_argument("--onnx", default=None, help="an export folder (scripts/export.py) for --backend "
                                                     "onnxruntime (default: exported into a temporary folder)")
    parser.add_argument("--fps", type=float, default=10.0, help="frame rate of frame folders")
    parser.add_argument("--trusted-targets", nargs="*", default=[], help="classes beyond riskvision's own the "
                                                                        "checkpoint's stored config may build")
    parser.add_argument("--timeline", action="store_true", help="also OUT/<name>_timeline.png (raw and smoothed "
                                                                   "P(crash), levels, alarms) when a source ends")
    parser.add_argument("--overlay", action="store_true", help="also OUT/<name>_overlay.mp4, encoded as it is scored")
    parser.add_argument("--annotations", default=None, help="anomaly spans for the timelines: a DoTA annotation "
                                                            "JSON or folder, or a CSV video,anomaly_start_s,anomaly_end_s")
    parser.add_argument("--time-constant", type=float, default=0.5, help="exponential smoothing of P(crash), "
                                                                         "seconds (0: none)")
    parser.add_argument("--moving-average", type=int, default=0, help="smooth over the last N results instead "
                                                                      "(N >= 1; 0: exponential smoothing)")
    parser.add_argument("--alarm-on", type=float, default=None, help="alarm on-threshold of the smoothed P(crash) "
                                                                      "(default: the checkpoint's tuned threshold)")
    parser.add_argument("--alarm-off", type=float, default=None, help="alarm off-threshold (default 0.8 x on)")
    parser.add_argument("--alarm-min-s", type=float, default=0.5, help="seconds above --alarm-on before it turns on")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    return parser


def _smoothing(args: argparse.Namespace):
    if args.moving_average:
        return MovingAverage(args.moving_average)
    return ExponentialSmoother(args.time_constant) if args.time_constant > 0 else NoSmoothing()


def main(argv: Sequence[str] | None = None) -> int:
    """The console command; returns the exit code (0: every source scored, 1: some failed, 2: unusable setup)."""
    args = _parser().parse_args(argv)
    try:
        check_predict_settings({"step": args.step, "device": args.device, "frames_fps": args.fps,
                                "smoothing.time_constant_s": args.time_constant, "alarm.on_threshold": args.alarm_on,
                                "alarm.off_threshold": args.alarm_off, "alarm.min_on_s": args.alarm_min_s,
                                **({"smoothing.n": args.moving_average} if args.moving_average else {})},
                               names=OPTION_NAMES)
        report = predict_videos(
            args.checkpoint, args.sources, args.out, step=args.step, device=args.device, overlay=args.overlay,
            fmt=args.format, timeline=args.timeline, backend="onnxruntime" if args.onnx else args.backend,
            precision=args.precision, export_dir=args.onnx, smoothing=_smoothing(args), alarm_on=args.alarm_on,
            alarm_off=args.alarm_off, alarm_min_on_s=args.alarm_min_s, annotations=args.annotations,
            frames_fps=args.fps, trusted_targets=args.trusted_targets, progress=None if args.quiet else sys.stderr,
            run_kind="predict", out_option="--out")
    except (OSError, ValueError, RuntimeError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as error:  # Ctrl-C: the rows so far are kept under the partial name
        print(f"\n{error.args[0] if error.args else 'interrupted'}", file=sys.stderr)
        return 130
    for result in report.results:
        print(f"{result.source}: {result.rows} results -> {result.outputs['results']}", file=sys.stderr)
    if report.failures:
        print(f"{len(report.failures)} source(s) failed:\n" +
              "\n".join(f"  {spec}: {message}" for spec, message in report.failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
