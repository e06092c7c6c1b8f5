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
import logging
import sys
from collections.abc import Sequence

from riskvision.alarm import AlarmPolicy, ExponentialSmoother, Hysteresis, MovingAverage, NoSmoothing
from riskvision.inference.config import AlarmConfig, InputConfig, OutputConfig, RunCommand, RuntimeConfig
from riskvision.inference.outputs import FORMATS
from riskvision.inference.predictor import Predictor
from riskvision.inference.settings import check_predict_settings
from riskvision.inference.videos import predict_videos

__all__ = ["main"]

#: The options that carry the checked settings (riskvision.inference.settings), for its messages.
OPTION_NAMES = {
    "step": "--step",
    "device": "--device",
    "frames_fps": "--fps",
    "threads": "--threads",
    "alarm.smoothing.time_constant_s": "--time-constant",
    "alarm.smoothing.n": "--moving-average",
    "alarm_threshold": "--alarm-on",
    "alarm.rule.off_ratio": "--alarm-off-ratio",
    "alarm.rule.min_on_s": "--alarm-min-s",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="riskvision-predict",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkpoint", help="a .ckpt written by riskvision's train.py")
    parser.add_argument(
        "sources",
        nargs="+",
        help="video files, frame folders, rtsp://|http://|udp:// URLs, /dev/videoN, a FIFO carrying MPEG-TS",
    )
    parser.add_argument("--out", required=True, help="output folder (owned by this run: riskvision.runs)")
    parser.add_argument("--format", choices=FORMATS, default="csv")
    parser.add_argument("--step", type=int, default=1, help="a result every step-th target-rate frame")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--backend",
        choices=Predictor.BACKENDS,
        default="auto",
        help="auto (default): onnxruntime on a CPU when installed (exported once, cached), else torch",
    )
    parser.add_argument("--precision", choices=Predictor.PRECISIONS, default="fp32", help="torch backend only")
    parser.add_argument(
        "--onnx",
        default=None,
        help="an export folder (scripts/export.py) for --backend "
        "onnxruntime (default: exported once into the export cache)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="the net's intra-op threads, torch or onnxruntime alike (default: the backend's own for files; all "
        "cores but one beside a live source's decode thread)",
    )
    parser.add_argument("--fps", type=float, default=10.0, help="frame rate of frame folders")
    parser.add_argument(
        "--trusted-targets",
        nargs="*",
        default=[],
        help="classes beyond riskvision's own the checkpoint's stored config may build",
    )
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="also OUT/<name>_timeline.png (raw and smoothed P(crash), levels, alarms) when a source ends",
    )
    parser.add_argument("--overlay", action="store_true", help="also OUT/<name>_overlay.mp4, encoded as it is scored")
    parser.add_argument(
        "--annotations",
        default=None,
        help="anomaly spans for the timelines: a DoTA annotation "
        "JSON or folder, or a CSV video,anomaly_start_s,anomaly_end_s",
    )
    policy = parser.add_argument_group(
        "alarm policy (default: the one stored with the checkpoint's operating point; "
        "any of these replaces it, the others at their defaults)"
    )
    policy.add_argument(
        "--time-constant",
        type=float,
        default=None,
        help="exponential smoothing of P(crash), seconds (0: none; default 0.5)",
    )
    policy.add_argument("--moving-average", type=int, default=None, help="smooth over the last N results instead")
    policy.add_argument("--alarm-off-ratio", type=float, default=None, help="off below this x threshold (default 0.8)")
    policy.add_argument(
        "--alarm-min-s", type=float, default=None, help="seconds above the threshold before it turns on (default 0.5)"
    )
    parser.add_argument(
        "--alarm-on",
        type=float,
        default=None,
        help="alarm threshold of the smoothed P(crash) (default: the checkpoint's operating point)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    return parser


def _policy(args: argparse.Namespace) -> AlarmPolicy | None:
    """The alarm policy the flags ask for; ``None`` (the checkpoint's) when no policy flag is given."""
    flags = (args.time_constant, args.moving_average, args.alarm_off_ratio, args.alarm_min_s)
    if all(flag is None for flag in flags):
        return None
    if args.moving_average is not None:
        smoothing = MovingAverage(args.moving_average)
    elif args.time_constant is not None and args.time_constant == 0:
        smoothing = NoSmoothing()
    else:
        smoothing = ExponentialSmoother(0.5 if args.time_constant is None else args.time_constant)
    rule = Hysteresis(
        off_ratio=0.8 if args.alarm_off_ratio is None else args.alarm_off_ratio,
        min_on_s=0.5 if args.alarm_min_s is None else args.alarm_min_s,
    )
    return AlarmPolicy(smoothing, rule)


def main(argv: Sequence[str] | None = None) -> int:
    """The console command; returns the exit code (0: every source scored, 1: some failed, 2: unusable setup)."""
    args = _parser().parse_args(argv)
    # the run's log lines (which backend runs and why, each source's speed) on stderr; --quiet keeps the warnings
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        check_predict_settings(
            {
                "step": args.step,
                "device": args.device,
                "frames_fps": args.fps,
                "threads": args.threads,
                "alarm.smoothing.time_constant_s": args.time_constant,
                "alarm_threshold": args.alarm_on,
                "alarm.rule.off_ratio": args.alarm_off_ratio,
                "alarm.rule.min_on_s": args.alarm_min_s,
                "alarm.smoothing.n": args.moving_average,
            },
            names=OPTION_NAMES,
        )
        report = predict_videos(
            args.checkpoint,
            args.sources,
            args.out,
            step=args.step,
            runtime=RuntimeConfig(
                device=args.device,
                backend="onnxruntime" if args.onnx else args.backend,
                precision=args.precision,
                export_dir=args.onnx,
                threads=args.threads,
                trusted_targets=args.trusted_targets,
            ),
            outputs=OutputConfig(fmt=args.format, timeline=args.timeline, overlay=args.overlay),
            alarm=AlarmConfig(policy=_policy(args), threshold=args.alarm_on),
            inputs=InputConfig(frames_fps=args.fps, annotations=args.annotations),
            command=RunCommand(kind="predict", out_option="--out", progress=None if args.quiet else sys.stderr),
        )
    except (OSError, ValueError, RuntimeError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as error:  # Ctrl-C: the rows so far are kept under the partial name
        print(f"\n{error.args[0] if error.args else 'interrupted'}", file=sys.stderr)
        return 130
    print(f"{report.table()}\nOutputs in {args.out}", file=sys.stderr)  # one row per source, failures last
    if report.failures:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
