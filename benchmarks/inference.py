"""Inference speed of the streaming engine at the seed settings, in one run (``scripts/benchmark_inference.py``).

    rows = run(threads=2)            # prints a markdown table; every figure is measured in this run
    rows = run(models=["r3d_18", "s3d"], size="small", seed_rows=False)   # the zoo table alone

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
6. the zoo (``models``, issue 26): one row per registered model (:func:`zoo_rows`) at its ``recipe`` clip (the yaml's,
   its weights') or its ``small`` one (``ZOO_SIZES``), random weights (VideoMAE / V-JEPA 2: a random transformers
   config in a temporary folder): parameters, GFLOPs per clip (``riskvision.models.complexity``), frames/s
   streaming a 720p file end to end at step 1 (``predictor.stream``: decode, resize, normalise, the net, smoothing)
   against the forward-only bound (the same backend calls per result on frames already resized and normalised in
   memory, batch 1; one call after each streamed result, timed apart) and their share (target >= 70%).

Test videos: a gradient with a moving box (libx264 ultrafast, keyframe every 30 frames); a video longer than
10 s repeats the packets of its first 10 s (a valid stream, every repeat starts at a keyframe), so a
10-minute file costs 10 s of encoding.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
from riskvision.inference.sources import open_source
from riskvision.inference.stream import StreamEngine
from riskvision.models import HFVideoNet, list_models
from riskvision.models.complexity import count_parameters, forward_gflops
from riskvision.models.registry import model_entry

__all__ = ["ZOO_SIZES", "ZooRow", "make_checkpoint", "print_table", "run", "write_video", "zoo_models", "zoo_rows"]

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
    "zoo_results": 8,
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
    "zoo_results": 2,
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


# ---------------------------------------------------------------- 6. every registered model (issue 26)
#: What ``size`` builds each model at: ``recipe``: ``conf/model/<model>.yaml``'s own inputs (``conf/data_model``
#: dropped: the clip length and frame size of its weights, e.g. 16 x 112 for r3d_18, 64 x 224 for bilstm);
#: ``small``: what ``python train.py model=<model>`` trains on the built-in data (``conf/data_model/synthetic_<model>``
#: where there is one: e.g. 8 x 32 for r3d_18; the MViTs and s3d cannot go below 16 / 14 frames of 224).
ZOO_SIZES = ("recipe", "small")
#: transformers families, built from a random config in a temporary folder (nothing is downloaded): per size, the
#: config's arguments (``recipe``: transformers' default architecture at the yaml's clip; ``small``: a ViT-Tiny-like
#: net at 8 frames of 64) and the quick run's.
HF_CONFIGS = {
    "recipe": {"frames": None, "size": None, "dims": {}},
    "small": {
        "frames": 8,
        "size": 64,
        "dims": {"hidden_size": 192, "num_hidden_layers": 4, "num_attention_heads": 3, "intermediate_size": 768},
    },
    "quick": {
        "frames": 4,
        "size": 32,
        "dims": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
    },
}
ZOO_QUICK = {"model.inputs.frame_size": 32, "model.inputs.num_frames": 4}


@dataclass
class ZooRow:
    """One model's row of the zoo table: its clip (``num_frames`` x ``frame_size``), ``params`` (total),
    ``gflops`` (forward, per clip), ``stream_fps`` (target frames scored per second streaming a file end to end at
    step 1), ``bound_fps`` (the net alone on frames already resized and normalised in memory, the same calls per
    result), ``backbone_fps`` (a per-frame net's backbone alone, as row 2; ``None`` for other nets) and the
    1-minute load average before and after."""

    model: str
    num_frames: int
    frame_size: int
    params: int
    gflops: float
    stream_fps: float
    bound_fps: float
    backbone_fps: float | None
    load: tuple[float, float]

    @property
    def share(self) -> float:
        return self.stream_fps / self.bound_fps


def zoo_models(names: str | Sequence[str]) -> list[str]:
    """``"all"``: every registered model (``riskvision.models.list_models()``); ``"none"`` / ``""``: none; else
    a comma-separated string or a sequence of registered names (a misspelt one lists the registered ones)."""
    if isinstance(names, str):
        if names.strip() in ("", "none"):
            return []
        names = list_models() if names.strip() == "all" else [n.strip() for n in names.split(",") if n.strip()]
    for name in names:
        model_entry(name)  # UnknownModelError naming the registered models
    return list(names)


def hf_folder(folder: Path, family: str, size: str, inputs: tuple[int, int]) -> tuple[Path, tuple[int, int]]:
    """A random-weight transformers ``family`` folder (config.json, safetensors, preprocessor_config.json) in
    ``folder`` built from :data:`HF_CONFIGS` ``[size]`` (``inputs``: the yaml's ``(num_frames, frame_size)``, the
    recipe's clip); returns it and the clip it takes."""
    import transformers

    if family == "vjepa2" and not hasattr(transformers, "VJEPA2ForVideoClassification"):
        raise RuntimeError(f"transformers {transformers.__version__} has no V-JEPA 2")
    spec = HF_CONFIGS[size]
    frames, side = spec["frames"] or inputs[0], spec["size"] or inputs[1]
    torch.manual_seed(0)
    if family == "videomae":
        config = transformers.VideoMAEConfig(image_size=side, num_frames=frames, num_labels=1, **spec["dims"])
        model = transformers.VideoMAEForVideoClassification(config)
    else:
        dims = {("mlp_ratio" if k == "intermediate_size" else k): v for k, v in spec["dims"].items()}
        if "mlp_ratio" in dims:
            dims["mlp_ratio"] = dims["mlp_ratio"] / dims["hidden_size"]
            dims.update(pred_hidden_size=dims["hidden_size"], pred_num_hidden_layers=1)
            dims["pred_num_attention_heads"] = dims["num_attention_heads"]
        config = transformers.VJEPA2Config(crop_size=side, frames_per_clip=frames, num_labels=1, **dims)
        model = transformers.VJEPA2ForVideoClassification(config)
    path = folder / f"{family}_{size}"
    model.save_pretrained(path, safe_serialization=True)
    imagenet = {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
    (path / "preprocessor_config.json").write_text(json.dumps(imagenet))
    return path, (frames, side)


def zoo_overrides(model: str, size: str, folder: Path, quick: bool = False) -> list[str]:
    """Overrides composing ``model`` at ``size`` (:data:`ZOO_SIZES`) with random weights (``quick``: 4 frames of
    32, tiny transformers); a transformers family gets a random folder in ``folder`` (:func:`hf_folder`)."""
    if size not in ZOO_SIZES:
        raise ValueError(f"size={size!r} is not one of {list(ZOO_SIZES)}")
    overrides = [f"model={model}", "model.pretrained.source=null"] + (["~data_model"] if size == "recipe" else [])
    changes = dict(ZOO_QUICK) if quick else {}
    if model_entry(model).net_class is HFVideoNet:
        yaml = OmegaConf.load(CONF / "model" / f"{model}.yaml").inputs
        path, (frames, side) = hf_folder(folder, model, "quick" if quick else size, (yaml.num_frames, yaml.frame_size))
        changes = {"model.net.folder": str(path), "model.inputs.num_frames": frames, "model.inputs.frame_size": side}
    return overrides + [f"{key}={json.dumps(value)}" for key, value in changes.items()]


def forward_call(predictor: Predictor, backend: Backend) -> Callable[[], None]:
    """One result's worth of the net alone at step 1, batch 1, on a frame already resized and normalised in memory,
    with the calls the engine makes per result: a per-frame net ``features`` on one frame + ``sequence`` over a
    window of features (a recurrent one ``features`` + ``step``), another net ``window`` on one window."""
    h, w = predictor.frame_size
    frame = Normalize(predictor.normalization)(torch.from_numpy(scene(0, w, h)).permute(2, 0, 1))[None]
    if getattr(backend, "recurrent", False):
        state = None

        def call() -> None:
            nonlocal state
            _, state = backend.step(backend.features(frame), state)

        return call
    window = torch.cat([frame] * predictor.num_frames)[None]  # [1, T, 3, H, W]
    if backend.per_frame:
        features = backend.features(window[0])[None]  # [1, T, D]
        return lambda: (backend.features(frame), backend.sequence(features))
    return lambda: backend.window(window)


def interleaved(predictor: Predictor, backend: Backend, video: Path) -> tuple[float, float]:
    """Streaming ``video`` end to end at step 1 (``FileSource`` decode -> ``StreamEngine.push``, what
    ``predictor.stream`` runs) and, after each result, :func:`forward_call` once, timed apart; returns both
    results/s. Interleaving puts both under the same load (another job's burst slows both alike)."""
    call = forward_call(predictor, backend)
    call()  # warm-up
    engine, frames = StreamEngine(predictor, backend), iter(open_source(video))
    stream_s = bound_s = 0.0
    results = 0
    while not engine.finished:
        start = time.perf_counter()
        frame = next(frames, None)
        done = engine.push(frame.picture, frame.time_s) if frame is not None else engine.finish()
        stream_s += time.perf_counter() - start
        for _ in done:
            start = time.perf_counter()
            call()
            bound_s += time.perf_counter() - start
        results += len(done)
    return results / stream_s, results / bound_s


def zoo_row(model: str, size: str, folder: Path, results: int, quick: bool = False) -> ZooRow:
    """``model`` at ``size``: a checkpoint built in ``folder``, its parameters and GFLOPs per clip, and streaming a
    1280x720 (quick: 320x180) 30 fps file of ``results`` target frames end to end at step 1 against the forward-only
    bound, interleaved (:func:`interleaved`); a per-frame net's backbone alone too (row 2's bound)."""
    load_before = os.getloadavg()[0]
    checkpoint = make_checkpoint(folder, zoo_overrides(model, size, folder, quick), name=f"{model}_{size}.ckpt")
    predictor = Predictor.from_checkpoint(checkpoint)
    net, (h, w), t = predictor.module.net, predictor.frame_size, predictor.num_frames
    params = count_parameters(net)[0]
    gflops = forward_gflops(net, (1, t, 3, h, w))
    backend = TorchBackend(predictor)
    seconds = results / predictor.target_fps
    video = folder / f"drive_{seconds:g}s.mp4"
    if not video.exists():
        write_video(video, seconds, QUICK["video"] if quick else FULL["video"])
    stream, bound = interleaved(predictor, backend, video)
    backbone = bound_fps(backend, predictor, max(2, results // 2)) if backend.per_frame else None
    checkpoint.unlink()
    return ZooRow(model, t, h, params, gflops, stream, bound, backbone, (load_before, os.getloadavg()[0]))


def zoo_rows(models: Sequence[str], size: str, folder: Path, results: int, quick: bool = False) -> list[ZooRow]:
    """:func:`zoo_row` of each model in turn, printed as it is measured; a model that cannot be built here (no
    transformers, too old a transformers) is reported and skipped."""
    rows = []
    for model in models:
        try:
            rows.append(zoo_row(model, size, folder, results, quick))
        except (ImportError, RuntimeError) as error:
            print(f"{model}: skipped ({error})", flush=True)
            continue
        print_zoo_table(rows[-1:], header=len(rows) == 1)
    return rows


def print_zoo_table(rows: Sequence[ZooRow], header: bool = True) -> None:
    """The zoo rows as a markdown table."""
    if header:
        print(
            "\n| model | clip (T x size) | params | GFLOPs per clip | streaming end to end, frames/s | forward-only "
            "bound, frames/s | share (target >= 70%) | backbone-only bound, frames/s | load (1 min) |\n"
            "|---|---|---:|---:|---:|---:|---:|---:|---|"
        )
    for r in rows:
        backbone = "" if r.backbone_fps is None else f"{r.backbone_fps:.2f}"
        print(
            f"| `{r.model}` | {r.num_frames} x {r.frame_size} | {r.params:,} | {r.gflops:.2f} | {r.stream_fps:.2f} | "
            f"{r.bound_fps:.2f} | {r.share:.0%} | {backbone} | {r.load[0]:.1f}-{r.load[1]:.1f} |",
            flush=True,
        )


# ---------------------------------------------------------------- the table
def print_table(rows: list[tuple]) -> None:
    print("\n| measurement | frames/s | result | notes |\n|---|---:|---|---|")
    for name, fps, result, notes in rows:
        print(f"| {name} | {'' if fps is None else f'{fps:.2f}'} | {result} | {notes} |")


def run(
    quick: bool = False,
    seconds: float = 20.0,
    threads: int = 2,
    models: Sequence[str] = (),
    size: str = "recipe",
    seed_rows: bool = True,
    results: int | None = None,
) -> list[tuple]:
    """Every row (module docstring); ``quick``: tiny nets and videos (seconds); ``seconds``: the end-to-end
    video's length; ``threads``: torch / onnxruntime intra-op threads; ``models``: the registered models of the zoo
    table (row 6, at ``size``: :data:`ZOO_SIZES`, ``results`` results each, default 8, quick 2); ``seed_rows``: rows
    1-5. Prints the tables, returns the rows."""
    sizes = QUICK if quick else FULL
    torch.set_num_threads(threads)
    rows: list[tuple] = []
    zoo: list[ZooRow] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if seed_rows:
            rows += seed_model_rows(folder, sizes, seconds, threads)
        zoo = zoo_rows(models, size, folder / "zoo", results or sizes["zoo_results"], quick)
    rows += [
        (
            f"6. {r.model} ({r.num_frames} x {r.frame_size}, {size}) streaming end to end at step 1",
            r.stream_fps,
            f"{r.share:.0%} of the forward-only bound (target >= 70%)",
            f"bound {r.bound_fps:.2f} frames/s; {r.params:,} params; {r.gflops:.2f} GFLOPs per clip; "
            f"load {r.load[0]:.1f}-{r.load[1]:.1f}",
        )
        for r in zoo
    ]
    print(
        f"\nSUMMARY ({threads} threads; frames/s = target-rate frames scored per second; every figure measured "
        "in this run)"
    )
    print_table(rows)
    if zoo:
        print(f"\nZOO ({size} size, {threads} threads, {'x'.join(map(str, sizes['video']))} H.264 input)")
        print_zoo_table(zoo)
    return rows


def seed_model_rows(folder: Path, sizes: dict, seconds: float, threads: int) -> list[tuple]:
    """Rows 1-5 (module docstring) of the two seed models."""
    rows: list[tuple] = []
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
    return rows
