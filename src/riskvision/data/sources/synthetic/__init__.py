"""The synthetic source: procedurally rendered ego-view road scenes written as a DoTA-format and a
BDD-format tree, then read like the real releases (:class:`SyntheticSource`).

The built-in default data set: no download, made in well under a minute on two CPU cores, cached and
deterministic per seed. :func:`ensure_synthetic` writes (or reuses) ``<root>/<key>/``::

    <key>/dota/frames/<clip>/images/%06d.jpg       10 fps JPEG frames, numbered from 0
    <key>/dota/annotations/<clip>.json              the real DoTA per-clip schema
    <key>/dota/metadata_{train,val}.json, {train,val}_split.txt, synthetic.json
    <key>/bdd/videos/100k/{train,val}/<id>.mp4      30 fps H.264, normal driving
    <key>/bdd/synthetic.json
    <key>/COMPLETE                                  written last; a tree without it is redone

Scenes. Every clip comes from the same renderer, palette sampler, traffic simulator, camera noise and
"camera" JPEG stage: a perspective road with moving lane markings, sky and skyline, roadside posts,
trees and buildings, a lead vehicle whose distance wanders from ~2 m (bumper to bumper, ego stopped)
to ~40 m, vehicles in the adjacent lanes that drift and pass close, oncoming traffic, road bumps that
shake the camera, and night clips. A crash clip (DoTA tree) adds one event: the lead vehicle, or one
that cuts in, closes in much faster than traffic ever does (7-14 m/s) and is hit inside the annotated
anomaly span ``[anomaly_start, anomaly_end)``; the impact jolts the camera and stops the ego vehicle
dead, and the vehicles it involves are pushed ahead and sideways (0.8-3 m), slowing until they rest at
the span's end. Over the 2 s before the span (the default Warning horizon) that vehicle is already in view and
closes in at 4-7 m/s, from 12-22 m to 4-8 m: faster than normal following, whose gap changes by about a
fifth of itself per second. Every frame of a crash clip looks
like some frame of a normal clip (close vehicles, brake lights, stopped traffic and camera shake occur
in both), so only motion separates the classes. BDD frames are rendered at 30 fps, DoTA frames at
10 fps from the same continuous-time simulation; both pass the same camera JPEG stage and the same
all-intra H.264 stage (DoTA frames are then stored as quality-95 JPEGs), so decoded frames of the two
sources carry the same artefacts.

Modules by job: ``sizes`` (what to generate), ``scene`` (the traffic simulation), ``render`` (frames and the
camera stage), ``writers`` (the DoTA and BDD trees), ``cache`` (:func:`ensure_synthetic`); the H.264 stage is
``riskvision.video_io``.
"""

from __future__ import annotations

from pathlib import Path

from riskvision.data.layout import DataLayoutError
from riskvision.data.records import DataIssue, VideoRecord
from riskvision.data.sources.base import RecordSource
from riskvision.data.sources.bdd import BddSource
from riskvision.data.sources.dota import DotaFilter, DotaSource
from riskvision.data.sources.synthetic.cache import SyntheticPaths, dataset_key, ensure_synthetic, find_synthetic
from riskvision.data.sources.synthetic.sizes import SyntheticSizes

__all__ = ["SyntheticPaths", "SyntheticSizes", "SyntheticSource", "dataset_key", "ensure_synthetic"]


class SyntheticSource(RecordSource):
    """The built-in data set as a record source: generated on first use (:func:`ensure_synthetic`, cached
    per seed and sizes), then read like the real releases (a DoTA official-layout tree, labelled ``dota``,
    and a BDD100K videos tree, labelled ``bdd``). ``conf/data/source/synthetic.yaml``.

    Args:
        root: parent folder of the generated data sets.
        seed: the data's own seed (the same seed gives byte-identical files).
        filters: which crash clips to keep (:class:`~riskvision.data.sources.dota.DotaFilter`).
        **sizes: fields of :class:`SyntheticSizes` (``num_crash=100, width=160, ...``).
    """

    synthetic = True

    def __init__(self, root: str | Path, seed: int = 0, filters: DotaFilter | None = None, **sizes: object) -> None:
        self.root, self.seed, self.sizes = Path(root), int(seed), sizes
        self.filters = filters or DotaFilter()
        self.paths: SyntheticPaths | None = None
        SyntheticSizes.from_kwargs(**sizes)  # unknown or impossible sizes fail here, before any data is read

    def __repr__(self) -> str:
        return f"SyntheticSource(root={str(self.root)!r}, seed={self.seed}, sizes={self.sizes})"

    def prepare(self) -> None:
        """Generate the data set (or reuse its cached copy); a :attr:`read_only` source only looks for the copy."""
        if self.paths is None and self.read_only:
            self.paths = find_synthetic(self.root, self.seed, **self.sizes)
            if self.paths is None:
                raise DataLayoutError(
                    f"the synthetic data set of this checkpoint's stored config is not at {self.root} (seed "
                    f"{self.seed}, sizes {self.sizes}), and a stored config never decides where files are written. "
                    "Fix: data=synthetic on the command line generates it under this machine's paths.data_dir"
                )
        if self.paths is None:
            self.paths = ensure_synthetic(self.root, self.seed, **self.sizes)

    def build(self, issues: list[DataIssue]) -> list[VideoRecord]:
        self.prepare()
        bdd = BddSource(self.paths.bdd_root)
        bdd.read_only = self.read_only
        return DotaSource(self.paths.dota_root).build(issues) + bdd.build(issues)

    def keep(self, record: VideoRecord) -> bool:
        return self.filters.keep(record)
