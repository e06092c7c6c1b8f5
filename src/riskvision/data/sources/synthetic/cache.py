"""The caching entry point: :func:`ensure_synthetic` generates a data set once per (version, seed, sizes)
and reuses it afterwards; generation is atomic, so an interrupted run leaves nothing that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from riskvision.data.sources.synthetic.sizes import VERSION, SyntheticSizes
from riskvision.data.sources.synthetic.writers import write_dataset
from riskvision.progress import ProgressLine

log = logging.getLogger(__name__)

MARKER = "COMPLETE"


@dataclass(frozen=True)
class SyntheticPaths:
    """Where a generated data set lives.

    Attributes:
        root: ``<root>/<key>`` holding both trees.
        dota_root: the DoTA official-layout tree.
        bdd_root: the BDD100K video-layout tree.
        generated: ``True`` when this call generated it, ``False`` when it was reused.
        seconds: wall-clock time this call took, s.
    """

    root: Path
    dota_root: Path
    bdd_root: Path
    generated: bool
    seconds: float


def ensure_synthetic(root: str | Path, seed: int = 0, **sizes: object) -> SyntheticPaths:
    """Generate the synthetic DoTA + BDD trees under ``root`` unless a complete copy exists.

    The output folder ``root/<key>`` is keyed by (generator version, seed, sizes). Generation writes
    into a temporary sibling folder and renames it into place, so an interrupted run leaves nothing
    that looks complete and concurrent callers end up sharing one tree.

    Args:
        root: parent folder of the keyed data set folders.
        seed: random seed; the same seed gives byte-identical files.
        **sizes: fields of :class:`SyntheticSizes` (``num_crash=8, width=96, ...``).
    """
    begin = time.perf_counter()
    found = find_synthetic(root, seed, **sizes)
    if found is not None:
        log.info("synthetic data (NOT real DoTA/BDD100K) reused at %s", found.root)
        return found
    config = SyntheticSizes.from_kwargs(**sizes)
    final = Path(root) / dataset_key(seed, config)
    _generate_atomically(final, seed, config)
    seconds = time.perf_counter() - begin
    log.info("synthetic data (NOT real DoTA/BDD100K) generated at %s in %.1f s", final, seconds)
    return SyntheticPaths(final, final / "dota", final / "bdd", True, seconds)


def find_synthetic(root: str | Path, seed: int = 0, **sizes: object) -> SyntheticPaths | None:
    """The complete cached copy of the data set of (``seed``, ``sizes``) under ``root``, or ``None``; writes nothing."""
    final = Path(root) / dataset_key(seed, SyntheticSizes.from_kwargs(**sizes))
    if not (final / MARKER).is_file():
        return None
    return SyntheticPaths(final, final / "dota", final / "bdd", False, 0.0)


def dataset_key(seed: int, config: SyntheticSizes) -> str:
    """Folder name for (version, seed, sizes): ``v1-seed0-<10 hex digits>``."""
    blob = json.dumps({"version": VERSION, "seed": seed, "sizes": asdict(config)}, sort_keys=True)
    return f"v{VERSION}-seed{seed}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


def _generate_atomically(final: Path, seed: int, config: SyntheticSizes) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    try:
        begin = time.perf_counter()
        progress = ProgressLine("generating synthetic data", config.num_crash + config.num_normal, "clips")
        write_dataset(tmp, seed, config, progress)
        progress.close()
        (tmp / MARKER).write_text(json.dumps({"seconds": round(time.perf_counter() - begin, 2)}) + "\n")
        if final.exists() and not (final / MARKER).is_file():
            shutil.rmtree(final)  # left by an interrupted generation on a filesystem without atomic rename
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / MARKER).is_file():  # not a lost race with another generator: a real error
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
