"""Evaluate a trained RiskModule on a datamodule split: predictions table, cost and ``metrics.json``.

Shared by ``scripts/eval.py`` (:func:`evaluate_checkpoint`) and ``train.py test=true`` (its ``evaluation``
config group, :func:`evaluate_module`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from riskvision.alarm import AlarmPolicy, OperatingPoint
from riskvision.checkpoints.loading import CONFIG_KEY, RUN_ID_KEY, load_checkpoint, net_name
from riskvision.checkpoints.trust import check_stored_files
from riskvision.checkpoints.writing import store_operating_point
from riskvision.data.datasets import check_data_settings
from riskvision.data.sampling import WindowSampler
from riskvision.evaluation.deployment import choose_operating_point
from riskvision.evaluation.predict import (
    measure_cost,
    predict_table,
    predict_table_per_frame,
    run_info,
    write_evaluation,
)
from riskvision.evaluation.summary import headline
from riskvision.evaluation.views import Views, check_views, predict_views
from riskvision.inference.predictor import Predictor
from riskvision.metrics.catalog import TRAINING_DATA
from riskvision.models import FrameFeatureNet
from riskvision.progress import ProgressLine
from riskvision.runs import claim_run_folder

__all__ = ["TRAINING_DATA", "EvalSettings", "evaluate_checkpoint", "evaluate_module", "run_config", "scoring_loader"]

log = logging.getLogger(__name__)
SCORINGS = ("sliding", "clips")
SETUP_STAGE = {"train": "fit", "val": "validate", "test": "test"}


@dataclass
class EvalSettings:
    """What to score and how.

    Args:
        split: ``train`` / ``val`` / ``test``.
        scoring: ``sliding`` = a window of the model's ``num_frames`` ending at every ``step``-th frame
            of every video (per-frame scores, what the anticipation metrics need); ``clips`` = the
            datamodule's own evaluation clips (what training's ``test/*`` metrics were computed on).
        step: frame step of ``sliding``.
        per_frame: ``sliding`` with a per-frame net (``FrameFeatureNet``, the bilstm): read each video once and run
            the backbone once per frame (``predict_table_per_frame``); ``False``: the whole net on every window. A
            ``per_frame`` task (``model=causal_gru``) is always scored from ONE causal pass per video (every frame's
            score from the frames up to it, no windows).
        probes: ``none`` plus any shortcut probes (``shuffled``, ``repeated``).
        seed: seed of the probe transforms and the bootstrap.
        n_boot: bootstrap resamples for the confidence intervals.
        latency_repeats: timed batch-1 CPU forwards (0: skip the latency measurement).
        device: where the windows are scored.
        predictions_file: ``predictions.parquet`` (default) or ``predictions.csv``.
        false_alarm_cap_per_hour: the deployment view's cap: the operating point is the lowest threshold with at
            most this many false alarms per hour of normal driving (``riskvision.evaluation.deployment``).
        alarm: the deployed alarm policy the deployment view replays (``riskvision.alarm.AlarmPolicy``; ``None``:
            its defaults).
        operating_point_split: the split the operating point is chosen on (``val``; ``None``: only a stored one).
            Scored like ``split`` (sliding, same step, views, real input only) before it.
        views: multi-view testing, ``"TEMPORALxSPATIAL"`` (``riskvision.evaluation.views``): ``1x1`` (default) scores
            each clip once, as always; ``1x3``: three crops along the long side of each frame; ``3x1`` (``clips``
            scoring of the uniform sampler): three interleaved clips; class probabilities averaged over the views.
            Each view costs what one ``1x1`` scoring costs (per-frame reuse included).
    """

    split: str = "test"
    scoring: str = "sliding"
    step: int = 1
    per_frame: bool = True
    probes: Sequence[str] = ("none", "shuffled", "repeated")
    seed: int = 0
    n_boot: int = 1000
    latency_repeats: int = 3
    device: str = "cpu"
    predictions_file: str = "predictions.parquet"
    false_alarm_cap_per_hour: float = 1.0
    alarm: AlarmPolicy | None = None
    operating_point_split: str | None = "val"
    views: str = "1x1"


def scoring_loader(datamodule: Any, settings: EvalSettings, num_frames: int, per_frame: bool = False) -> DataLoader:
    """The DataLoader ``settings`` asks for (after ``datamodule.setup``); ``per_frame`` (sliding scoring of a
    per-frame net): one item per video (``video_scoring_dataloader``) instead of one per window."""
    if settings.scoring not in SCORINGS:
        raise ValueError(f"scoring={settings.scoring!r}; choose one of {list(SCORINGS)}")
    if settings.split not in SETUP_STAGE:
        raise ValueError(f"split={settings.split!r}; choose one of {list(SETUP_STAGE)}")
    datamodule.setup(SETUP_STAGE[settings.split])
    if settings.scoring == "sliding":
        scoring = datamodule.video_scoring_dataloader if per_frame else datamodule.scoring_dataloader
        return scoring(settings.split, num_frames, settings.step)
    if settings.split == "train":
        raise ValueError("scoring=clips exists for val and test only (training clips are random draws)")
    return datamodule.val_dataloader() if settings.split == "val" else datamodule.test_dataloader()


def score_split(module: Any, datamodule: Any, settings: EvalSettings, name: str) -> pd.DataFrame:
    """The predictions table of ``settings.split`` scored by ``module`` as ``settings`` asks (:class:`EvalSettings`)."""
    inputs = module.hparams["inputs"]
    num_frames, size = int(inputs["num_frames"]), inputs["frame_size"]
    height, width = (size, size) if isinstance(size, int) else size
    every_frame = settings.scoring == "sliding" and module.task.per_frame  # one causal pass per video
    per_frame = every_frame or (
        settings.scoring == "sliding" and settings.per_frame and isinstance(module.net, FrameFeatureNet)
    )
    views = Views.parse(settings.views)
    if not views.single:
        return score_views(module, datamodule, settings, views, per_frame, every_frame, name)
    # one pass needs every frame from 0 read: windows at least ``step`` long cover them
    loader = scoring_loader(
        datamodule, settings, max(num_frames, settings.step) if every_frame else num_frames, per_frame
    )
    how = ", one causal pass per video" if every_frame else ", backbone once per frame" if per_frame else ""
    log.info(f"Scoring {settings.split} ({settings.scoring}{how}, probes {list(settings.probes)}) with {name}")
    progress = ProgressLine(
        f"scoring {settings.split} {'videos' if per_frame else 'windows'}",
        len(loader.dataset),
        "videos" if per_frame else "windows",
    )
    if per_frame:
        table = predict_table_per_frame(
            module.net,
            loader,
            module.task,
            datamodule.normalizer,
            settings.probes,
            settings.seed,
            settings.device,
            datamodule.eval_batch_size,
            progress=progress,
            every_frame=every_frame,
        )
    else:
        table = predict_table(module, loader, module.task, settings.probes, settings.seed, settings.device, progress)
    progress.close()
    return table


def score_views(
    module: Any, datamodule: Any, settings: EvalSettings, views: Views, per_frame: bool, every_frame: bool, name: str
) -> pd.DataFrame:
    """:func:`score_split` with ``settings.views`` other than ``1x1`` (``riskvision.evaluation.views``): the same
    windows (``per_frame``: each crop of a video read once; ``every_frame``: one causal pass per video and crop)."""
    num_frames = int(module.hparams["inputs"]["num_frames"])
    window = max(num_frames, settings.step) if every_frame else num_frames
    scoring_loader(datamodule, settings, window, per_frame)  # checks the settings and sets the datamodule up
    sliding = settings.scoring == "sliding"
    sampler = WindowSampler(window, eval_step=settings.step) if sliding else datamodule.sampler
    check_views(views, settings.scoring, sampler)
    how = ", one causal pass per video" if every_frame else ", backbone once per frame" if per_frame else ""
    log.info(
        f"Scoring {settings.split} ({settings.scoring}{how}, {views} views: {views.temporal} temporal x "
        f"{views.spatial} spatial, probabilities averaged, probes {list(settings.probes)}) with {name}"
    )
    return predict_views(module, datamodule, settings, sampler, views, per_frame, every_frame)


def operating_point(
    module: Any, datamodule: Any, settings: EvalSettings, name: str, stored: OperatingPoint | None = None
) -> OperatingPoint | None:
    """The operating point the test metrics are reported at: ``stored`` (the checkpoint's) when it was chosen under
    ``settings.alarm`` at ``settings.false_alarm_cap_per_hour``, else chosen now on ``settings.operating_point_split``
    (scored with sliding windows at ``settings.step``, real input only); ``None`` when neither applies."""
    policy = settings.alarm or AlarmPolicy()
    cap = settings.false_alarm_cap_per_hour
    if stored is not None and stored.policy == policy and stored.cap_per_hour == cap:
        log.info(f"Alarm: the checkpoint's {stored.describe()}")
        return stored
    split = settings.operating_point_split
    if split is None or settings.scoring != "sliding" or split == settings.split:
        return None  # the evaluated split itself: evaluate_module chooses on its table (scored once)
    if stored is not None:
        log.info(
            f"The checkpoint's operating point was chosen under {stored.policy} at {stored.cap_per_hour:g}/h; "
            f"choosing one again on {split} under {policy} at {cap:g}/h"
        )
    table = score_split(module, datamodule, dataclasses.replace(settings, split=split, probes=("none",)), name)
    return choose_operating_point(table, policy, cap, split, settings.step)


def evaluate_module(
    module: Any,
    datamodule: Any,
    out_dir: str | Path,
    settings: EvalSettings,
    name: str,
    extra: dict[str, Any] | None = None,
    stored: OperatingPoint | None = None,
    store_in: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Score ``settings.split`` with ``module`` (a RiskModule), measure its cost, write
    ``out_dir/<settings.predictions_file>`` and ``out_dir/metrics.json``; returns the metrics.
    ``out_dir`` is claimed for this process (``riskvision.runs.claim_run_folder``; already claimed by train.py /
    eval.py) and both files carry its run id. The deployment view replays ``settings.alarm`` at the
    :func:`operating_point` (``stored``: the checkpoint's), which is written into the checkpoints ``store_in`` when
    it was chosen now."""
    point = operating_point(module, datamodule, settings, name, stored)
    table = score_split(module, datamodule, settings, name)
    if point is None and settings.split == settings.operating_point_split and settings.scoring == "sliding":
        point = choose_operating_point(
            table, settings.alarm or AlarmPolicy(), settings.false_alarm_cap_per_hour, settings.split, settings.step
        )
    if point is not None and point is not stored:
        for path in store_in:
            store_operating_point(path, point.to_dict())
            log.info(f"Stored the operating point in {path}")
    inputs = module.hparams["inputs"]
    num_frames, size = int(inputs["num_frames"]), inputs["frame_size"]
    height, width = (size, size) if isinstance(size, int) else size
    cost = measure_cost(module.net, [1, num_frames, 3, height, width], settings.latency_repeats)
    info = {
        "split": settings.split,
        "scoring": settings.scoring,
        "step": settings.step,
        "views": Views.parse(settings.views).to_dict(),
        "cost": cost,
        **(extra or {}),
    }
    run = dataclasses.replace(
        run_info(module, name, info, claim_run_folder(out_dir, "eval").run_id),
        alarm=point.policy if point is not None else settings.alarm,
        operating_point=point,
    )
    metrics = write_evaluation(
        table,
        run,
        out_dir,
        settings.n_boot,
        settings.predictions_file,
        settings.seed,
        settings.false_alarm_cap_per_hour,
    )
    log.info(f"Wrote {Path(out_dir) / settings.predictions_file} ({len(table)} rows) and metrics.json")
    log.info(headline(metrics))
    return metrics


def run_config(stored: Mapping[str, Any], overrides: DictConfig, data_group: str | None) -> DictConfig:
    """A checkpoint's stored run config with the command line's over it: this machine's ``paths`` replace the
    stored ones; a chosen ``data=`` group (``data_group``) replaces the stored data config (its interpolations
    resolve against the stored model and this machine's paths); loose ``+data.*`` / ``+model.*`` keys are merged
    over the stored values."""
    run = OmegaConf.create(dict(stored))
    for key in ("data", "model", "paths"):
        if overrides.get(key) is None:
            continue
        override = OmegaConf.to_container(overrides[key], resolve=False)
        replace = key == "paths" or (key == "data" and not stored_data(data_group))
        run[key] = override if replace else OmegaConf.merge(run[key], override)
    return run


def stored_data(data_group: str | None) -> bool:
    """Whether :func:`run_config`'s data config is (built over) the checkpoint's stored one."""
    return data_group in (None, "null")


def evaluate_checkpoint(
    ckpt_path: str | Path,
    overrides: DictConfig,
    data_group: str | None,
    settings: EvalSettings,
    out_dir: str | Path,
    name: str | None = None,
    trusted_targets: Sequence[str] = (),
    store: bool = False,
) -> dict[str, Any]:
    """Rebuild module and datamodule from the checkpoint's run config (with :func:`run_config`'s command-line
    changes), load the weights (``Predictor``) and evaluate; ``name`` defaults to the net's name
    (``riskvision.checkpoints.loading.net_name``). The stored config is checked first (``load_checkpoint``: only trusted
    targets, plus ``trusted_targets``). The deployment view uses the checkpoint's operating point (or chooses one on
    validation, :func:`operating_point`); ``store``: write a newly chosen one into ``ckpt_path``."""
    checkpoint = load_checkpoint(ckpt_path, trusted_targets)
    if stored_data(data_group):  # a file the stored config names is opened only when the user names it too
        given = overrides.get("data")
        check_stored_files(
            checkpoint[CONFIG_KEY].get("data") or {},
            None if given is None else OmegaConf.to_container(given, resolve=False),
            f"{ckpt_path}: stored run config",
        )
    run = run_config(checkpoint[CONFIG_KEY], overrides, data_group)
    predictor = Predictor.from_run(checkpoint, run, str(ckpt_path))
    if settings.scoring == "sliding" and predictor.span_mismatch():  # it changes what the sliding scores mean
        log.warning(predictor.span_mismatch())
    check_data_settings(run.data)
    datamodule = hydra.utils.instantiate(run.data)
    own_data = stored_data(data_group)  # False: cross-dataset, another data= group
    if own_data:  # the checkpoint's paths may be read, never written (riskvision.checkpoints.trust)
        datamodule.forbid_writes()
    name = name or net_name(OmegaConf.to_container(run.model, resolve=True)) + ("" if own_data else f" on {data_group}")
    extra = {
        "checkpoint": str(Path(ckpt_path).resolve()),
        "trained_run": checkpoint.get(RUN_ID_KEY),
        "synthetic": bool(datamodule.is_synthetic),
        "data": TRAINING_DATA if own_data else f"data={data_group}",
    }
    store_in = [ckpt_path] if store and own_data else []
    if store and not own_data:
        log.warning(f"store_operating_point=true: not stored, {data_group} is not the data {ckpt_path} was trained on")
    return evaluate_module(
        predictor.module, datamodule, out_dir, settings, name, extra, predictor.operating_point, store_in
    )
