"""``riskvision-predict``: the streaming engine on video files, frame folders and live sources, from a shell.

    riskvision-predict RUN/checkpoints/last.ckpt drive.mp4 other.mov --out OUT
    riskvision-predict last.ckpt rtsp://camera/stream --out OUT --format jsonl
    riskvision-predict last.ckpt /dev/video0 --out OUT --onnx EXPORT_FOLDER     # onnxruntime (scripts/export.py)
    riskvision-predict last.ckpt drive.mp4 --out OUT --backend onnxruntime       # exported on the fly

The installed console command (``pyproject.toml``), for users who only ``pip install`` the package: no Hydra
config, no repository needed. Each source gets ``OUT/<name>.csv`` (or ``.jsonl``): one row per result (frame,
time, class probabilities, P(crash), smoothed, level, alarm, latency), written and flushed as results are made
into ``OUT/<name>.<format>.partial`` and renamed when the source ends, so a killed run leaves complete rows
under an unmistakably partial name. A progress line shows the real-time factor (video seconds per wall-clock
second). A source that cannot be used is reported; the others still run, and the command exits 1 with the list.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from riskvision.inference.inputs import VideoInputError, output_names
from riskvision.inference.outputs import write_stream_timeline
from riskvision.inference.predictor import Predictor
from riskvision.inference.sources import open_source
from riskvision.inference.stream import StreamResult
from riskvision.runs import claim_run_folder

__all__ = ["main", "write_results"]

FORMATS = ("csv", "jsonl")


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
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    return parser


def output_stems(specs: Sequence[str]) -> list[str]:
    """One distinct file stem per source spec (``inputs.output_names``: a file's stem, ``<stem>_<suffix>`` or a
    number when stems collide); a URL, device or pipe is named by the spec with unsafe characters replaced."""
    def name_path(spec: str) -> Path:
        path = Path(spec)
        if path.exists() and not path.is_dir() and path.suffix:  # a file or a named pipe such as camera.ts
            return path
        return Path(re.sub(r"[^A-Za-z0-9_-]+", "_", spec).strip("_") or "source")

    return output_names([name_path(spec) for spec in specs])


def _row(result: StreamResult) -> dict[str, object]:
    return {"frame": result.frame, "time_s": round(result.time_s, 6), **result.probs, "p_crash": result.p_crash,
            "smoothed": result.smoothed, "level": result.level, "alarm": result.alarm,
            "latency_ms": round(result.latency_ms, 3)}


def write_results(results, handle: IO[str], fmt: str, progress: IO[str] | None = None,
                  keep: list[StreamResult] | None = None) -> int:
    """Write each result as it arrives (one flushed CSV row or JSON line); returns how many were written.
    ``progress``: a stream for a one-line progress report (results, video time, real-time factor, alarms);
    ``keep``: a list the results are also appended to (for the timeline)."""
    writer = None
    count, alarms, begin, shown = 0, 0, time.perf_counter(), 0.0
    for result in results:
        if keep is not None:
            keep.append(result)
        row = _row(result)
        if fmt == "jsonl":
            handle.write(json.dumps(row) + "\n")
        else:
            if writer is None:
                writer = csv.DictWriter(handle, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)
        handle.flush()
        count += 1
        alarms += sum(event.kind == "on" for event in result.events)
        elapsed = time.perf_counter() - begin
        if progress is not None and elapsed - shown >= 1.0:
            shown = elapsed
            progress.write(f"\r{count} results, {result.time_s:.1f} s of video in {elapsed:.1f} s "
                           f"({result.time_s / elapsed:.2f}x real time), {alarms} alarm(s)")
            progress.flush()
    if progress is not None and count:
        progress.write("\n")
    return count


def main(argv: Sequence[str] | None = None) -> int:
    """The console command; returns the exit code (0: every source scored, 1: some failed, 2: unusable setup)."""
    args = _parser().parse_args(argv)
    try:
        backend = "onnxruntime" if args.onnx else args.backend
        predictor = Predictor.from_checkpoint(args.checkpoint, args.device, trusted_targets=args.trusted_targets,
                                              precision=args.precision, backend=backend, export_dir=args.onnx)
        engine_backend = predictor.make_backend()  # an unusable export folder fails here, before any source
        out = claim_run_folder(args.out, "predict").path
    except (OSError, ValueError, RuntimeError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    print(f"Model {predictor.describe()}", file=sys.stderr)
    failures = []
    for spec, stem in zip(args.sources, output_stems(args.sources)):
        final = out / f"{stem}.{args.format}"
        partial = final.with_name(final.name + ".partial")
        try:
            kept: list[StreamResult] | None = [] if args.timeline else None
            with open_source(spec, fps=args.fps) as source, open(partial, "w", newline="") as handle:
                results = predictor.stream(source, args.step, engine_backend)
                count = write_results(results, handle, args.format, None if args.quiet else sys.stderr, kept)
            os.replace(partial, final)
            if kept:
                write_stream_timeline(final.with_name(f"{final.stem}_timeline.png"), kept, predictor, spec)
            ended = f" (ended early: {source.stopped_reason})" if source.stopped_reason else ""
            print(f"{spec}: {count} results -> {final}{ended}", file=sys.stderr)
        except (VideoInputError, OSError, ValueError) as error:
            failures.append((spec, str(error)))
            print(f"{spec}: FAILED: {error}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} of {len(args.sources)} source(s) failed:\n" +
              "\n".join(f"  {spec}: {message}" for spec, message in failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
