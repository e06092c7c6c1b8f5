"""A checkpoint is a trust boundary: its stored config builds only allow-listed classes, and every checkpoint file
goes through one loader whose errors say what the file holds (issue 11, item 1 and the checkpoint bullet)."""

from __future__ import annotations

import copy
from pathlib import Path

import hydra
import numpy as np
import pytest
import torch
import yaml
from omegaconf import OmegaConf

from riskvision.checkpoints.loading import CONFIG_KEY, load_checkpoint
from riskvision.checkpoints.reading import CheckpointError, UnsafeCheckpointError
from riskvision.checkpoints.trust import OTHER_TARGETS, UntrustedConfigError, trusted_targets
from riskvision.data.layout import DataLayoutError
from riskvision.data.sources.bdd import BddSource
from riskvision.evaluation.runner import EvalSettings, evaluate_checkpoint, run_config
from riskvision.inference import Predictor, predict_videos
from riskvision.module import RiskModule
from riskvision.utils import ConfigError, validate_config
from tests.checkpoint_fakes import BILSTM, R3D101, make_checkpoint, write_video

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory) -> dict:
    """A tiny bilstm checkpoint as train.py writes it, loaded as plain data (forged copies are made from it)."""
    path = make_checkpoint(tmp_path_factory.mktemp("ckpt"), BILSTM)
    return torch.load(path, weights_only=True)


def forge(checkpoint: dict, path: Path, key: str, value: object, section: str = CONFIG_KEY) -> Path:
    """A copy of ``checkpoint`` with ``section``'s dotted ``key`` set to ``value``, saved at ``path``."""
    forged = copy.deepcopy(checkpoint)
    node = forged[section]
    *parents, last = key.split(".")
    for name in parents:
        node = node[name]
    node[last] = value
    torch.save(forged, path)
    return path


def writes_marker(marker: Path) -> dict:
    """A config whose ``_target_`` writes a file when Hydra instantiates it."""
    return {"_target_": "numpy.savetxt", "_args_": [str(marker), [1.0, 2.0]]}


def no_instantiate(*args, **kwargs):
    raise AssertionError("hydra.utils.instantiate was called on an untrusted config")


def test_the_forged_config_would_write_a_file_if_it_were_instantiated(tmp_path):
    """The attack the allow-list stops: without it, Hydra runs the stored target (precondition of the tests below)."""
    hydra.utils.instantiate(writes_marker(tmp_path / "marker.txt"))
    assert (tmp_path / "marker.txt").is_file()


@pytest.mark.parametrize(
    "key", ["model.net", "model.task", "model", "data.synthetic", "data.sources.synthetic", "data.frames", "data"]
)
def test_a_forged_stored_config_builds_nothing_and_writes_nothing(real_checkpoint, tmp_path, monkeypatch, key):
    marker = tmp_path / "marker.txt"
    ckpt = forge(real_checkpoint, tmp_path / "forged.ckpt", key, writes_marker(marker))
    monkeypatch.setattr(hydra.utils, "instantiate", no_instantiate)
    message = rf"forged.ckpt: stored run config: {key}._target_='numpy.savetxt' is not a class riskvision builds"
    with pytest.raises(UntrustedConfigError, match=message):
        Predictor.from_checkpoint(ckpt)
    with pytest.raises(UntrustedConfigError, match=message):  # eval.py
        evaluate_checkpoint(ckpt, OmegaConf.create({}), None, EvalSettings(), tmp_path / "eval")
    with pytest.raises(UntrustedConfigError, match=message):  # predict_video.py
        predict_videos(ckpt, [tmp_path / "no.mp4"], tmp_path / "videos")
    assert not marker.exists() and not (tmp_path / "eval").exists() and not (tmp_path / "videos").exists()


def test_forged_hyperparameters_are_refused_by_load_from_checkpoint(real_checkpoint, tmp_path, monkeypatch):
    marker = tmp_path / "marker.txt"
    ckpt = forge(real_checkpoint, tmp_path / "forged.ckpt", "net", writes_marker(marker), section="hyper_parameters")
    monkeypatch.setattr(hydra.utils, "instantiate", no_instantiate)
    with pytest.raises(UntrustedConfigError, match=r"stored hyperparameters: net._target_='numpy.savetxt'"):
        RiskModule.load_from_checkpoint(ckpt)
    with pytest.raises(UntrustedConfigError, match=r"stored hyperparameters: net._target_='numpy.savetxt'"):
        load_checkpoint(ckpt)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "model.inputs.num_frames",
            "${oc.env:HOME}",
            r"model.inputs.num_frames='\$\{oc.env:HOME\}' is an interpolation",
        ),
        ("model.net._call_", "x", r"model.net._call_ is a special key riskvision does not accept"),
        (
            "model.net.hidden_size",
            torch.zeros(2),
            r"model.net.hidden_size holds a Tensor where a stored config holds plain",
        ),
    ],
)
def test_stored_values_must_be_plain_data(real_checkpoint, tmp_path, key, value, message):
    with pytest.raises(UntrustedConfigError, match=message):
        Predictor.from_checkpoint(forge(real_checkpoint, tmp_path / "forged.ckpt", key, value))


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("data.frames.target_fps", "fast", "a positive number"),
        ("model.inputs.num_frames", -4, "a positive integer"),
        ("data.frames.size", [32], r"a positive integer or a \[height, width\] pair"),
        ("data.frames.normalization", "mine", "one of"),
    ],
)
def test_stored_values_of_the_wrong_type_name_the_key(real_checkpoint, tmp_path, key, value, expected):
    with pytest.raises(CheckpointError, match=rf"forged.ckpt: stored {key}=.* is not {expected}"):
        Predictor.from_checkpoint(forge(real_checkpoint, tmp_path / "forged.ckpt", key, value))


def test_a_target_the_user_names_on_the_command_line_is_trusted(real_checkpoint, tmp_path):
    ckpt = forge(real_checkpoint, tmp_path / "own.ckpt", "model.net._target_", "tests.fakes.OwnNet")
    with pytest.raises(UntrustedConfigError, match=r"trusted_targets=\[tests.fakes.OwnNet\]"):
        load_checkpoint(ckpt)
    assert load_checkpoint(ckpt, trusted_targets=["tests.fakes.OwnNet"])[CONFIG_KEY]["model"]["net"]


def _conf_targets() -> set[str]:
    targets: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("_target_"), str):
                targets.add(node["_target_"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for group in ("model", "data", "data_model", "experiment"):
        for path in (ROOT / "conf" / group).rglob("*.yaml"):
            walk(yaml.safe_load(path.read_text()))
    return targets


def test_every_target_our_model_and_data_configs_name_is_trusted_and_exists():
    targets = _conf_targets()
    assert "riskvision.models.ResNet3D" in targets and "torch.optim.Adam" in targets  # the walk finds them
    trusted = trusted_targets()
    assert targets <= trusted, (
        "register the model (riskvision.models.register_model) or add to "
        f"riskvision.checkpoints.trust.OTHER_TARGETS: {sorted(targets - trusted)}"
    )
    for target in trusted:
        assert callable(hydra.utils.get_object(target)), target


def test_the_trusted_nets_are_the_registered_models_and_nothing_else():
    from riskvision.models import model_targets

    assert {
        "riskvision.models.ResNet3D",
        "riskvision.models.ResNetBiLSTM",
        "riskvision.models.resnet3d101",
        "riskvision.models.resnet3d.resnet3d101",
    } <= model_targets()
    assert not {target for target in OTHER_TARGETS if target.startswith("riskvision.models")}  # no hand-kept nets


# ------------------------------------------------------------------------- checkpoint files: one loader, one message
def _bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    full = folder / "full.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(64)}}, full)
    files = {
        "text": (
            folder / "text.ckpt",
            r"text.ckpt is not a readable PyTorch file: a text file of 43 bytes starting "
            r"'version https://git-lfs",
        ),
        "empty": (folder / "empty.ckpt", r"empty.ckpt is not a readable PyTorch file: it is empty \(0 bytes\)"),
        "truncated": (
            folder / "truncated.ckpt",
            r"truncated.ckpt is not a readable PyTorch file: a zip archive of "
            r"\d+ bytes that is truncated or damaged",
        ),
        "folder": (folder / "folder.ckpt", r"folder.ckpt is a folder, not a checkpoint file"),
        "hara": (
            folder / "hara.pth",
            r"hara.pth is not a checkpoint of riskvision's train.py: it holds Hara's "
            r"pretrained resnet-101 weights .*model.pretrained.source",
        ),
        "state_dict": (
            folder / "weights.pth",
            r"weights.pth is not a checkpoint of riskvision's train.py: it holds a "
            r"bare state dict of 2 tensors",
        ),
        "pickle": (folder / "pickle.ckpt", r"refusing .*pickle.ckpt: it carries pickled code"),
    }
    files["text"][0].write_text("version https://git-lfs.github.com/spec/v1\n")
    files["empty"][0].write_bytes(b"")
    files["truncated"][0].write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    files["folder"][0].mkdir()
    torch.save({"arch": "resnet-101", "state_dict": {"conv1.weight": torch.zeros(1)}}, files["hara"][0])
    torch.save({"fc.weight": torch.zeros(1), "fc.bias": torch.zeros(1)}, files["state_dict"][0])
    torch.save({"state_dict": {}, "cfg": Path("x")}, files["pickle"][0])
    return files


@pytest.mark.parametrize("kind", ["text", "empty", "truncated", "folder", "hara", "state_dict", "pickle"])
def test_bad_checkpoint_files_say_what_they_are_in_eval_predict_and_train(tmp_path, compose_train, kind):
    path, message = _bad_files(tmp_path / "files")[kind]
    with pytest.raises(CheckpointError, match=message):
        evaluate_checkpoint(path, OmegaConf.create({}), None, EvalSettings(), tmp_path / "eval")
    with pytest.raises(CheckpointError, match=message):
        predict_videos(path, [tmp_path / "no.mp4"], tmp_path / "videos")
    if kind != "folder":  # train.py refuses a folder earlier: "is not a file"
        with pytest.raises(ConfigError, match=message):
            validate_config(compose_train(*BILSTM, f"ckpt_path={path}"))
    if kind == "pickle":
        with pytest.raises(UnsafeCheckpointError):
            load_checkpoint(path)


def test_train_refuses_a_checkpoint_of_another_model_before_building_anything(tmp_path, compose_train):
    ckpt = make_checkpoint(tmp_path / "r3d", R3D101)
    with pytest.raises(
        ConfigError,
        match=r"holds a ResNet3D-101 \(RiskLevels\) checkpoint .* but this run builds "
        r"ResNetBiLSTM-resnet18 \(BinaryCrash\): model.net._target_ "
        r"\('riskvision.models.ResNet3D' in the checkpoint, "
        r"'riskvision.models.ResNetBiLSTM' here\)",
    ):
        validate_config(compose_train(*BILSTM, f"ckpt_path={ckpt}"))
    validate_config(compose_train(*R3D101, f"ckpt_path={ckpt}"))  # the same model: accepted


def test_weights_that_do_not_fit_an_overridden_model_say_both_models(tmp_path):
    ckpt = make_checkpoint(tmp_path / "bilstm", BILSTM)
    checkpoint = load_checkpoint(ckpt)
    run = OmegaConf.create(checkpoint[CONFIG_KEY])
    run.model.net.hidden_size = 16  # e.g. +model.net.hidden_size=16 on eval.py's command line
    with pytest.raises(
        CheckpointError,
        match=r"its weights \(ResNetBiLSTM-resnet18 \(BinaryCrash\)\) do not fit the "
        r"model built .*: \d+ mismatch\(es\) \(first: size mismatch",
    ):
        Predictor.from_run(checkpoint, run, str(ckpt))
    assert np.isfinite(Predictor.from_checkpoint(ckpt).threshold)


# ------------------------------------------------------------------ a stored config decides nothing about writes
def test_data_rebuilt_from_a_stored_config_is_never_generated_where_it_says(real_checkpoint, tmp_path):
    elsewhere = tmp_path / "their_machine" / "synthetic"
    ckpt = forge(real_checkpoint, tmp_path / "moved.ckpt", "data.synthetic.root", str(elsewhere))
    with pytest.raises(
        DataLayoutError,
        match=r"the synthetic data set of this checkpoint's stored config is not at "
        r".*their_machine/synthetic .*Fix: data=synthetic on the command line",
    ):
        evaluate_checkpoint(ckpt, OmegaConf.create({}), None, EvalSettings(), tmp_path / "eval")
    assert not (tmp_path / "their_machine").exists()


@pytest.mark.parametrize("read_only", [True, False])
def test_a_read_only_bdd_source_writes_no_index_cache(tmp_path, read_only):
    videos = tmp_path / "bdd" / "videos" / "100k" / "train"
    videos.mkdir(parents=True)
    write_video(videos / "a.mp4", seconds=0.5, fps=10, width=32, height=32)
    source = BddSource(tmp_path / "bdd")
    source.read_only = read_only
    issues: list = []
    assert len(source.build(issues)) == 1 and not issues
    assert (tmp_path / "bdd" / ".riskvision_index.json").exists() is not read_only


def test_eval_uses_this_machines_paths_not_the_checkpoints(real_checkpoint):
    stored = copy.deepcopy(real_checkpoint[CONFIG_KEY])
    stored["paths"] = {"data_dir": "/their/data", "output_dir": "/their/run"}
    local = OmegaConf.create({"paths": {"data_dir": "/mine/data", "output_dir": "/mine/eval"}})
    run = run_config(stored, local, None)
    assert run.paths.data_dir == "/mine/data" and "output_dir" in run.paths and run.paths.output_dir == "/mine/eval"


def test_a_checkpoint_asking_to_run_os_system_is_refused_as_code_in_torch_2_14s_words(tmp_path):
    """Issue 31: torch 2.14 says "unsupported GLOBAL posix.system whose module posix is blocked"."""
    import os

    from riskvision.checkpoints.reading import load_torch_file

    class RunsACommand:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'ran'}",))

    torch.save({"state_dict": {}, "payload": RunsACommand()}, tmp_path / "evil.ckpt")
    with pytest.raises(
        UnsafeCheckpointError,
        match=r"refusing .*evil.ckpt: it carries pickled code \(posix.system\); "
        r"refused: the file asks to run code",
    ):
        load_torch_file(tmp_path / "evil.ckpt", "Fix: x")
    assert not (tmp_path / "ran").exists()


def test_eval_does_not_open_a_file_the_checkpoint_names(real_checkpoint, tmp_path):
    """Issue 31: a stored data.labels.alerts pointing at any file is not read (its first line is not logged)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-LINE\n")
    ckpt = forge(real_checkpoint, tmp_path / "forged.ckpt", "data.labels.alerts", str(secret))
    message = rf"forged.ckpt: stored run config: data.labels.alerts='{secret}' names a file; .* Fix: .*\+data.labels"
    with pytest.raises(UntrustedConfigError, match=message) as refused:
        evaluate_checkpoint(ckpt, OmegaConf.create({}), None, EvalSettings(), tmp_path / "eval")
    assert "TOP-SECRET" not in str(refused.value)
