"""Lightning's WandbLogger without the one argument that makes wandb warn on every run."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger


class WandbLogger(LightningWandbLogger):
    """``lightning.pytorch.loggers.WandbLogger``, the same arguments; it leaves out the ``anonymous`` init setting
    that Lightning 2.6 always passes (``None`` unless asked) and wandb >= 0.22 answers with "The anonymous setting
    has no effect and will be removed in a future version"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self._wandb_init.get("anonymous"):
            self._wandb_init.pop("anonymous", None)
