"""The package's shape: every folder of src/riskvision is a regular package (a wheel drops one without __init__.py)."""

from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "riskvision"


def test_every_folder_is_a_package():
    folders = [d for d in SRC.rglob("*") if d.is_dir() and d.name != "__pycache__"]
    assert folders and not [str(d) for d in folders if not (d / "__init__.py").is_file()]
