"""How many CPU threads the net may use while frames are decoded: one function, stated in the log.

A live source decodes on its own thread (``sources.LiveSource``) while torch's (or onnxruntime's) intra-op threads
run the net. With as many operator threads as cores, the decoder and the operators take turns on every core: each
operator waits for its slowest thread, and that thread is often the one the decoder pushed off its core. One core
is left to the decoder instead (at least one thread for the net).

    threads = inference_threads(live=True)        # e.g. 1 on a 2-core machine, 15 on 16 cores
    torch.set_num_threads(threads.net)
    log.info(threads.describe())
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["InferenceThreads", "inference_threads", "usable_cores"]


@dataclass(frozen=True)
class InferenceThreads:
    """The choice: ``net`` intra-op threads (torch / onnxruntime) of ``cores`` usable cores, ``decode`` threads
    kept for decoding (1 while a live source's thread decodes, else 0)."""

    net: int
    cores: int
    decode: int

    def describe(self) -> str:
        kept = f", {self.decode} core kept for the live decode thread" if self.decode else ""
        return f"threads: {self.net} for the net (torch / onnxruntime intra-op) of {self.cores} usable cores{kept}"


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a container's or ``taskset``'s limit)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def inference_threads(live: bool, cores: int | None = None) -> InferenceThreads:
    """The net's threads: ``cores - 1`` when a live source decodes on its own thread (``live``), else ``cores``.

    Args:
        live: a decode thread runs beside the net (a live source).
        cores: the usable cores (default :func:`usable_cores`).
    """
    cores = usable_cores() if cores is None else max(1, int(cores))
    decode = 1 if live else 0
    return InferenceThreads(net=max(1, cores - decode), cores=cores, decode=decode)
