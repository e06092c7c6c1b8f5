"""The model registry (issue 26, item 1): one name per model, one head-width argument set by the task, the checkpoint
allow-list derived from it, old checkpoints' width key translated, and adding a model is one file + one yaml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lightning
import pytest
import torch
import yaml

from riskvision.checkpoints.loading import CONFIG_KEY, load_checkpoint
from riskvision.checkpoints.trust import UntrustedConfigError, check_stored_config
from riskvision.inference import Predictor
from riskvision.models import (
    ClipNet,
    ResNet3D,
    ResNetBiLSTM,
    UnknownModelError,
    create_model,
    list_models,
    model_targets,
    net_class,
    register_model,
    registry,
    upgrade_net_config,
)
from riskvision.module import RiskModule
from tests.checkpoint_fakes import R3D101, make_checkpoint

ROOT = Path(__file__).resolve().parents[2]
TOY = ROOT / "tests" / "fixtures" / "toy_model"
ADAM = {"_target_": "torch.optim.Adam", "_partial_": True}
BINARY = {"_target_": "riskvision.tasks.BinaryCrash"}
RISK = {"_target_": "riskvision.tasks.RiskLevels"}


def test_the_seed_families_are_registered_under_their_names():
    assert {
        "bilstm",
        "resnet3d10",
        "resnet3d18",
        "resnet3d34",
        "resnet3d50",
        "resnet3d101",
        "resnet3d152",
        "resnet3d200",
    } <= set(list_models())
    assert list_models() == sorted(list_models())


@pytest.mark.parametrize(
    ("name", "kwargs", "cls", "fc"),
    [
        ("bilstm", {"hidden_size": 8}, ResNetBiLSTM, "head"),
        ("resnet3d18", {"widen_factor": 0.125}, ResNet3D, "fc"),
    ],
)
def test_create_model_builds_the_family_net_at_the_asked_width(name, kwargs, cls, fc):
    torch.manual_seed(0)
    net = create_model(name, num_outputs=5, **kwargs)
    assert type(net) is cls and isinstance(net, ClipNet) and getattr(net, fc).out_features == 5
    torch.manual_seed(0)
    direct = cls(num_outputs=5, **kwargs) if cls is ResNetBiLSTM else ResNet3D(depth=18, num_outputs=5, **kwargs)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), direct.state_dict().values()))


def test_create_model_loads_pretrained_weights_from_a_file(tmp_path):
    source = create_model("resnet3d10", num_outputs=3, widen_factor=0.125)
    torch.save(source.state_dict(), tmp_path / "w.pth")
    net = create_model("resnet3d10", num_outputs=3, widen_factor=0.125, pretrained=tmp_path / "w.pth")
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), source.state_dict().values()))


def test_a_misspelt_name_lists_the_registered_models():
    with pytest.raises(
        UnknownModelError,
        match=r"model 'resnet3d11' is not registered. Did you mean 'resnet3d101'\? "
        r"Registered models: bilstm, .*resnet3d18",
    ):
        create_model("resnet3d11", num_outputs=1)


def test_a_name_is_registered_once_and_a_builder_says_what_it_builds():
    with pytest.raises(ValueError, match="model name 'resnet3d18' is already registered by riskvision.models"):

        @register_model("resnet3d18")
        def other(*, num_outputs: int) -> ResNet3D:
            return ResNet3D(num_outputs=num_outputs)

    with pytest.raises(ValueError, match="does not say which ClipNet it builds"):

        @register_model("unannotated_test_net")
        def unannotated(*, num_outputs: int):
            return ResNet3D(num_outputs=num_outputs)

    assert "unannotated_test_net" not in list_models()


def test_every_registered_model_has_one_yaml_whose_net_is_a_registered_model():
    yamls = {path.stem: yaml.safe_load(path.read_text()) for path in (ROOT / "conf" / "model").glob("*.yaml")}
    assert set(list_models()) <= set(yamls), f"add conf/model/<name>.yaml for {set(list_models()) - set(yamls)}"
    for name, config in yamls.items():
        net = config.get("net", {})
        assert "num_outputs" not in net and "num_classes" not in net, f"{name}.yaml states the head width"
        if "_target_" in net:
            assert net["_target_"] in model_targets() and issubclass(net_class(net["_target_"]), ClipNet), name


def test_the_module_builds_the_net_at_the_task_width():
    net = {"_target_": "riskvision.models.ResNet3D", "depth": 10, "widen_factor": 0.125}
    assert RiskModule(net=net, task=RISK, optimizer=ADAM).net.fc.out_features == 3
    assert RiskModule(net=net, task=BINARY, optimizer=ADAM).net.fc.out_features == 1
    assert RiskModule(net={**net, "num_outputs": 3}, task=RISK, optimizer=ADAM).net.fc.out_features == 3  # agrees


def test_a_width_that_contradicts_the_task_is_refused():
    net = {"_target_": "riskvision.models.ResNet3D", "depth": 10, "widen_factor": 0.125}
    with pytest.raises(
        ValueError,
        match=r"model.net.num_outputs=3 contradicts the task: BinaryCrash needs 1 logits "
        r"per clip. Fix: remove model.net.num_outputs",
    ):
        RiskModule(net={**net, "num_outputs": 3}, task=BINARY, optimizer=ADAM)
    with pytest.raises(
        ValueError,
        match=r"model.net.num_classes=3: the head width is now set by the task .* Fix: "
        r"remove model.net.num_classes",
    ):
        RiskModule(net={**net, "num_classes": 3}, task=RISK, optimizer=ADAM)


def test_upgrade_net_config_renames_the_old_width_key():
    assert upgrade_net_config({"_target_": "x", "num_classes": 3}) == {"_target_": "x", "num_outputs": 3}
    assert upgrade_net_config({"_target_": "x", "num_outputs": 1}) == {"_target_": "x", "num_outputs": 1}
    with pytest.raises(ValueError, match="num_classes=3 and num_outputs=1"):
        upgrade_net_config({"num_classes": 3, "num_outputs": 1})


def _old_checkpoint(tmp_path: Path) -> Path:
    """A resnet3d101 checkpoint as an older riskvision wrote it: ``net.num_classes: 3`` in both stored configs."""
    path = make_checkpoint(tmp_path, R3D101)
    checkpoint = torch.load(path, weights_only=True)
    for net in (checkpoint[CONFIG_KEY]["model"]["net"], checkpoint["hyper_parameters"]["net"]):
        assert "num_classes" not in net and "num_outputs" not in net
        net["num_classes"] = 3
    checkpoint["pytorch-lightning_version"] = lightning.__version__  # what Lightning's own loader reads
    torch.save(checkpoint, path)
    return path


def test_an_old_checkpoint_with_num_classes_still_loads(tmp_path):
    path = _old_checkpoint(tmp_path)
    assert load_checkpoint(path)[CONFIG_KEY]["model"]["net"]["num_outputs"] == 3
    predictor = Predictor.from_checkpoint(path)
    assert predictor.module.net.fc.out_features == 3
    module = RiskModule.load_from_checkpoint(path)
    assert all(torch.equal(a, b) for a, b in zip(module.state_dict().values(), predictor.module.state_dict().values()))


def test_an_old_checkpoint_whose_width_contradicts_its_task_is_refused(tmp_path):
    path = _old_checkpoint(tmp_path)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint[CONFIG_KEY]["model"]["net"]["num_classes"] = 4
    torch.save(checkpoint, path)
    with pytest.raises(Exception, match="model.net.num_outputs=4 contradicts the task: RiskLevels needs 3"):
        Predictor.from_checkpoint(path)  # Hydra's InstantiationException carries the module's message


def test_a_registered_model_is_trusted_and_an_unregistered_one_is_not(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # this test's registration is undone after
    target = f"{TinyTestNet.__module__}.TinyTestNet"
    config = {"model": {"net": {"_target_": target}}}
    with pytest.raises(UntrustedConfigError, match=f"model.net._target_='{target}' is not a class riskvision builds"):
        check_stored_config(config, "stored")
    register_model("tiny_test_net")(TinyTestNet)
    check_stored_config(config, "stored")  # registered: trusted, nothing else to do
    assert create_model("tiny_test_net", num_outputs=2)(torch.zeros(1, 2, 3, 4, 4)).shape == (1, 2)


class TinyTestNet(ClipNet):
    def __init__(self, num_outputs: int) -> None:
        super().__init__()
        self.head = torch.nn.Linear(3, num_outputs)

    def forward(self, video):
        return self.head(video.mean(dim=(1, 3, 4)))


def test_a_model_from_one_py_and_one_yaml_trains(tmp_path):
    """docs/architecture.md, Adding a model: tests/fixtures/toy_model has the file and the yaml, nothing else."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TOY), os.environ.get("PYTHONPATH", "")]), "CI": "true"}
    command = [
        sys.executable,
        "train.py",
        "model=toy_net",
        f"hydra.searchpath=[file://{TOY / 'conf'}]",
        f"paths.data_dir={tmp_path / 'data'}",
        f"hydra.run.dir={tmp_path}",
        "data.loader.num_workers=0",
        "++data.synthetic.num_crash=6",
        "++data.synthetic.num_normal=6",
        "++data.synthetic.width=32",
        "++data.synthetic.height=32",
        "++data.synthetic.crash_seconds=[2,3]",
        "++data.synthetic.normal_seconds=[2,3]",
        "data.split.val_fraction=0.3",
        "debug=fast_dev_run",
        "extras.print_config=false",
    ]
    proc = subprocess.run(
        command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Instantiating model <toy_model.toy_net>" in proc.stdout + proc.stderr
