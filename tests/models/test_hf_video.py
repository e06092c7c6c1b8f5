"""VideoMAE / V-JEPA 2 from a local transformers folder (issue 26, item 5): the same logits as transformers' model
from a folder saved with save_pretrained(safe_serialization=True); remote code and pickled weights refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers", reason="the optional extra [hf] is not installed")

from riskvision.data.transforms import NORMALIZATION_PRESETS  # noqa: E402
from riskvision.models import HFVideoNet, create_model, list_models  # noqa: E402
from riskvision.models.hf_video import PRESETS_BY_MEAN_STD, UnsafeModelFolder  # noqa: E402

IMAGENET = {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}


def tiny_folder(path: Path, family: str = "videomae", num_labels: int = 3) -> torch.nn.Module:
    """A tiny random transformers model of ``family`` saved as a local folder (safetensors); returned in eval mode."""
    torch.manual_seed(0)
    if family == "videomae":
        config = transformers.VideoMAEConfig(
            image_size=32,
            patch_size=16,
            num_frames=4,
            tubelet_size=2,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            num_labels=num_labels,
        )
        model = transformers.VideoMAEForVideoClassification(config)
    else:
        config = transformers.VJEPA2Config(
            crop_size=32,
            frames_per_clip=4,
            tubelet_size=2,
            patch_size=16,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            mlp_ratio=2.0,
            pred_hidden_size=32,
            pred_num_hidden_layers=1,
            pred_num_attention_heads=2,
            num_labels=num_labels,
        )
        model = transformers.VJEPA2ForVideoClassification(config)
    model.save_pretrained(path, safe_serialization=True)
    (path / "preprocessor_config.json").write_text(json.dumps(IMAGENET))
    return model.eval()


@pytest.mark.parametrize("family", ["videomae", "vjepa2"])
def test_same_logits_as_transformers_from_a_local_folder(tmp_path, family):
    if family == "vjepa2" and not hasattr(transformers, "VJEPA2ForVideoClassification"):
        pytest.skip(f"transformers {transformers.__version__} has no V-JEPA 2")
    reference = tiny_folder(tmp_path / family, family)
    torch.manual_seed(5)  # another initialisation: only the folder's weights make the nets equal
    net = create_model(family, num_outputs=3, folder=str(tmp_path / family), pretrained=tmp_path / family).eval()
    assert isinstance(net, HFVideoNet) and family in list_models()
    video = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    pixels = "pixel_values" if family == "videomae" else "pixel_values_videos"
    with torch.no_grad():
        assert (net(video) - reference(**{pixels: video}).logits).abs().max().item() <= 1e-5


def test_the_folder_sets_the_preset_and_videomaes_clip_shape_and_the_head_takes_the_task_width(tmp_path):
    tiny_folder(tmp_path / "vm")
    weights = HFVideoNet.read_pretrained(tmp_path / "vm", {"folder": str(tmp_path / "vm"), "family": "videomae"})
    assert weights.normalization == "imagenet" and weights.inputs == {"num_frames": 4, "frame_size": 32}
    net = create_model("videomae", num_outputs=1, folder=str(tmp_path / "vm"), pretrained=tmp_path / "vm")
    assert net.model.classifier.out_features == 1  # the folder's 3-class head is skipped


def test_presets_agree_with_the_data_layer():
    for (mean, std), preset in PRESETS_BY_MEAN_STD.items():
        _, preset_mean, preset_std = NORMALIZATION_PRESETS[preset]
        assert preset_mean == pytest.approx(mean, abs=1e-4) and preset_std == pytest.approx(std, abs=1e-4)


def test_remote_code_is_refused_before_anything_is_imported(tmp_path):
    tiny_folder(tmp_path / "vm")
    config = json.loads((tmp_path / "vm" / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (tmp_path / "vm" / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsafeModelFolder, match=r"config.json names remote code \(auto_map: .*modeling_evil"):
        create_model("videomae", num_outputs=1, folder=str(tmp_path / "vm"))


def test_pickled_weights_are_refused(tmp_path):
    tiny_folder(tmp_path / "vm")
    (tmp_path / "vm" / "model.safetensors").unlink()
    torch.save({"w": torch.zeros(1)}, tmp_path / "vm" / "pytorch_model.bin")
    with pytest.raises(UnsafeModelFolder, match=r"holds pickled weights \(pytorch_model.bin\), which are refused"):
        create_model("videomae", num_outputs=1, folder=str(tmp_path / "vm"))


def test_a_folder_of_another_model_type_or_without_preprocessor_is_refused(tmp_path):
    tiny_folder(tmp_path / "vm")
    with pytest.raises(UnsafeModelFolder, match=r"model_type='videomae', expected vjepa2"):
        create_model("vjepa2", num_outputs=1, folder=str(tmp_path / "vm"))
    (tmp_path / "vm" / "preprocessor_config.json").unlink()
    with pytest.raises(UnsafeModelFolder, match=r"has no preprocessor_config.json"):
        create_model("videomae", num_outputs=1, folder=str(tmp_path / "vm"), pretrained=tmp_path / "vm")
