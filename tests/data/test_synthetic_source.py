"""data=synthetic: the config generates the synthetic trees on first use and the records say so."""

from pathlib import Path

import hydra
import pytest
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "++data.synthetic.num_crash=4",
    "++data.synthetic.num_normal=4",
    "++data.synthetic.width=32",
    "++data.synthetic.height=32",
    "++data.synthetic.clips_per_source=[1,1]",
    "++data.synthetic.crash_seconds=[3,4]",
    "++data.synthetic.normal_seconds=[3,4]",
]


@pytest.mark.filterwarnings("ignore:DoTA annotation")
def test_synthetic_config_generates_and_marks_data(tmp_path):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(
            "check_data",
            overrides=[
                f"paths.data_dir={tmp_path}",
                "model.inputs.frame_size=16",
                "data.loader.num_workers=0",
                "data.split.val_fraction=0.5",
                *TINY,
            ],
        )
    dm = hydra.utils.instantiate(cfg.data)
    assert dm.is_synthetic and not list(tmp_path.iterdir())  # nothing generated before prepare_data
    dm.prepare_data()
    assert (tmp_path / "synthetic").is_dir()
    dm.setup("fit")
    dm.setup("test")
    summary = dm.describe()
    assert summary["synthetic"] and all(r.synthetic for r in dm.records)
    assert {r.source: (r.kind, r.native_fps) for r in dm.records} == {"dota": ("frames", 10.0), "bdd": ("video", 30.0)}
    for split in ("train", "val", "test"):
        assert set(summary["splits"][split]["sources"]) == {"dota", "bdd"}
    batch = next(iter(dm.val_dataloader()))
    assert batch["video"].shape[1:] == (10, 3, 16, 16) and batch["fps"].eq(10).all()
