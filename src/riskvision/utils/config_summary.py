"""What the console shows of the composed config: the run folder, the config groups chosen and the command-line
overrides, in a few lines; the whole resolved config goes, untruncated, to a file in the run folder."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from riskvision.files import atomic_write

#: The file in the run folder that holds the whole resolved config (Hydra's ``.hydra/config.yaml`` is unresolved).
CONFIG_FILE = "config_tree.log"


def write_config(cfg: DictConfig, path: Path) -> None:
    """The whole config as YAML with interpolations resolved (unresolved where a value cannot be), no line cut."""
    try:
        text = OmegaConf.to_yaml(cfg, resolve=True)
    except Exception as error:  # noqa: BLE001 (a mandatory value left unset: the unresolved tree still helps)
        text = f"# not resolved ({error})\n" + OmegaConf.to_yaml(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def config_summary(cfg: DictConfig, config_file: Path) -> str:
    """Lines for the console: the run folder, the top-level config group choices (Hydra's own and the groups a
    config composes inside itself left out), the
    command-line overrides and where the whole config is."""
    lines = [f"Run folder: {cfg.paths.output_dir}"]
    if HydraConfig.initialized():
        hydra = HydraConfig.get()
        choices = {
            group: choice
            for group, choice in hydra.runtime.choices.items()  # top-level groups only
            if "/" not in group and "@" not in group and group != "hydra" and choice is not None
        }
        lines.append("Config groups: " + " ".join(f"{group}={choice}" for group, choice in sorted(choices.items())))
        lines.append("Overrides: " + (" ".join(hydra.overrides.task) or "none"))
    lines.append(f"Whole config (resolved): {config_file}")
    return "\n".join(lines)
