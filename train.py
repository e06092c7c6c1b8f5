"""Train (and optionally test) one model on one data set.

python train.py model=bilstm                      # the main job, on built-in synthetic data
python train.py model=resnet3d101 data=dota_bdd data.dota_root=/data/DoTA data.bdd_root=/data/bdd100k
python train.py -m model=bilstm,resnet3d101 seed=1,2
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))
os.environ.setdefault("WANDB_SILENT", "true")

import hydra  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

# only light modules here: `python train.py --help` must not wait for Lightning and torch (imported in the functions)
from riskvision.utils.overrides import ConfigError, check_renamed_overrides  # noqa: E402
from riskvision.utils.pylogger import get_logger  # noqa: E402
from riskvision.utils.run_folder import exits_on_user_error, resumes_run  # noqa: E402

if TYPE_CHECKING:
    import lightning as L

log = get_logger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit the model on the data, then (``test=true``) evaluate the best checkpoint on the test split.

    Returns the metrics Lightning collected (``val/...`` of the last epoch, ``test/...`` if tested).
    """
    import lightning as L
    import torch

    from riskvision.checkpoints.writing import RunConfigInCheckpoint
    from riskvision.models import load_weights, model_summary
    from riskvision.runs import claim_run_folder
    from riskvision.utils import (
        check_clip_length,
        check_data_roots,
        data_model_file,
        instantiate_callbacks,
        instantiate_loggers,
        log_hyperparameters,
        metrics_table,
        resume_path,
        validate_config,
    )
    from riskvision.utils.weights import resolve_pretrained

    validate_config(cfg)
    check_data_roots(cfg.data)  # a wrong data root fails here, in seconds, and the run's folder is removed
    folder = cfg.paths.output_dir
    run = claim_run_folder(folder, str(cfg.task_name), resumes_run(cfg.get("ckpt_path"), folder))
    log.info(f"Run {run.run_id} owns {run.path}{' (resumed)' if run.resumed else ''}")
    log.info(f"Data x model settings: {data_model_file()}")
    if cfg.get("small_machine"):
        log.warning(f"SMALL-MACHINE SETTINGS IN EFFECT: {cfg.small_machine}")
    L.seed_everything(cfg.seed, workers=True)
    # the same command, seed and thread count give the same metrics; another thread count sums in another order
    log.info(f"Seed {cfg.seed}; torch intra-op threads {torch.get_num_threads()} (README: Reproducibility)")

    weights = resolve_pretrained(cfg)  # before anything is built: sets model.inputs.normalization and .pretrained
    inputs = cfg.model.inputs
    log.info(f"Instantiating model <{cfg.model.net._target_}> in <{cfg.model._target_}>")
    model: L.LightningModule = hydra.utils.instantiate(cfg.model)
    check_clip_length(model.net, inputs.num_frames)
    if weights is not None:
        log.info(load_weights(model.net, weights).summary())
    log.info(f"Input normalisation preset: {inputs.normalization}")
    log.info(model_summary(model.net, [1, inputs.num_frames, 3, inputs.frame_size, inputs.frame_size]))

    log.info(f"Instantiating datamodule <{cfg.data._target_}>")
    datamodule: L.LightningDataModule = hydra.utils.instantiate(cfg.data)
    callbacks = instantiate_callbacks(cfg.get("callbacks"))
    callbacks.append(RunConfigInCheckpoint(OmegaConf.to_container(cfg, resolve=True), run.run_id))
    loggers = instantiate_loggers(cfg.get("logger"))
    log.info(f"Instantiating trainer <{cfg.trainer._target_}>")
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    log_hyperparameters(
        cfg,
        model,
        trainer,
        extra={
            "pretrained": cfg.model.pretrained.source if weights is not None else "none",
            "synthetic_data": bool(datamodule.is_synthetic),
        },
    )

    if cfg.get("train"):
        log.info("Starting training")
        trainer.fit(model=model, datamodule=datamodule, ckpt_path=resume_path(cfg), weights_only=True)
    metrics = {key: float(value) for key, value in trainer.callback_metrics.items()}
    # the best checkpoint by model.monitor (LastCheckpoint, a checkpoint callback too, monitors nothing)
    best = next((callback for callback in trainer.checkpoint_callbacks if getattr(callback, "monitor", None)), None)

    if cfg.get("test"):
        ckpt_path = (best.best_model_path if best else None) if cfg.get("train") else cfg.get("ckpt_path")
        if not ckpt_path:
            log.warning("No best checkpoint (fast_dev_run or no validation): testing the current weights")
            ckpt_path = None
        log.info(f"Testing checkpoint {ckpt_path}")
        trainer.test(model=model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True, verbose=False)
        metrics.update({key: float(value) for key, value in trainer.callback_metrics.items()})
        if cfg.get("evaluation") and trainer.is_global_zero:
            write_predictions(cfg, model, datamodule, ckpt_path)
        title = (
            f"Test metrics of {ckpt_path or 'the current weights'} (test split, one value per test clip; "
            "a binary model's threshold tuned on validation):"
        )
        log.info(metrics_table(metrics, title, ("test/",)))
    if best is not None and best.best_model_path:
        log.info(f"Best checkpoint ({best.monitor}={float(best.best_model_score):.4f}): {best.best_model_path}")
    return metrics


def write_predictions(
    cfg: DictConfig, model: L.LightningModule, datamodule: L.LightningDataModule, ckpt_path: str | None
) -> None:
    """Hook after testing: the tested weights' per-window ``predictions.csv`` and ``metrics.json`` in the run
    folder (``riskvision.evaluation``, the same as ``scripts/eval.py ckpt_path=BEST``), and the alarm operating point
    chosen on validation written into the best checkpoint; ``evaluation=none`` skips it."""
    from riskvision.checkpoints.loading import net_name
    from riskvision.evaluation.runner import TRAINING_DATA, evaluate_module
    from riskvision.runs import claim_run_folder

    settings = hydra.utils.instantiate(cfg.evaluation)
    name = net_name(OmegaConf.to_container(cfg.model, resolve=True))
    extra = {
        "checkpoint": ckpt_path,
        "trained_run": claim_run_folder(cfg.paths.output_dir, "train").run_id,
        "synthetic": bool(datamodule.is_synthetic),
        "data": TRAINING_DATA,
    }
    # the alarm operating point, chosen on validation, goes into the best checkpoint this run wrote
    store_in = [ckpt_path] if cfg.get("train") and ckpt_path else []
    evaluate_module(model, datamodule, cfg.paths.output_dir, settings, name, extra, store_in=store_in)


def metric_value(metrics: dict[str, float], name: str | None) -> float | None:
    """The value a sweep optimises; a clear error if the run did not log it."""
    if not name:
        return None
    if name not in metrics:
        raise KeyError(f"optimized_metric={name!r} was not logged; logged metrics: {sorted(metrics)}")
    return metrics[name]


@hydra.main(version_base="1.3", config_path="conf", config_name="train.yaml")
@exits_on_user_error
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point: print the config, train, close the loggers, return the optimised metric."""
    from riskvision.utils import close_loggers, config_summary, write_config
    from riskvision.utils.config_summary import CONFIG_FILE
    from riskvision.utils.quiet import quiet_known_messages

    quiet_known_messages()
    if cfg.extras.get("ignore_warnings"):
        warnings.filterwarnings("ignore")
    config_file = Path(cfg.paths.output_dir) / CONFIG_FILE
    write_config(cfg, config_file)
    if cfg.extras.get("print_config"):
        log.info(config_summary(cfg, config_file))
    try:
        metrics = train(cfg)
    finally:
        close_loggers()
    return metric_value(metrics, cfg.get("optimized_metric"))


if __name__ == "__main__":
    try:
        check_renamed_overrides(sys.argv[1:])
    except ConfigError as error:
        sys.exit(f"Error: {error}")
    main()
