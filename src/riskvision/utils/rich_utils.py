"""Print the composed config as a rich tree (and keep a copy in the run folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import rich
import rich.syntax
import rich.tree
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

DEFAULT_ORDER = ("data", "model", "callbacks", "logger", "trainer", "paths", "extras")


@rank_zero_only
def print_config_tree(
    cfg: DictConfig,
    print_order: Sequence[str] = DEFAULT_ORDER,
    resolve: bool = True,
    save_to_file: Path | None = None,
) -> None:
    """Print ``cfg`` as a tree, top-level groups in ``print_order`` first, then the rest.

    Args:
        cfg: the composed config.
        print_order: top-level keys printed first, in this order (missing keys are skipped).
        resolve: resolve interpolations before printing.
        save_to_file: also write the tree as plain text to this file.
    """
    tree = rich.tree.Tree("CONFIG", style="dim", guide_style="dim")
    keys = [k for k in print_order if k in cfg] + [k for k in cfg if k not in print_order]
    for key in keys:
        branch = tree.add(str(key), style="bold", guide_style="dim")
        node = cfg[key]
        text = OmegaConf.to_yaml(node, resolve=resolve) if isinstance(node, DictConfig) else str(node)
        branch.add(rich.syntax.Syntax(text, "yaml"))
    rich.print(tree)
    if save_to_file is not None:
        save_to_file.parent.mkdir(parents=True, exist_ok=True)
        with open(save_to_file, "w") as handle:
            rich.print(tree, file=handle)
