"""benchmarks.data (scripts/benchmark_data.py) runs end to end on a tiny clip and reports what the
README quotes."""

from benchmarks.data import jpeg_rows


def test_jpeg_rows_time_every_reader_variant_against_the_seed_path(tmp_path, capsys):
    rows = {name: (fps, ratio, psnr) for name, fps, ratio, psnr in jpeg_rows(tmp_path, num_frames=2, repeats=1)}
    assert next(iter(rows)).startswith("seed path") and rows[next(iter(rows))][1] == 1.0
    assert len(rows) == 6 and all(fps > 0 and ratio > 0 for fps, ratio, _ in rows.values())
    ours = {name: psnr for name, (_, _, psnr) in rows.items() if name.startswith("ours")}
    assert all(psnr > 35 for psnr in ours.values()), ours  # the quality bar, on every variant
    chunked = ours["ours, raw 1280x720 (draft 1/2 + resize + Normalize)"]
    assert chunked == ours["ours, raw, frame by frame (chunk_size 1)"]  # chunking changes no pixel
    assert "raw JPEGs: 2 x 1280x720" in capsys.readouterr().out
