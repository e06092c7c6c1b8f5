"""The README's measured figures (``scripts/benchmark_quickstart.py``): each command README shows, run as a user
runs it, timed, its result read from the run's own files; written to ``docs/results.json`` (with date, machine and
load) and rendered into README's results table (between the ``results:begin`` / ``results:end`` markers).
``tests/test_readme_results.py`` fails when README and ``docs/results.json`` disagree, so a figure is never typed by
hand.

Entries: ``train_bilstm`` / ``train_resnet3d101`` (``python train.py model=...``: best validation metric and its
epoch, wall clock), ``compare`` (the comparison run and compare.py: wall clock) and ``predict`` (``riskvision-predict``
with the default backend on one synthetic test video of the bilstm run: median milliseconds per result).
Standard library only; each command runs in a fresh temporary folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results.json"
README = ROOT / "README.md"
BEGIN, END = "<!-- results:begin (scripts/benchmark_quickstart.py writes this table) -->", "<!-- results:end -->"
ENTRIES = ("train_bilstm", "train_resnet3d101", "compare", "predict")
#: ``Best epoch 9 by val/f1 (validation split, ...):`` then ``  val/f1   1.000`` in train.log (riskvision.utils).
BEST_EPOCH = re.compile(r"Best epoch (\d+) by (\S+) \(([^)]*)\):\n((?:  .*\n?)+)")


def parse_best(log_text: str) -> tuple[str, float, int]:
    """``(metric, value, 1-based epoch)`` of the best-epoch table a train.log ends with."""
    found = BEST_EPOCH.findall(log_text)
    if not found:
        raise ValueError("no 'Best epoch N by METRIC' table in the log")
    epoch, metric, _, rows = found[-1]
    values = dict(line.split() for line in rows.strip().splitlines())
    return metric, float(values[metric]), int(epoch)


def machine() -> str:
    """The machine in words: CPU count and model."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = re.findall(r"model name\s*:\s*(.*)", cpuinfo.read_text())
        model = names[0].strip() if names else model
    return f"{os.cpu_count()} CPU cores ({model})"


def load() -> float:
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def _run(command: list[str], cwd: Path) -> float:
    """Run ``command`` (output to the console), return its wall clock in minutes; a failure stops the benchmark."""
    print("$", " ".join(command), flush=True)
    start = time.monotonic()
    subprocess.run(command, cwd=cwd, check=True, stdin=subprocess.DEVNULL)
    return (time.monotonic() - start) / 60


def measure_train(model: str, work: Path) -> dict:
    """``python train.py model=<model>`` in ``work``: its best validation metric, epoch and wall clock."""
    folder = work / f"train_{model}"
    before = load()
    minutes = _run([sys.executable, str(ROOT / "train.py"), f"model={model}", f"hydra.run.dir={folder}"], ROOT)
    metric, value, epoch = parse_best((folder / "train.log").read_text())
    return {
        "command": f"python train.py model={model}",
        "metric": metric,
        "value": value,
        "epoch": epoch,
        "minutes": round(minutes, 1),
        "load": [before, load()],
        "run_dir": str(folder),
    }


def measure_compare(work: Path) -> dict:
    """The comparison run (both quickstart jobs with test=true, then compare.py): wall clock."""
    sweep = work / "qs"
    before = load()
    minutes = _run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "-m",
            "experiment=quickstart",
            "model=bilstm,resnet3d101",
            f"hydra.sweep.dir={sweep}",
        ],
        ROOT,
    )
    minutes += _run(
        [sys.executable, str(ROOT / "scripts" / "compare.py"), f"runs={sweep}", f"hydra.run.dir={work / 'compare'}"],
        ROOT,
    )
    return {
        "command": "python train.py -m experiment=quickstart model=bilstm,resnet3d101 + scripts/compare.py",
        "minutes": round(minutes, 1),
        "load": [before, load()],
    }


def measure_predict(work: Path, checkpoint: Path, video: Path) -> dict:
    """``riskvision-predict`` with the default backend on ``video``: median latency_ms of its results."""
    out = work / "predict"
    before = load()
    _run([sys.executable, "-m", "riskvision.inference.cli", str(checkpoint), str(video), "--out", str(out)], ROOT)
    rows = (out / f"{video.stem}.csv").read_text().splitlines()
    column = rows[0].split(",").index("latency_ms")
    latency = statistics.median(float(row.split(",")[column]) for row in rows[1:])
    return {
        "command": "riskvision-predict CKPT VIDEO --out OUT",
        "ms_per_result": round(latency, 1),
        "load": [before, load()],
        "video": video.name,
    }


def _auto_backend() -> str:
    """What ``backend=auto`` picks on this machine (riskvision.inference.backend_choice)."""
    from riskvision.inference.backend_choice import choose_backend

    return choose_backend("cpu", "fp32")[0]


def render_row(entry_id: str, entry: dict) -> str:
    """README's table row of one entry: the command, its one measured figure, and when/where/how loaded."""
    if entry_id.startswith("train_"):
        figure = (
            f"best `{entry['metric']}` {entry['value']:.3f} at epoch {entry['epoch']} "
            f"(validation split, per validation clip); {entry['minutes']:.1f} min"
        )
    elif entry_id == "compare":
        figure = f"{entry['minutes']:.1f} min for both jobs, their test scoring and `comparison.md`"
    else:
        figure = f"{entry['ms_per_result']:.1f} ms per result with the default backend ({entry['backend']})"
    if entry.get("note"):
        figure += f" ({entry['note']})"
    low, high = entry.get("load") or (None, None)
    if low is None:
        load_text = "load not recorded"
    else:
        load_text = f"load {low:g}" if high in (None, low) else f"load {low:g}-{high:g}"
    return f"| `{entry['command']}` | {figure} | {entry['date']}, {entry['machine']}, {load_text} |"


def render_table(results: dict) -> str:
    """The whole block README holds between :data:`BEGIN` and :data:`END`."""
    rows = [render_row(entry_id, results[entry_id]) for entry_id in ENTRIES if entry_id in results]
    return "\n".join([BEGIN, "| command | measured result | date, machine, load |", "|---|---|---|", *rows, END])


def readme_block(text: str) -> str:
    """The results block of README's ``text`` (markers included)."""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def write_readme(results: dict) -> None:
    """Replace README's results block with :func:`render_table` of ``results``."""
    text = README.read_text(encoding="utf-8")
    README.write_text(text.replace(readme_block(text), render_table(results)), encoding="utf-8")


def measure(entry_ids: Sequence[str], results: dict) -> None:
    """Re-measure ``entry_ids`` (of :data:`ENTRIES`) in a fresh temporary folder, each stamped with the date and
    machine; ``results`` (docs/results.json's content) and the file are updated as each entry ends."""
    stamp = {"date": dt.date.today().isoformat(), "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="riskvision-quickstart-") as folder:
        work = Path(folder)
        for entry_id in entry_ids:
            if entry_id == "compare":
                entry = measure_compare(work)
            elif entry_id == "predict":
                trained = work / "train_bilstm"
                if not trained.is_dir():
                    results["train_bilstm"] = {**measure_train("bilstm", work), **stamp}
                video = next((ROOT / "data" / "synthetic").rglob("*.mp4"))
                entry = {
                    **measure_predict(work, trained / "checkpoints" / "last.ckpt", video),
                    "backend": "auto: " + _auto_backend(),
                }
            else:
                entry = measure_train(entry_id.removeprefix("train_"), work)
            entry.pop("run_dir", None)
            results[entry_id] = {**entry, **stamp}
            RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")  # each entry as it ends


def run(entry_ids: Sequence[str] = ENTRIES, render_only: bool = False) -> None:
    """Measure ``entry_ids`` (unless ``render_only``), then write README's table from docs/results.json and print it."""
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    if not render_only:
        measure(entry_ids, results)
    write_readme(results)
    print(render_table(results))
