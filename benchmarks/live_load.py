"""Live input vs file input under CPU load, in one run (``scripts/benchmark_live.py``; issue 31).

    rows = run(seconds=6.0, busy=2)      # prints a markdown table; every figure is measured in this run

One bilstm (the seed net, random weights, ``model.inputs.num_frames`` 16 to keep the head small) scores the same
640x360 30 fps MPEG-TS (libx264) through ``riskvision.inference.videos.predict_source``, while ``busy``
processes spin on the CPU (started before, stopped after; the synthetic load):

1. file: ``FileSource`` (every frame decoded, scored at the machine's pace; torch's threads = usable cores);
2. live, the old thread count: a named pipe fed at 30 fps (bytes paced frame by frame), ``LiveSource``
   (decode thread, newest frame wins), torch's threads = usable cores;
3. live, ``inference_threads(live=True)``: the same with one core left to the decode thread;
4. file again with row 3's thread count (the like-for-like reference of row 3);
5. the cost of converting a decoded frame to RGB (``av.VideoFrame.to_ndarray``), per frame and per second of
   30 fps video: what converting every frame (also the ones the live buffer drops) would cost.

Results/s = results written / wall-clock seconds of scoring. A live source cannot give more than the target
rate (10 results/s); the ratio live / file is the issue's target (>= 70%).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import torch

from benchmarks.inference import make_checkpoint, print_table, scene, seed_overrides
from riskvision.inference.config import OutputConfig
from riskvision.inference.predictor import Predictor
from riskvision.inference.sources import open_source
from riskvision.inference.threads import inference_threads, usable_cores
from riskvision.inference.videos import predict_source
from riskvision.video_io import frame_to_rgb

__all__ = ["run"]

SIZE = (640, 360)
FPS = 30


def write_ts(path: Path, seconds: float, size: tuple[int, int] = SIZE) -> Path:
    """A libx264 MPEG-TS of ``seconds`` at 30 fps (the benchmark's moving-box scene)."""
    width, height = size
    with av.open(str(path), "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=Fraction(FPS, 1))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(FPS), "preset": "ultrafast", "bf": "0"}
        for i in range(round(seconds * FPS)):
            for packet in stream.encode(av.VideoFrame.from_ndarray(scene(i, width, height), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def feed(fifo: Path, data: bytes, seconds: float) -> threading.Thread:
    """A thread writing ``data`` into ``fifo`` paced over ``seconds`` (one chunk per frame interval)."""
    chunks = max(1, round(seconds * FPS))
    size = -(-len(data) // chunks)

    def write() -> None:
        start = time.perf_counter()
        try:
            with open(fifo, "wb", buffering=0) as pipe:
                for k in range(chunks):
                    time.sleep(max(0.0, start + k / FPS - time.perf_counter()))
                    pipe.write(data[k * size : (k + 1) * size])
        except BrokenPipeError:
            pass

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def score(predictor: Predictor, spec: str, out: Path, threads: int) -> tuple[float, int, str]:
    """``(results/s, results, the source's stats line)`` of ``spec`` scored into ``out`` with ``threads``."""
    torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    backend = predictor.make_backend()
    with open_source(spec) as source:
        start = time.perf_counter()
        result = predict_source(predictor, source, "scores", out, backend=backend, outputs=OutputConfig(timeline=False))
        elapsed = time.perf_counter() - start
        stats = source.stats()
    return result.rows / elapsed, result.rows, f"{stats.received} received, {stats.dropped} dropped"


def conversion_ms(path: Path, frames: int = 60) -> float:
    """Milliseconds to convert one decoded frame of ``path`` to RGB (``to_ndarray``), median of ``frames``."""
    times = []
    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k >= frames:
                break
            start = time.perf_counter()
            frame_to_rgb(frame)
            times.append(time.perf_counter() - start)
    times.sort()
    return 1000 * times[len(times) // 2]


def busy_processes(count: int, limit_s: float = 900.0) -> list[subprocess.Popen]:
    """``count`` processes spinning on the CPU (the synthetic load); stop them with :func:`stop` (each also ends
    by itself after ``limit_s`` seconds, should this process be killed first)."""
    spin = f"import time\nend = time.monotonic() + {limit_s}\nwhile time.monotonic() < end: pass"
    return [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(count)]


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.kill()
        process.wait()


def run(seconds: float = 6.0, busy: int = 2, frame_size: int = 224) -> list[tuple]:
    """Every row (module docstring); ``seconds``: the stream's length; ``busy``: spinning processes;
    ``frame_size``: the net's input size. Prints the table, returns the rows."""
    logging.getLogger("riskvision").setLevel(logging.WARNING)
    cores = usable_cores()
    rows: list[tuple] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ckpt = make_checkpoint(
            folder / "bilstm",
            seed_overrides("bilstm", {"model.inputs.num_frames": 16, "model.inputs.frame_size": frame_size}),
        )
        predictor = Predictor.from_checkpoint(ckpt)
        video = write_ts(folder / "drive.ts", seconds)
        data = video.read_bytes()
        load = busy_processes(busy)
        try:
            time.sleep(0.5)
            load_avg = os.getloadavg()[0]
            file_rate, file_rows, file_stats = score(predictor, str(video), folder / "file", cores)
            rows.append((f"1. file, {cores} torch threads", file_rate, f"{file_rows} results", file_stats))
            live_threads = inference_threads(True).net
            for label, threads in (("all cores", cores), ("inference_threads", live_threads)):
                fifo = folder / f"live_{threads}.ts"
                os.mkfifo(fifo)
                writer = feed(fifo, data, seconds)
                rate, count, stats = score(predictor, str(fifo), folder / f"live_{threads}", threads)
                writer.join(seconds + 30)
                rows.append(
                    (
                        f"{len(rows) + 1}. live pipe 30 fps, {threads} torch threads ({label})",
                        rate,
                        f"{count} results, {rate / file_rate:.0%} of file (row 1)",
                        stats,
                    )
                )
            same_rate, same_rows, same_stats = score(predictor, str(video), folder / "file_same", live_threads)
            rows.append(
                (
                    f"{len(rows) + 1}. file, {live_threads} torch threads (as row 3)",
                    same_rate,
                    f"{same_rows} results; row 3 is {rows[-1][1] / same_rate:.0%} of it",
                    same_stats,
                )
            )
        finally:
            stop(load)
        convert = conversion_ms(video)
        rows.append(
            (
                f"{len(rows) + 1}. RGB conversion of one {SIZE[0]}x{SIZE[1]} frame",
                None,
                f"{convert:.2f} ms",
                f"{convert * FPS / 10:.1f}% of a core at {FPS} fps if every frame were converted",
            )
        )
    print(
        f"\nSUMMARY ({busy} busy processes; load average {load_avg:.1f} at the start; {cores} usable cores; "
        f"bilstm {frame_size}x{frame_size}, 16 frames; results/s measured in this run)"
    )
    print_table(rows)
    return rows
