"""Training speed of both models at the seed settings and at the quickstart's, in one run
(``scripts/benchmark_train.py``).

    rows = run(threads=2)            # prints each row as it is measured, then the table

For each model (``bilstm``, ``resnet3d101``) and setting (``seed``: the model config's own net and inputs, 64
frames of 224x224 / 10 frames of 224x224, random weights; ``quickstart``: what ``python train.py model=...``
trains on the synthetic data, ``conf/data_model``), on a synthetic set at the quickstart's 160x96 frames:

* loader: frames/s the training DataLoader delivers with the configured workers, no model;
* per variant (``fp32``, ``bf16`` autocast, ``channels_last`` (``model.execution.memory_format``), ``compile``
  (``model.execution.compile``), and for the 3D-ResNet ``onednn_backward``: fp32 with
  ``model.net.tap_backward_max_outputs=0``, oneDNN's convolution backward everywhere instead of the tap-by-tap one on
  small grids
  (``riskvision.models.tap_conv``)): the model-only bound (forward + backward + Adam step on one batch already
  in memory) and the training loop (the loader's batches -> the same step), frames/s = clips/s x frames per clip,
  and the
  loop's share of its bound;
* the ratio of each variant's loop to fp32's, and the loader's frames/s over what the fastest loop consumes
  (target >= 1.5x).

Each variant takes one warm-up step (the compile variant compiles in it), then ``steps`` timed steps of the bound
and ``steps`` of the loop.

For a net with frozen per-frame features (the bilstm at the seed settings), the ``cached`` variant fills a feature
cache in a temporary folder (``RiskDataModule.use_feature_cache``; one augmented view per training video when the
setting augments, as ``experiment=seed_bilstm`` does with 8) and reports: its extraction frames/s against the
backbone's inference bound (``forward_features`` under ``no_grad`` on ``batch_frames`` frames already in memory;
target >= 90%), the cached loader's frames/s, and the training loop on cached features against fp32's loop on
pixels (target >= 20x).

The zoo (``zoo``, issue 26): one row per registered model at its ``small`` clip (what ``train.py model=<model>``
trains on the built-in data) or its ``recipe`` one (``benchmarks.inference.ZOO_SIZES``), random weights,
fp32: the training loop against its model-only bound (:func:`zoo_row`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import hydra
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from benchmarks.inference import CONF, seed_overrides, zoo_overrides
from riskvision.batch import FEATURES
from riskvision.data.sources.synthetic import ensure_synthetic
from riskvision.models.complexity import count_parameters

__all__ = ["VARIANTS", "run", "zoo_row"]

VARIANTS = ("fp32", "bf16", "channels_last", "compile", "onednn_backward")
FULL = {
    "videos": 8,
    "steps": 1,
    "loader_batches": 6,
    "bound_calls": 5,
    "zoo_steps": 3,
    "models": ("bilstm", "resnet3d101"),
    "settings": ("quickstart", "seed"),
    "variants": VARIANTS,
    "extra": {},
}
# the smoke run leaves bf16 and compile out: on a CPU without fast bf16 a bf16 step is ~10x slower, and compiling
# takes minutes (tests/test_train.py trains with both)
QUICK = {
    "videos": 6,
    "steps": 1,
    "loader_batches": 2,
    "bound_calls": 2,
    "zoo_steps": 1,
    "models": ("bilstm", "resnet3d101"),
    "settings": ("quickstart", "seed"),
    "variants": ("fp32", "channels_last", "onednn_backward"),
    "extra": {
        "bilstm": ["model.inputs.frame_size=32", "model.inputs.num_frames=4", "model.net.hidden_size=8"],
        "resnet3d101": ["model.inputs.frame_size=32", "model.net.widen_factor=0.125"],
    },
}
SYNTHETIC = {"width": 160, "height": 96, "crash_seconds": [4, 7], "normal_seconds": [4, 7], "clips_per_source": [1, 1]}


def _compose(overrides: list[str]):
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose("train.yaml", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


def _module(cfg, variant: str):
    cfg = cfg.copy()
    cfg.model.execution.memory_format = "channels_last" if variant == "channels_last" else "contiguous"
    cfg.model.execution.compile = variant == "compile"
    if variant == "onednn_backward":
        cfg.model.net.tap_backward_max_outputs = 0
    torch.manual_seed(0)
    module = hydra.utils.instantiate(cfg.model)
    module.configure_model()  # compile, as the Trainer does
    return module.train()


def _stepper(module, variant: str) -> Callable[[dict], None]:
    """One training step (forward, loss, backward, Adam) on a batch; bf16: the forward under CPU autocast."""
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=1e-4)
    target = module.task.target

    def step(batch: dict) -> None:
        context = torch.autocast("cpu", dtype=torch.bfloat16) if variant == "bf16" else contextlib.nullcontext()
        with context:
            logits = module.logits(batch)
        loss = module.loss(logits.float(), batch[target])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def _epochs(loader) -> Iterator[dict]:
    """The loader's batches, epoch after epoch (a small training split has few batches per epoch)."""
    return itertools.chain.from_iterable(itertools.repeat(loader))


def _frames(batch: dict) -> int:
    clips = batch[FEATURES] if FEATURES in batch else batch["video"]
    return int(clips.shape[0] * clips.shape[1])


def _timed(batches: Iterator[dict], work: Callable[[dict], None], count: int, warm_up: bool = True) -> float:
    """Frames/s of ``work`` over ``count`` batches (after one warm-up batch when ``warm_up``)."""
    if warm_up:
        work(next(batches))
    frames, begin = 0, time.perf_counter()
    for batch in itertools.islice(batches, count):
        work(batch)
        frames += _frames(batch)
    return frames / (time.perf_counter() - begin)


def _bound_and_loop(step: Callable[[dict], None], loader, steps: int) -> tuple[float, float]:
    """Frames/s of ``step`` on one batch already in memory (the model-only bound; after one warm-up step) and on
    the loader's batches (the training loop), ``steps`` steps each."""
    bound = _timed(itertools.repeat(next(iter(loader))), step, steps)
    return bound, _timed(_epochs(loader), step, steps, warm_up=False)  # warmed up above


def _interleaved(step: Callable[[dict], None], loader, steps: int) -> tuple[float, float]:
    """:func:`_bound_and_loop` with the two alternating, step by step (both under the same load): ``steps`` steps on
    one batch in memory and ``steps`` loop steps (the loader's next batch, then the step), timed apart."""
    batches = _epochs(loader)
    fixed = next(batches)
    step(fixed)  # warm-up
    bound_s = loop_s = 0.0
    bound_frames = loop_frames = 0
    for _ in range(steps):
        start = time.perf_counter()
        step(fixed)
        bound_s += time.perf_counter() - start
        bound_frames += _frames(fixed)
        start = time.perf_counter()
        batch = next(batches)
        step(batch)
        loop_s += time.perf_counter() - start
        loop_frames += _frames(batch)
    return bound_frames / bound_s, loop_frames / loop_s


def _rows(model: str, setting: str, cfg, sizes: dict) -> list[tuple]:
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    inputs = cfg.model.inputs
    shape = f"{inputs.num_frames} frames of {inputs.frame_size}, batch {inputs.batch_size}"
    label = f"{model} {setting} ({shape})"
    loader_fps = _timed(_epochs(loader), lambda batch: None, sizes["loader_batches"])
    rows = [(f"{label}: loader ({datamodule.num_workers} workers)", loader_fps, "", "")]
    print(rows[-1], flush=True)
    speeds = {}
    for variant in sizes["variants"] if setting == "quickstart" else sizes["seed_variants"]:
        if variant == "onednn_backward" and "tap_backward_max_outputs" not in cfg.model.net:
            continue  # a net without 3D convolutions
        bound, loop = _bound_and_loop(_stepper(_module(cfg, variant), variant), loader, sizes["steps"])
        speeds[variant] = loop
        rows.append(
            (
                f"{label}: {variant}",
                loop,
                f"{loop / speeds['fp32']:.2f}x fp32",
                f"model-only bound {bound:.1f} frames/s; loop at {loop / bound:.0%} of it",
            )
        )
        print(rows[-1], flush=True)
    fastest = max(speeds, key=speeds.get)
    rows.append(
        (
            f"{label}: loader vs the fastest loop on pixels ({fastest})",
            None,
            f"{loader_fps / speeds[fastest]:.1f}x what it consumes (target >= 1.5x)",
            "",
        )
    )
    if setting == "seed":
        module = _module(cfg, "fp32")
        if getattr(module.net, "feature_identity", lambda: None)() is not None:
            rows += _cached_rows(module, cfg, datamodule, label, speeds["fp32"], sizes)
    return rows


def _cached_rows(module, cfg, datamodule, label: str, pixels_fps: float, sizes: dict) -> list[tuple]:
    """The ``cached`` variant (module docstring): extraction vs the backbone's bound, the cached loader, the loop."""
    net = module.net.eval()
    batch_frames = int(cfg.model.feature_cache.batch_frames)

    @torch.no_grad()
    def encode(frames: torch.Tensor) -> torch.Tensor:
        return net.forward_features(frames[None])[0]

    size = datamodule.frame_size
    fixed = torch.randn(batch_frames, 3, *size)
    encode(fixed)  # warm-up
    begin = time.perf_counter()
    for _ in range(sizes["bound_calls"]):
        encode(fixed)
    bound = sizes["bound_calls"] * batch_frames / (time.perf_counter() - begin)
    augmented = not getattr(datamodule.augment, "is_identity", True)
    with tempfile.TemporaryDirectory() as folder:
        begin = time.perf_counter()
        cache = datamodule.use_feature_cache(
            folder, net.feature_identity(), encode, views=int(augmented), batch_frames=batch_frames
        )
        seconds = time.perf_counter() - begin
        frames = sum(len(entry.frames) * entry.rows for split in datamodule.feature_entries.values() for entry in split)
        extraction = frames / seconds
        rows = [
            (
                f"{label}: cached features, extraction ({datamodule.num_workers} workers"
                f"{', 1 augmented view' if augmented else ''})",
                extraction,
                f"{extraction / bound:.0%} of the backbone's inference bound (target >= 90%)",
                f"bound {bound:.1f} frames/s ({batch_frames} frames per call, no_grad); {frames} frames in "
                f"{seconds:.1f} s; cache {cache.size_bytes() / 2**20:.1f} MB",
            )
        ]
        print(rows[-1], flush=True)
        loader = datamodule.train_dataloader()
        loader_fps = _timed(_epochs(loader), lambda batch: None, sizes["loader_batches"] * 4)
        module.train()
        step = _stepper(module, "fp32")
        cached_fixed = next(iter(loader))
        cached_bound = _timed(itertools.repeat(cached_fixed), step, sizes["steps"] * 20)
        loop = _timed(_epochs(loader), step, sizes["steps"] * 20, warm_up=False)
        rows.append(
            (
                f"{label}: cached features, training",
                loop,
                f"{loop / pixels_fps:.1f}x fp32 on pixels (target >= 20x)",
                f"model-only bound {cached_bound:.1f} frames/s; loop at {loop / cached_bound:.0%} of it; cached "
                f"loader {loader_fps:.0f} frames/s = {loader_fps / loop:.1f}x what the loop consumes",
            )
        )
        print(rows[-1], flush=True)
        datamodule.feature_cache = None  # the folder goes away
    return rows


def zoo_row(model: str, size: str, data: list[str], folder: Path, sizes: dict, quick: bool = False) -> tuple:
    """``model`` at ``size`` (``benchmarks.inference.ZOO_SIZES``, random weights) on the synthetic data:
    fp32 training loop vs its model-only bound (``zoo_steps`` steps each, alternating: :func:`_interleaved`), with
    the parameters and the load."""
    load_before = os.getloadavg()[0]
    cfg = _compose(zoo_overrides(model, size, folder, quick) + data)
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("fit")
    module = _module(cfg, "fp32")
    bound, loop = _interleaved(_stepper(module, "fp32"), datamodule.train_dataloader(), sizes["zoo_steps"])
    inputs = cfg.model.inputs
    row = (
        f"zoo {model} {size} ({inputs.num_frames} frames of {inputs.frame_size}, batch {inputs.batch_size}): fp32",
        loop,
        f"loop at {loop / bound:.0%} of its model-only bound",
        f"model-only bound {bound:.1f} frames/s; {count_parameters(module.net)[0]:,} params; "
        f"{datamodule.num_workers} loader workers; load {load_before:.1f}-{os.getloadavg()[0]:.1f}",
    )
    print(row, flush=True)
    return row


def run(
    quick: bool = False,
    threads: int = 2,
    seed_variants: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    settings: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
    zoo: Sequence[str] = (),
    size: str = "small",
    seed_rows: bool = True,
    zoo_steps: int | None = None,
) -> list[tuple]:
    """Every row (module docstring); prints them as they come and the table at the end. ``seed_variants``: the
    variants measured at the seed settings (default: all of :data:`VARIANTS`; on a CPU without fast bf16 a bf16
    step at 224x224 takes minutes, and compiling the seed nets takes minutes too); ``variants``: those measured at
    the quickstart settings (default: all; ``fp32`` always comes first, the ratios' base). ``models`` /
    ``settings``: a subset of ``("bilstm", "resnet3d101")`` / ``("quickstart", "seed")`` (default: both);
    ``seed_rows``: these rows at all. ``zoo``: registered models measured one row each at ``size``
    (``benchmarks.inference.ZOO_SIZES``; :func:`zoo_row`), ``zoo_steps`` steps each (default 3, quick 1)."""
    sizes = {**(QUICK if quick else FULL)}
    sizes["zoo_steps"] = zoo_steps or sizes["zoo_steps"]
    sizes["seed_variants"] = tuple(seed_variants or sizes["variants"])
    if variants:
        sizes["variants"] = ("fp32", *(v for v in variants if v != "fp32"))
    sizes["models"] = tuple(models or sizes["models"])
    sizes["settings"] = tuple(settings or sizes["settings"])
    torch.set_num_threads(threads)
    rows: list[tuple] = []
    with tempfile.TemporaryDirectory() as tmp:
        synthetic = {**SYNTHETIC, "num_crash": sizes["videos"], "num_normal": sizes["videos"]}
        if quick:
            synthetic.update(width=48, height=32, crash_seconds=[2, 2], normal_seconds=[2, 2])
        ensure_synthetic(Path(tmp) / "synthetic", seed=0, **synthetic)
        data = [
            f"data.synthetic.root={Path(tmp) / 'synthetic'}",
            "data.synthetic.seed=0",
            "data.split.val_fraction=0.3",
            *[f"++data.synthetic.{key}={value}".replace(" ", "") for key, value in synthetic.items()],
        ]
        for model in sizes["models"] if seed_rows else ():
            for setting in sizes["settings"]:
                model_overrides = seed_overrides(model) if setting == "seed" else [f"model={model}"]
                cfg = _compose(model_overrides + data + sizes["extra"].get(model, []))
                rows += _rows(model, setting, cfg, sizes)
        rows += [zoo_row(model, size, data, Path(tmp) / "zoo", sizes, quick) for model in zoo]
    print(f"\nSUMMARY ({threads} threads; frames/s = training clips/s x frames per clip; measured in this run)")
    print("\n| measurement | frames/s | result | notes |\n|---|---:|---|---|")
    for name, fps, result, notes in rows:
        print(f"| {name} | {'' if fps is None else f'{fps:.1f}'} | {result} | {notes} |")
    return rows
