"""Every config combination composes, passes the pre-run checks and instantiates."""

from __future__ import annotations

import re
from pathlib import Path

import hydra
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from riskvision.module import RiskModule
from riskvision.utils import (
    ConfigError,
    check_clip_length,
    check_renamed_overrides,
    data_model_file,
    instantiate_callbacks,
    instantiate_loggers,
    validate_config,
)

CONF = Path(__file__).resolve().parents[1] / "conf"
MODELS = ["bilstm", "resnet3d101", "resnet3d50", "resnet3d18", "frame_net", "causal_gru"]
DATA = ["synthetic", "dota_bdd", "ccd", "dad", "nexar"]
REAL = ["data.dota_root=/nonexistent/DoTA"]  # composing needs a root; nothing is read here
ROOTS = {
    "dota_bdd": REAL,
    "ccd": ["data.root=/nonexistent/CarCrash"],
    "dad": ["data.root=/nonexistent/DAD"],
    "nexar": ["data.root=/nonexistent/nexar"],
}


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("model", MODELS)
def test_data_x_model_composes_resolves_and_checks(compose_train, model, data):
    cfg = compose_train(f"model={model}", f"data={data}", *ROOTS.get(data, []))
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    validate_config(cfg)
    assert cfg.data.frames.size == cfg.model.inputs.frame_size
    assert cfg.data.sampler == cfg.model.inputs.sampler and cfg.data.target == cfg.model.inputs.target
    assert cfg.trainer.max_epochs == cfg.model.recipe.max_epochs
    assert cfg.callbacks.model_checkpoint.monitor == cfg.model.monitor
    assert (cfg.small_machine is not None) == (data == "synthetic")  # the synthetic specialisation applies
    if data == "dota_bdd":  # the published recipe, untouched
        assert cfg.model.inputs.frame_size == 224


@pytest.mark.parametrize("model", MODELS)
def test_model_instantiates_with_plain_hparams(compose_train, model):
    cfg = compose_train(f"model={model}")
    module = hydra.utils.instantiate(cfg.model)
    assert isinstance(module, RiskModule)
    check_clip_length(module.net, cfg.model.inputs.num_frames)
    assert not OmegaConf.is_config(module.hparams["net"])  # checkpoints stay weights_only-loadable
    trainable = {id(p) for p in module.parameters() if p.requires_grad}
    assert trainable, "nothing to train"


def test_bilstm_seed_recipe(compose_train):
    model = compose_train("model=bilstm", "data=dota_bdd", *REAL).model
    assert (model.inputs.sampler, model.inputs.num_frames, model.inputs.frame_size) == ("uniform", 64, 224)
    assert (model.optimizer._target_, model.optimizer.lr, model.inputs.batch_size) == ("torch.optim.Adam", 1e-4, 8)
    assert model.recipe.max_epochs == 35 and model.monitor == "val/f1"


def test_resnet3d101_seed_recipe(compose_train):
    cfg = compose_train("model=resnet3d101", "data=dota_bdd", *REAL)
    model = cfg.model
    assert (model.inputs.sampler, model.inputs.num_frames, model.inputs.frame_size) == ("window", 10, 224)
    assert (model.net.depth, model.net.shortcut_type) == (101, "B") and "num_outputs" not in model.net  # task's width
    assert (model.optimizer._target_, model.optimizer.lr, model.optimizer.momentum) == ("torch.optim.SGD", 1e-3, 0.9)
    assert model.lr_scheduler.scheduler._target_.endswith("ReduceLROnPlateau") and model.inputs.batch_size == 4
    assert cfg.data.augments[cfg.data.augment].transforms[0]._target_.endswith("MultiScaleCornerCrop")  # Hara's crop


@pytest.mark.parametrize("trainer", ["default", "cpu", "ddp_cpu"])
def test_trainer_instantiates(compose_train, trainer):
    cfg = compose_train(f"trainer={trainer}", "logger=none")
    hydra.utils.instantiate(cfg.trainer, logger=False)


@pytest.mark.parametrize("trainer", ["gpu", "ddp"])
def test_gpu_trainers_compose(compose_train, trainer):
    cfg = compose_train(f"trainer={trainer}")
    assert cfg.trainer.accelerator == "gpu"


@pytest.mark.parametrize(("logger", "count"), [("wandb", 1), ("csv", 1), ("tensorboard", 1), ("none", 0)])
def test_loggers_and_callbacks_instantiate(compose_train, logger, count):
    cfg = compose_train(f"logger={logger}")
    assert len(instantiate_loggers(cfg.get("logger"))) == count
    if logger == "wandb":
        assert cfg.logger.wandb.offline is True  # never touches the network unless asked
        wandb_logger = instantiate_loggers(cfg.get("logger"))[0]
        assert "anonymous" not in wandb_logger._wandb_init  # wandb warns about it on every run
    from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar

    callbacks = instantiate_callbacks(cfg.callbacks)
    assert any(isinstance(c, ModelCheckpoint) for c in callbacks)  # BestCheckpoint: epoch numbers from 1
    assert any(isinstance(c, RichProgressBar) for c in callbacks)  # EpochProgressBar


@pytest.mark.parametrize("debug", ["default", "fast_dev_run", "overfit", "limit"])
def test_debug_configs(compose_train, debug):
    cfg = compose_train(f"debug={debug}")
    assert cfg.trainer.accelerator == "cpu" and cfg.data.loader.num_workers == 0 and not cfg.logger


@pytest.mark.parametrize(
    ("experiment", "model", "data"),
    [
        ("seed_bilstm", "bilstm", "dota_bdd"),
        ("seed_resnet3d101", "resnet3d101", "dota_bdd"),
        ("quickstart", "bilstm", "synthetic"),
    ],
)
def test_experiments_compose(compose_train, experiment, model, data):
    cfg = compose_train(f"experiment={experiment}", *(REAL if data == "dota_bdd" else []))
    choices = cfg.hydra.runtime.choices
    assert (choices.model, choices.data) == (model, data) and cfg.test is True
    validate_config(cfg)
    if experiment == "seed_bilstm":  # the frozen ResNet-18 runs once per frame and view (README, Speed)
        assert cfg.model.feature_cache.enabled and cfg.model.feature_cache.views == 8 and cfg.model.net.freeze == "all"


def test_optuna_search_composes(compose_train):
    cfg = compose_train("hparams_search=optuna", "model=resnet3d101")
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper")
    assert cfg.optimized_metric == "val/f1_macro"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.inputs.target=speed"], "model.inputs.target='speed' is unknown"),
        (["model.inputs.sampler=random"], "model.inputs.sampler='random' is unknown"),
        (["model.inputs.normalization=coco"], "model.inputs.normalization='coco' is unknown"),
        (["model.inputs.augment=blur"], "model.inputs.augment='blur' is unknown"),
        (["model.inputs.target=risk"], "model.task (BinaryCrash) learns 'crash' but model.inputs.target='risk'"),
        (["model.inputs.num_frames=0"], "model.inputs.num_frames=0 must be a positive integer"),
        (["model.feature_cache.enabled=true"], "model.net.freeze='none' trains part of it. Fix: model.net.freeze=all"),
        (["model.feature_cache.views=-1"], "model.feature_cache.views=-1: use 0"),
        (["ckpt_path=/no/such.ckpt"], "ckpt_path='/no/such.ckpt' is not a file"),
        # values checked against the signatures they are passed to (riskvision.utils.config_types)
        (
            ["trainer.max_epochs=abc"],
            "trainer.max_epochs='abc' is not an int or None (the type of "
            "lightning.pytorch.trainer.trainer.Trainer's argument 'max_epochs')",
        ),
        (["model.net.hidden_size=big"], "model.net.hidden_size='big' is not an int"),
        (["model.optimizer.lr=fast"], "model.optimizer.lr='fast' is not a number or a Tensor"),
        (["callbacks.model_checkpoint.save_top_k=x"], "callbacks.model_checkpoint.save_top_k='x' is not an int"),
        (["data.frames.size=big"], "data.frames.size='big' is not an int or a Sequence"),
        (
            ["data=dota_bdd", *REAL, "+data.dota_rooot=/x"],
            "data.dota_rooot is not an argument of riskvision.data.datasets.DotaBddData (it takes: dota_root, ",
        ),
        (
            [
                "data=dota_bdd",
                *REAL,
                "+data/source@data.sources.ccd=ccd",
                "data.sources.ccd.root=/x",
                "+data.sources.ccd.rooot=/x",
            ],
            "data.sources.ccd.rooot is not an argument of riskvision.data.sources.ccd.CcdSource (it takes: root, ",
        ),
    ],
)
def test_impossible_values_are_clear_errors(compose_train, overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_config(compose_train(*overrides))


def test_clip_shorter_than_the_3d_net_minimum_is_an_error(compose_train):
    cfg = compose_train("model=resnet3d18", "model.inputs.num_frames=4")
    module = hydra.utils.instantiate(cfg.model)
    with pytest.raises(ConfigError, match=r"num_frames=4 is shorter .* minimum clip length 9"):
        check_clip_length(module.net, cfg.model.inputs.num_frames)


def test_task_settings_live_under_model_task(compose_train):
    module = hydra.utils.instantiate(compose_train("model=resnet3d18", "model.task.class_weights=[1,2,2]").model)
    assert module.task.class_weights == [1.0, 2.0, 2.0] and module.task.target == "risk"
    assert hydra.utils.instantiate(compose_train("model.task.pos_weight=3.0").model).task.pos_weight == 3.0


@pytest.mark.parametrize(
    ("override", "new"),
    [
        ("model.pos_weight=3.0", "model.task.pos_weight=3.0"),
        ("+model.class_weights=[1,2,2]", "model.task.class_weights=[1,2,2]"),
        ("data/augment=none", "model.inputs.augment=none"),
        ("data.num_workers=0", "data.loader.num_workers=0"),
        ("data.frame_size=64", "data.frames.size=64"),
        ("model.memory_format=channels_last", "model.execution.memory_format=channels_last"),
    ],
)
def test_moved_keys_name_their_new_place(override, new):
    key = override.lstrip("+").split("=")[0]
    with pytest.raises(
        ConfigError, match=re.escape(f"{key} moved to {new.split('=')[0]}: write") + ".*" + re.escape(new)
    ):
        check_renamed_overrides(["model=bilstm", override])
    check_renamed_overrides(["model.task.pos_weight=3.0", "data.dota_root=/x", "model.inputs.augment=none"])


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["model=resnet3d18"], "conf/data_model/synthetic_resnet3d18.yaml"),
        (
            ["data=dota_bdd", "data.dota_root=/x"],
            "none (no conf/data_model/dota_bdd_bilstm.yaml for data=dota_bdd model=bilstm)",
        ),
    ],
)
def test_the_run_log_names_the_data_model_file_applied(overrides, expected):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        HydraConfig().set_config(compose("train.yaml", overrides=overrides, return_hydra_config=True))
        assert data_model_file() == expected


@pytest.mark.parametrize(
    ("data", "override", "key"),
    [
        ("dota_bdd", "data.dota_root", "data.dota_root"),
        ("dota_bdd", "data.bdd_root", "data.bdd_root"),
        ("ccd", "data.root", "data.root (data.sources.ccd.root)"),
        ("dad", "data.root", "data.root (data.sources.dad.root)"),
        ("nexar", "data.root", "data.root (data.sources.nexar.root)"),
    ],
)
def test_a_missing_data_root_is_an_error_before_anything_is_built(compose_train, tmp_path, data, override, key):
    from riskvision.data.layout import DataLayoutError
    from riskvision.utils import check_data_roots

    roots = [f"{item.split('=')[0]}={tmp_path}" for item in ROOTS[data]]  # every root a real folder ...
    check_data_roots(compose_train("model=bilstm", f"data={data}", *roots).data)
    cfg = compose_train("model=bilstm", f"data={data}", *roots, f"{override}={tmp_path / 'nope'}")  # ... but one
    with pytest.raises(DataLayoutError, match=rf"^{re.escape(key)}=.*nope does not exist .* Fix: set "):
        check_data_roots(cfg.data)


def test_the_nexar_winner_recipe_and_the_zoo_sweep(compose_train):
    cfg = compose_train("experiment=nexar_mvit", "data.root=/x")
    model = cfg.model
    assert model.net.arch == "mvit_v2_s" and model.pretrained.source == "torchvision" and model.pretrained.require
    assert (model.inputs.sampler, model.inputs.num_frames, model.inputs.frame_size) == ("window", 16, 224)
    assert cfg.data.frames.target_fps == 7.5 and cfg.data.root == "/x"  # 16 frames at stride 4 of 30 fps
    zoo = compose_train("experiment=zoo")
    from riskvision.models import VIDEO_RECIPES

    swept = zoo.hydra.sweeper.params.model.split(",")
    assert set(VIDEO_RECIPES) | {"bilstm", "resnet3d101"} == set(swept) and zoo.test
