"""The Hydra callback that claims a run's folder (``riskvision.runs``) before Hydra writes anything into it.

Hydra calls ``on_run_start`` before it creates the output folder, saves ``.hydra/`` and opens the log file, so a
refused run leaves the folder of the run that owns it untouched. In a multirun, the sweep folder is claimed by
``on_multirun_start`` and each job's folder by ``on_job_start``. Hydra turns an exception raised in a callback into
a warning and goes on, so a refusal exits the process (``SystemExit`` with the message). Configured under
``hydra.callbacks`` in
``conf/hydra/default.yaml`` (train.py) and in ``conf/{eval,predict_video,compare}.yaml``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from riskvision.checkpoints.trust import UntrustedConfigError
from riskvision.runs import RunFolderError, RunMismatchError, abandon_run_folder, claim_run_folder, release_run_folder
from riskvision.utils.overrides import ConfigError

__all__ = ["ClaimRunFolder", "exits_on_user_error", "resumes_run", "user_errors"]


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's input, not a bug: a script prints their message (it names the file, the value and
    the fix) and exits 1, without a traceback. Imported when a run fails, so that importing this module (every
    script does, before Hydra parses ``--help``) stays light."""
    from riskvision.alarm import PolicyError
    from riskvision.checkpoints.reading import CheckpointError
    from riskvision.data.layout import DataLayoutError
    from riskvision.files import WriteError

    return (
        ConfigError,
        CheckpointError,
        UntrustedConfigError,
        RunFolderError,
        RunMismatchError,
        DataLayoutError,
        FileNotFoundError,
        PolicyError,
        WriteError,
    )


def exits_on_user_error(main: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    """Wrap a Hydra task function: a :func:`user_errors` error exits with ``Error: <message>`` (Hydra would print a
    traceback), and a run that fails (with any error) before producing anything gives its folder back
    (``abandon_run_folder``), so the corrected command may use the same ``hydra.run.dir``."""

    @functools.wraps(main)
    def wrapper(cfg: DictConfig) -> Any:
        try:
            return main(cfg)
        except BaseException as error:
            abandon_run_folder(HydraConfig.get().runtime.output_dir)
            if isinstance(error, user_errors()):
                raise SystemExit(f"Error: {error}") from None
            raise

    return wrapper


def resumes_run(ckpt_path: object, folder: str | Path) -> bool:
    """A ``train.py`` run with this ``ckpt_path`` continues the run of ``folder``: ``ckpt_path=last`` or a checkpoint
    inside ``folder``."""
    if ckpt_path in (None, ""):
        return False
    if ckpt_path == "last":
        return True
    return Path(folder).resolve() in Path(str(ckpt_path)).resolve().parents


class ClaimRunFolder(Callback):
    """Claim ``hydra.run.dir`` (a run), the sweep folder and each job's folder (a multirun).

    Args:
        kind: what the script's runs are (``train``, ``eval``, ``predict_video``, ``compare``).
        resumable: the script resumes runs (``train.py``: ``ckpt_path=last`` continues the folder's run).
    """

    def __init__(self, kind: str, resumable: bool = False) -> None:
        self.kind, self.resumable = kind, resumable

    def _claim(self, config: DictConfig, folder: str, kind: str | None = None, resumable: bool | None = None) -> None:
        resume = (self.resumable if resumable is None else resumable) and resumes_run(config.get("ckpt_path"), folder)
        try:
            claim_run_folder(folder, kind or self.kind, resume)
        except (RunFolderError, OSError) as error:
            raise SystemExit(f"Error: {error}") from None  # Hydra would only warn about an exception

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Single run: claim ``hydra.run.dir`` before Hydra creates or writes it."""
        self._claim(config, str(config.hydra.run.dir))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Multirun: claim the sweep folder (a reused sweep folder is refused before any job starts)."""
        self._claim(config, str(config.hydra.sweep.dir), f"{self.kind} multirun", resumable=False)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Multirun job: claim its own folder (a single run's folder was claimed in ``on_run_start``)."""
        if config.hydra.mode == RunMode.MULTIRUN:
            self._claim(config, config.hydra.runtime.output_dir)

    def on_job_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Release the folder of a finished job (a run's folder is released when the process ends)."""
        if config.hydra.mode == RunMode.MULTIRUN:
            release_run_folder(config.hydra.runtime.output_dir)
