"""Stream a video through a checkpoint and draw its timeline: the streaming API in 20 lines.

    python examples/stream_timeline.py RUN/checkpoints/last.ckpt drive.mp4 timeline.png [ANOMALY_START_S ANOMALY_END_S]
"""

from __future__ import annotations

import sys

from riskvision.inference import Predictor
from riskvision.inference.outputs import results_table, write_stream_timeline

checkpoint, video, png, *span = sys.argv[1:]
predictor = Predictor.from_checkpoint(checkpoint)
results = []
for result in predictor.stream(video):  # a file here; "rtsp://...", "/dev/video0" or a FIFO work the same way
    results.append(result)
    for event in result.events:
        print(f"alarm {event.kind} at {event.time_s:.1f} s")
anomaly = (float(span[0]), float(span[1])) if span else None
write_stream_timeline(png, results_table(video, results, predictor), predictor, f"{video}: {predictor.describe()}",
                      anomaly)
print(f"{len(results)} results, max P(crash) {max(r.p_crash for r in results):.2f} -> {png}")
