"""Inference speed of the streaming engine at the seed settings, in one run (``scripts/benchmark_inference.py``).

    rows = run(threads=2)            # prints a markdown table; every figure is measured in this run

The nets are the seed models with random weights (no weights are read): ``conf/model/bilstm.yaml`` (ResNet-18
+ BiLSTM, 64 frames of 224x224) and ``conf/model/resnet3d101.yaml`` (10 frames of 224x224), each composed from
``conf/train.yaml`` like a train.py run with the model config's own ``inputs`` (not the small-machine
``conf/data_model`` settings) and ``model.pretrained.source=null``, saved as a train.py checkpoint in a temporary
folder and loaded with ``Predictor.from_checkpoint``. Rows:

1. bilstm streaming (``StreamEngine`` + ``TorchBackend``: the backbone once per frame, the LSTM head per result)
   vs the naive sliding window (the whole net on all ``num_frames`` frames of every window, step 1), both on the
   same resized uint8 frames in memory: frames/s (= results/s), the ratio, max |P(crash)| difference.
2. bilstm end to end from a 1280x720 30 fps H.264 file: PyAV decode frame by frame -> ``engine.push`` (resize,
   normalise, backbone, LSTM, smoothing) vs the backbone alone (the same backend's ``features``, batch 1, on
   normalised frames in memory). Frames/s are target-rate (10 fps) frames scored per second (three decoded
   frames each). Variants: fp32, bf16 autocast, channels_last, both, onnxruntime (``export_onnx`` +
   ``OnnxBackend``); max |P(crash)| difference vs fp32; the fastest within 1e-2 is picked.
3. resnet3d101: frames/s at step 1 (a 10-frame window per frame) and the smallest step with >= 10 frames/s.
4. peak resident memory (``ru_maxrss`` of a fresh subprocess each) of ``predict_videos`` (what
   ``scripts/predict_video.py`` runs) on a 1-minute and a 10-minute 720p file, bilstm at the seed's 224x224.
5. live: a thread produces 720p frames at 30 fps into a one-slot newest-frame-wins buffer; the bilstm engine
   (the picked variant) consumes it: capture -> result latency p50/p95 and the frames the buffer dropped.

Test videos: a gradient with a moving box (libx264 ultrafast, keyframe every 30 frames); a video longer than
10 s repeats the packets of its first 10 s (a valid stream, every repeat starts at a keyframe), so a
10-minute file costs 10 s of encoding.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import hydra
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

from riskvision.checkpoints.loading import CONFIG_KEY
from riskvision.data.sampling import WindowSampler
from riskvision.data.transforms import Normalize
from riskvision.inference.backends import Backend, TorchBackend
from riskvision.inference.predictor import Predictor
from riskvision.inference.stream import StreamEngine

__all__ = ["make_checkpoint", "print_table", "run", "write_video"]

CONF = Path(__file__).resolve().parents[1] / "conf"
NATIVE_FPS = 30
TOLERANCE = 1e-2  # max |P(crash) - fp32| a variant may differ by to be picked
TARGET_FPS = 10.0  # what resnet3d101 must keep up with

#: Sizes of a full run (the seed settings, 720p input) and of ``quick`` (the test: seconds).
FULL = {
    "video": (1280, 720),
    "stream_frames": 128,
    "naive_windows": 3,
    "bound_frames": 30,
    "r3d_windows": 2,
    "memory_s": (60, 600),
    "memory_frame_size": 224,
    "live_s": 60,
    "extra": {},
}
QUICK = {
    "video": (320, 180),
    "stream_frames": 12,
    "naive_windows": 2,
    "bound_frames": 3,
    "r3d_windows": 1,
    "memory_s": (1, 3),
    "memory_frame_size": 32,
    "live_s": 1,
    "extra": {
        "bilstm": {"model.inputs.frame_size": 32, "model.inputs.num_frames": 4, "model.net.hidden_size": 8},
        "resnet3d101": {"model.inputs.frame_size": 32, "model.net.widen_factor": 0.125},
    },
}


# ---------------------------------------------------------------- nets and videos
def seed_overrides(model: str, changes: dict | None = None) -> list[str]:
    """Overrides giving ``conf/model/<model>.yaml``'s own inputs and net (over any ``conf/data_model`` file) and
    random weights, then ``changes`` (``{"model.inputs.frame_size": 32, ...}``)."""
    seed = OmegaConf.load(CONF / "model" / f"{model}.yaml")
    values = {f"model.net.{key}": value for key, value in seed.net.items() if key != "_target_"}
    values.update(
        {
            "model.pretrained.source": None,
            "model.inputs.num_frames": seed.inputs.num_frames,
            "model.inputs.frame_size": seed.inputs.frame_size,
            **(changes or {}),
        }
    )
    return [f"model={model}"] + [f"{key}={json.dumps(value)}" for key, value in values.items()]


def make_checkpoint(
    folder: Path,
    overrides: list[str],
    threshold: Callable[[torch.nn.Module], float] | None = None,
    name: str = "random.ckpt",
) -> Path:
    """``folder/name``: a train.py checkpoint (random weights, seed 0) of ``conf/train.yaml`` composed with
    ``overrides``; ``threshold(module)`` gives the binary "tuned" threshold (the default buffer is 0.5). Also the
    tests' checkpoints (``tests/checkpoint_fakes.py``)."""
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("train.yaml", overrides=overrides, return_hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(folder)
            cfg.hydra.job.num = 0
            cfg.paths.root_dir, cfg.paths.log_dir = str(CONF.parent), str(folder)
            cfg.paths.data_dir = str(folder / "data")
        HydraConfig().set_config(cfg)
        torch.manual_seed(0)
        module = hydra.utils.instantiate(cfg.model)
        if threshold is not None:
            module.threshold.fill_(threshold(module))
        with open_dict(cfg):
            del cfg["hydra"]
        stored = OmegaConf.to_container(cfg, resolve=True)
    finally:
        GlobalHydra.instance().clear()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams), CONFIG_KEY: stored}, path)
    return path


def scene(i: int, width: int, height: int) -> np.ndarray:
    """Frame ``i``: a horizontal gradient with a yellow box moving right (uint8 RGB ``[H, W, 3]``)."""
    frame = np.linspace(20, 200, width, dtype=np.uint8)[None, :, None].repeat(height, 0).repeat(3, 2)
    box = max(4, width // 12)
    x = (4 * i) % (width - box)
    frame[height // 3 : height // 3 + box, x : x + box] = (230, 200, 40)
    return frame


def write_video(path: Path, seconds: float, size: tuple[int, int], fps: int = NATIVE_FPS) -> Path:
    """An H.264 MP4 of ``size`` (W, H), ``seconds`` long: the first (up to) 10 s encoded, then their packets
    repeated with shifted timestamps (each repeat starts at a keyframe)."""
    width, height = size
    total = round(seconds * fps)
    unique = min(total, 10 * fps)
    packets = []
    with av.open(str(path.with_suffix(".part.mp4")), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(fps), "preset": "ultrafast", "crf": "23", "bf": "0"}
        for i in range(unique):
            for packet in stream.encode(av.VideoFrame.from_ndarray(scene(i, width, height), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with av.open(str(path.with_suffix(".part.mp4"))) as source, av.open(str(path), "w", format="mp4") as out:
        template = source.streams.video[0]
        stream = out.add_stream_from_template(template)
        packets = [p for p in source.demux(template) if p.size]
        step = packets[1].pts - packets[0].pts  # one frame in the stream's time base
        for repeat in range(math.ceil(total / unique)):
            for k, packet in enumerate(packets[: total - repeat * unique]):
                packet.stream = stream
                packet.pts = packet.dts = (repeat * unique + k) * step
                out.mux(packet)
    path.with_suffix(".part.mp4").unlink()
    return path


def stream_file(predictor: Predictor, path: Path, backend: Backend) -> list[float]:
    """P(crash) of every result of ``path`` streamed through ``predictor.stream`` (``FileSource``: PyAV decode,
    frame by frame, threads AUTO) with ``backend``."""
    return [result.p_crash for result in predictor.stream(path, backend=backend)]


def p_crash(predictor: Predictor, logits: torch.Tensor) -> np.ndarray:
    task = predictor.task
    return np.asarray(task.crash_probability(task.table_values(logits)), dtype=np.float64)


def timed(function: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


# ---------------------------------------------------------------- 1. streaming vs naive sliding window
def streaming_rows(predictor: Predictor, sizes: dict) -> list[tuple]:
    """Streaming (backbone once per frame) vs the whole net on every window, same frames in memory."""
    n, k = sizes["stream_frames"], sizes["naive_windows"]
    h, w = predictor.frame_size
    frames = [torch.from_numpy(scene(i, w, h)).permute(2, 0, 1).contiguous() for i in range(n)]  # uint8 [3, H, W]

    def stream() -> list:
        engine = StreamEngine(predictor)
        results = [r for i, f in enumerate(frames) for r in engine.push(f, i / predictor.target_fps)]
        return results + engine.finish()

    StreamEngine(predictor).push(frames[0], 0.0)  # warm-up
    stream_s, results = timed(stream)
    streamed = {r.frame: r.p_crash for r in results}
    backend, normalize = TorchBackend(predictor), Normalize(predictor.normalization)
    sampler = WindowSampler(predictor.num_frames, eval_step=1)
    ends = list(range(n - k, n))  # the last k windows (full ones)
    windows = [torch.stack([frames[i] for i in sampler.frames(n, end)]) for end in ends]
    backend.window(normalize(windows[0])[None])  # warm-up
    naive_s, naive = timed(lambda: [p_crash(predictor, backend.window(normalize(x)[None]))[0] for x in windows])
    diff = max(abs(p - streamed[end]) for p, end in zip(naive, ends))
    stream_fps, naive_fps = len(results) / stream_s, k / naive_s
    return [
        (
            "1. bilstm streaming (backbone per frame + LSTM per result), frames in memory",
            stream_fps,
            f"{stream_fps / naive_fps:.1f}x naive (target >= 30x)",
            f"max abs dP vs naive {diff:.1e}",
        ),
        (
            f"1. bilstm naive sliding window (full {predictor.num_frames}-frame forward per result, step 1)",
            naive_fps,
            "1.0x",
            f"{k} windows",
        ),
    ]


# ---------------------------------------------------------------- 2. end to end from a file, variants
def bound_fps(backend: Backend, predictor: Predictor, count: int) -> float:
    """Frames/s of ``backend.features`` alone, batch 1, on normalised frames in memory."""
    h, w = predictor.frame_size
    normalize = Normalize(predictor.normalization)
    frames = [normalize(torch.from_numpy(scene(i, w, h)).permute(2, 0, 1))[None] for i in range(count)]
    backend.features(frames[0])  # warm-up
    seconds, _ = timed(lambda: [backend.features(f) for f in frames])
    return count / seconds


def variant_backends(predictor: Predictor, folder: Path, threads: int) -> dict[str, Callable[[], Backend]]:
    """The backends compared end to end (built on demand: the ONNX export runs only when its turn comes)."""

    def onnx() -> Backend:
        from riskvision.inference.export import export_onnx
        from riskvision.inference.onnx_backend import OnnxBackend

        export_onnx(predictor, folder / "onnx")
        return OnnxBackend(folder / "onnx", intra_op_threads=threads)

    return {
        "fp32": lambda: TorchBackend(predictor),
        "bf16 autocast": lambda: TorchBackend(predictor, precision="bf16"),
        "channels_last": lambda: TorchBackend(predictor, channels_last=True),
        "channels_last + bf16": lambda: TorchBackend(predictor, precision="bf16", channels_last=True),
        "onnxruntime (CPU)": onnx,
    }


def end_to_end_rows(
    predictor: Predictor, video: Path, folder: Path, sizes: dict, threads: int
) -> tuple[list[tuple], Backend, str]:
    """Each variant from the file vs its backbone-only bound; the rows, the picked backend and its name."""
    rows, speeds, probs, diffs, backends = [], {}, {}, {}, {}
    for name, build in variant_backends(predictor, folder, threads).items():
        backend = backends[name] = build()
        bound = bound_fps(backend, predictor, sizes["bound_frames"])
        seconds, p = timed(lambda: stream_file(predictor, video, backend))
        speeds[name], probs[name] = len(p) / seconds, np.asarray(p)
        diffs[name] = diff = float(np.max(np.abs(probs[name] - probs["fp32"])))
        rows.append(
            (
                f"2. bilstm end to end from {video.name}, {name}",
                speeds[name],
                f"{speeds[name] / bound:.0%} of backbone-only bound (target >= 70%)",
                f"bound {bound:.1f} frames/s; max abs dP vs fp32 {diff:.1e}",
            )
        )
    ok = [name for name in speeds if diffs[name] <= TOLERANCE]
    best = max(ok, key=speeds.get)
    rows.append(
        (
            f"2. picked: fastest variant within {TOLERANCE:g} of fp32 -> {best}",
            speeds[best],
            f"{speeds[best] / speeds['fp32']:.2f}x fp32",
            "",
        )
    )
    return rows, backends[best], best


# ---------------------------------------------------------------- 3. resnet3d101 steps
def r3d_fps(predictor: Predictor, step: int, windows: int) -> float:
    """Target frames/s streaming frames in memory at ``step`` (``windows`` results)."""
    h, w = predictor.frame_size
    frames = [torch.from_numpy(scene(i, w, h)).permute(2, 0, 1).contiguous() for i in range(4)]
    engine = StreamEngine(predictor, step=step)
    n = windows * step
    seconds, _ = timed(lambda: [engine.push(frames[i % 4], i / predictor.target_fps) for i in range(n)])
    return n / seconds


def r3d_rows(predictor: Predictor, sizes: dict) -> list[tuple]:
    """Frames/s at step 1, then the smallest step keeping up with TARGET_FPS: from the estimate ``TARGET_FPS /
    fps(1)`` up until a step keeps up, then down while the next smaller step keeps up too."""
    windows = sizes["r3d_windows"]
    r3d_fps(predictor, 1, 1)  # warm-up
    fps1 = r3d_fps(predictor, 1, windows)
    rows = [
        (
            f"3. resnet3d101 ({predictor.num_frames} frames of {predictor.frame_size[0]}), step 1",
            fps1,
            f"{1 / fps1:.2f} s per window",
            "",
        )
    ]
    measured = {1: fps1}

    def fps_at(step: int) -> float:
        if step not in measured:
            measured[step] = r3d_fps(predictor, step, windows)
        return measured[step]

    step = max(1, math.ceil(TARGET_FPS / fps1))  # the estimate from step 1; then up until it keeps up ...
    for _ in range(8):
        if fps_at(step) >= TARGET_FPS:
            break
        step += max(1, math.ceil(step * 0.1))
    while step > 1 and fps_at(step) >= TARGET_FPS and fps_at(step - 1) >= TARGET_FPS:  # ... and down while it does
        step -= 1
    picked = step if fps_at(step) >= TARGET_FPS else None
    for s in sorted(measured):
        if s > 1:
            rows.append(
                (
                    f"3. resnet3d101, step {s}",
                    measured[s],
                    "keeps up with 10 fps" if measured[s] >= TARGET_FPS else "below 10 fps",
                    "",
                )
            )
    rows.append(
        (
            f"3. resnet3d101: smallest step with >= {TARGET_FPS:g} frames/s -> {picked if picked else 'not found'}",
            measured.get(picked, float("nan")),
            "",
            "",
        )
    )
    return rows


# ---------------------------------------------------------------- 4. memory, one subprocess each
def memory_child(checkpoint: str, video: str, out: str, threads: int) -> None:
    """(In a fresh process) run ``predict_videos`` on ``video`` (what ``scripts/predict_video.py`` runs: the
    engine, the results CSV, the timeline) into ``out``; print ``{"peak_mib", "results"}`` as JSON."""
    from riskvision.inference.config import RunCommand
    from riskvision.inference.videos import predict_videos

    torch.set_num_threads(threads)
    report = predict_videos(checkpoint, [video], out, command=RunCommand(progress=None))
    if report.failures:
        raise RuntimeError(f"the memory run failed: {report.failures}")
    print(
        json.dumps(
            {"peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "results": report.results[0].rows}
        )
    )


def memory_rows(folder: Path, sizes: dict, extra: dict) -> list[tuple]:
    frame_size = sizes["memory_frame_size"]
    checkpoint = make_checkpoint(
        folder / "memory_net", seed_overrides("bilstm", {**extra, "model.inputs.frame_size": frame_size})
    )
    children = {}  # both at once: separate processes, separate peaks (their speed is not reported)
    for seconds in sizes["memory_s"]:
        video = write_video(folder / f"memory_{seconds}s.mp4", seconds, sizes["video"])
        code = (
            f"from benchmarks.inference import memory_child; "
            f"memory_child({str(checkpoint)!r}, {str(video)!r}, {str(folder / f'memory_out_{seconds}')!r}, 1)"
        )
        children[seconds] = subprocess.Popen(  # run from the repository root, where benchmarks/ is importable
            [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=CONF.parent
        )
    peaks = {}
    for seconds, child in children.items():
        out, _ = child.communicate()
        if child.returncode:
            raise RuntimeError(f"the memory run of the {seconds} s video failed (exit {child.returncode})")
        peaks[seconds] = json.loads(out.strip().splitlines()[-1])
    (short, a), (long, b) = peaks.items()
    growth = (b["peak_mib"] - a["peak_mib"]) / a["peak_mib"]
    w, h = sizes["video"]
    note = (
        f"predict_videos (engine + results CSV + timeline), a fresh process each, 1 thread; bilstm at "
        f"{frame_size}x{frame_size}, {sizes['extra'].get('bilstm', {}).get('model.inputs.num_frames', 64)}-frame "
        "windows"
    )
    return [
        (
            f"4. peak RSS streaming {short} s of {w}x{h} H.264 ({a['results']} results)",
            None,
            f"{a['peak_mib']:.0f} MiB",
            note,
        ),
        (
            f"4. peak RSS streaming {long} s of {w}x{h} H.264 ({b['results']} results)",
            None,
            f"{b['peak_mib']:.0f} MiB",
            f"{growth:+.1%} vs {short} s (target < 10%)",
        ),
    ]


# ---------------------------------------------------------------- 5. live
def live_rows(predictor: Predictor, backend: Backend, name: str, seconds: float, size: tuple[int, int]) -> list[tuple]:
    """A 30 fps producer thread -> one-slot newest-frame-wins buffer -> the engine in this thread."""
    width, height = size
    images = [scene(i, width, height) for i in range(8)]
    slot: list = []  # [(image, capture time)] or empty
    ready = threading.Condition()
    state = {"produced": 0, "dropped": 0, "done": False}

    def produce() -> None:
        start = time.perf_counter()
        for i in range(round(seconds * NATIVE_FPS)):
            time.sleep(max(0.0, start + i / NATIVE_FPS - time.perf_counter()))
            with ready:
                state["dropped"] += len(slot)  # the unconsumed frame is overwritten
                slot[:] = [(images[i % len(images)], time.perf_counter())]
                state["produced"] += 1
                ready.notify()
        with ready:
            state["done"] = True
            ready.notify()

    engine = StreamEngine(predictor, backend, latest_only=True)  # a live source: never fall behind
    engine.push(images[0], 0.0)  # warm-up, then a fresh stream
    engine.reset()
    latencies, origin = [], None
    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    while True:
        with ready:
            while not slot and not state["done"]:
                ready.wait()
            if not slot:
                break
            image, captured = slot.pop()
        origin = captured if origin is None else origin
        results = engine.push(image, captured - origin)
        now = time.perf_counter()
        latencies += [(now - origin - r.source_time_s) * 1000 for r in results]
    producer.join()
    p50, p95 = np.percentile(latencies, [50, 95]) if latencies else (float("nan"), float("nan"))
    return [
        (
            f"5. live {seconds:g} s at 30 fps ({width}x{height}) -> one-slot buffer -> bilstm engine ({name})",
            len(latencies) / seconds,
            f"latency p50 {p50:.0f} ms, p95 {p95:.0f} ms",
            f"dropped {state['dropped']} of {state['produced']} frames; {len(latencies)} results, "
            f"{engine.skipped} skipped (latest_only)",
        )
    ]


# ---------------------------------------------------------------- the table
def print_table(rows: list[tuple]) -> None:
    print("\n| measurement | frames/s | result | notes |\n|---|---:|---|---|")
    for name, fps, result, notes in rows:
        print(f"| {name} | {'' if fps is None else f'{fps:.2f}'} | {result} | {notes} |")


def run(quick: bool = False, seconds: float = 20.0, threads: int = 2) -> list[tuple]:
    """Every row (module docstring); ``quick``: tiny nets and videos (seconds); ``seconds``: the end-to-end
    video's length; ``threads``: torch / onnxruntime intra-op threads. Prints the table, returns the rows."""
    sizes = QUICK if quick else FULL
    torch.set_num_threads(threads)
    rows: list[tuple] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        extra = sizes["extra"]
        bilstm_ckpt = make_checkpoint(folder / "bilstm", seed_overrides("bilstm", extra.get("bilstm")))
        bilstm = Predictor.from_checkpoint(bilstm_ckpt)
        print(bilstm.describe(), flush=True)
        rows += streaming_rows(bilstm, sizes)
        video = write_video(folder / f"drive_{seconds:g}s_{sizes['video'][1]}p.mp4", seconds, sizes["video"])
        e2e, best, best_name = end_to_end_rows(bilstm, video, folder, sizes, threads)
        rows += e2e
        print_table(rows)
        r3d_ckpt = make_checkpoint(folder / "r3d", seed_overrides("resnet3d101", extra.get("resnet3d101")))
        r3d = Predictor.from_checkpoint(r3d_ckpt)
        print(r3d.describe(), flush=True)
        rows += r3d_rows(r3d, sizes)
        del r3d
        r3d_ckpt.unlink()
        rows += memory_rows(folder, sizes, extra.get("bilstm", {}))
        rows += live_rows(bilstm, best, best_name, sizes["live_s"], sizes["video"])
    print(
        f"\nSUMMARY ({threads} threads; frames/s = target-rate ({bilstm.target_fps:g} fps) frames scored per "
        "second; every figure measured in this run)"
    )
    print_table(rows)
    return rows
