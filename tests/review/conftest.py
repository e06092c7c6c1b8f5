"""Fixtures of the review tests: one headless Chromium per session (Debian's ``chromium``, driven by Playwright),
and the small review page of the evaluation tests' two runs, built once.

Without a browser the browser tests are skipped, saying why; under ``CI=true`` (``.ci/run``, which installs
chromium) they fail instead.
"""

from __future__ import annotations

import shutil

import pytest
from review_fakes import FPS, browser_unavailable, write_frame_folder, write_runs, write_video

from riskvision.evaluation.report import load_runs
from riskvision.evaluation.review import ReviewSettings, write_review

BROWSERS = ("chromium", "chromium-browser")


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium of the system (``executable_path``: Playwright's own download is not used)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("playwright is not installed (pip install -e '.[dev]')")
    executable = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if executable is None:
        browser_unavailable("no chromium on PATH (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def small_review(tmp_path_factory) -> dict:
    """The review page of the two fake runs with clips: ``dota_00..05`` from frame folders (DoTA layout),
    ``bdd_06..08`` from 30 fps MP4 files, ``bdd_09`` an unreadable file, ``bdd_10`` and ``bdd_11`` without video."""
    root = tmp_path_factory.mktemp("review")
    folders = write_runs(root)
    data = root / "data"
    for v in range(6):
        write_frame_folder(data / "frames" / f"dota_{v:02d}" / "images", 30)
    for v in range(6, 9):
        write_video(data / "videos" / "val" / f"bdd_{v:02d}.mp4", 90, 30)
    (data / "videos" / "val" / "bdd_09.mp4").write_bytes(b"not a video")
    runs = load_runs(folders)
    index = write_review(runs, root / "out" / "review", ReviewSettings(videos=[str(data)]))
    return {"index": index, "runs": runs, "folders": folders, "data": data, "fps": FPS}
