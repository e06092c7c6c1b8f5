"""The review page in a real browser (headless Chromium, ``file://``): rows, counts against metrics.json, sorting,
playing, seeking, the timeline cursor, keys, missing clips, and the table's load time at 500 videos x 6 runs.
Screenshots go under tmp_path, and one of each to /tmp/review_shots/ for the notes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from review_fakes import FPS, FRAMES, scale_runs

from riskvision.evaluation.deployment import video_outcomes
from riskvision.evaluation.review import run_policy, write_review

SHOTS = Path("/tmp/review_shots")
CLIP_S = FRAMES / FPS


@pytest.fixture
def page(browser, small_review):
    """The small page, freshly opened; ``page.errors``: console errors and uncaught exceptions."""
    context = browser.new_context(viewport={"width": 1500, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(small_review["index"].as_uri())
    page.wait_for_function("window.REVIEW && window.REVIEW.readyMs > 0")
    yield page
    context.close()


def _outcomes(run):
    """The run's outcomes as the page computes them: its metrics.json policy at its operating point."""
    alarm = run_policy(run.metrics, "metrics.json")
    return video_outcomes(run.table, alarm.policy, alarm.threshold)


def _load(browser, index: Path):
    """(a new browser context, its page opened on ``index``, the list its uncaught errors go to)."""
    context = browser.new_context(viewport={"width": 1500, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(index.as_uri())
    return context, page, errors


def _shot(page, path: Path) -> None:
    page.screenshot(path=str(path))
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(path, SHOTS / path.name)


def _open(page, video_id: str) -> None:
    page.locator("#videos tbody tr", has_text=video_id).first.click()
    page.wait_for_function("k => window.REVIEW.hasSeries(k)", arg=page.evaluate("REVIEW.current()"))


def _playing(page) -> None:
    page.wait_for_function(
        "() => { const v = document.getElementById('v-video'); "
        "return v.readyState >= 2 && v.currentTime > 0 && !v.paused; }",
        timeout=15000,
    )


def test_opens_from_disk_with_a_row_per_video_and_the_counts_of_metrics_json(page, small_review, tmp_path):
    runs = small_review["runs"]
    assert page.errors == []
    assert page.locator("#videos tbody tr").count() == len(set(runs[0].table["video_id"]))
    for r, run in enumerate(runs):  # the deployed policy at the operating point: metrics.json's policy counts
        deployment = run.metrics["deployment"]
        point = deployment["operating_point"]
        count = {
            o: int(page.text_content(f"#count-{r}-{o.replace(' ', '-')}"))
            for o in ("detected", "late", "missed", "false-alarm", "correct-rejection")
        }
        positives = count["detected"] + count["late"] + count["missed"]
        assert positives == deployment["n_positive_videos"]
        assert count["detected"] == round(point["recall"]["value"] * positives)
        assert count["false-alarm"] + count["correct-rejection"] == deployment["n_negative_videos"]
        assert int(page.text_content(f"#episodes-{r}")) == point["false_alarms"]
        assert "agrees" in page.text_content(f"#check-{r}") and "operating_point" in page.text_content(f"#check-{r}")
        assert page.text_content(f"#basis-{r}") == f"operating point {point['threshold']:.3f}"
        assert page.text_content(f"#policy-{r}").startswith(f"operating point {point['threshold']:.3f}, chosen on")
    assert page.evaluate("[...document.querySelectorAll('video')].every(v => !v.getAttribute('src'))")
    assert page.evaluate("performance.getEntriesByType('resource').every(e => !e.name.endsWith('.mp4'))")
    _shot(page, tmp_path / "review_table.png")


def test_sorting_by_false_alarm_episodes_puts_the_worst_first(page, small_review):
    page.click("#sort-fa-0")
    outcomes = _outcomes(small_review["runs"][0])
    worst = outcomes["false_alarms"].max()
    first = page.locator("#videos tbody tr").first
    assert first.get_attribute("data-k") is not None
    assert first.locator("td").nth(0).text_content() in set(outcomes[outcomes["false_alarms"] == worst]["video_id"])
    assert page.get_attribute("#sort-fa-0", "aria-sort") == "descending"
    page.click("#sort-fa-0")  # again: fewest first, the videos without the column (crash videos) still last
    assert page.locator("#videos tbody tr").first.locator("td").nth(0).text_content().startswith("bdd")
    assert page.locator("#videos tbody tr").last.locator("td").nth(0).text_content().startswith("dota")


def test_opening_a_row_plays_its_clip_and_the_cursor_follows(page, small_review, tmp_path):
    _open(page, "dota_02")
    _playing(page)
    assert page.evaluate("document.getElementById('v-video').duration") == pytest.approx(CLIP_S, abs=0.05)
    page.evaluate("const v = document.getElementById('v-video'); v.pause(); v.currentTime = 1.7;")
    page.wait_for_function("Math.abs(window.REVIEW.cursorTime() - 1.7) < 0.02")
    cursors = page.evaluate("[...document.querySelectorAll('.timeline .cursor')].map(c => c.style.left)")
    assert len(cursors) == len(small_review["runs"]) and set(cursors) == {f"{100 * 1.7 / CLIP_S:g}%"}
    plot = page.locator(".timeline .plot").first.bounding_box()  # a click at a quarter of the timeline seeks there
    page.mouse.click(plot["x"] + plot["width"] / 4, plot["y"] + plot["height"] / 2)
    page.wait_for_function(f"Math.abs(document.getElementById('v-video').currentTime - {CLIP_S / 4}) < 0.05")
    assert page.evaluate("window.REVIEW.cursorTime()") == pytest.approx(CLIP_S / 4, abs=0.05)
    assert page.errors == []
    _shot(page, tmp_path / "review_video.png")


def test_keys_step_through_the_shown_order_and_space_plays(page):
    order = page.evaluate("REVIEW.order()")
    page.keyboard.press("j")  # nothing open: the first row
    assert page.evaluate("REVIEW.current()") == order[0]
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert page.evaluate("REVIEW.current()") == order[1]
    _playing(page)  # opened rows play
    page.keyboard.press(" ")
    assert page.evaluate("document.getElementById('v-video').paused")
    page.keyboard.press(" ")
    _playing(page)
    page.click("#v-play")  # the button pauses; space after it plays once (the focused button does not take it too)
    page.keyboard.press(" ")
    _playing(page)
    page.keyboard.press("Escape")
    assert page.is_hidden("#viewer")


def test_a_missing_clip_shows_its_reason_and_keeps_the_timelines(page):
    _open(page, "bdd_11")
    assert page.is_hidden("#v-video") and page.is_visible("#v-missing")
    assert "no video file or frame folder named 'bdd_11'" in page.text_content("#v-missing")
    assert "no video file or frame folder" in page.locator("#videos tbody tr", has_text="bdd_11").text_content()
    assert page.locator(".timeline canvas").count() == 2
    page.locator(".timeline .plot").first.click(position={"x": 1, "y": 30})  # no clip: the click moves the cursor
    assert page.evaluate("window.REVIEW.cursorTime()") < 0.1
    _open(page, "bdd_09")
    assert "could not be read" in page.text_content("#v-missing")
    assert page.errors == []


def test_500_videos_by_6_runs_load_fast_and_load_no_clip(browser, tmp_path, record_property):
    index = write_review(scale_runs(500, 6, tmp_path / "runs"), tmp_path / "review")
    context, page, errors = _load(browser, index)
    page.wait_for_function("window.REVIEW && window.REVIEW.paintedMs > 0")
    built_ms, painted_ms = page.evaluate("[window.REVIEW.readyMs, window.REVIEW.paintedMs]")
    load_ms = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    data_kb = (index.parent / "data.js").stat().st_size / 1024
    print(
        f"\n500 videos x 6 runs (data.js {data_kb:.0f} KB), ms after navigation start: table built {built_ms:.0f}, "
        f"painted {painted_ms:.0f}, load event {load_ms:.0f}"
    )
    record_property("table_painted_ms", painted_ms)
    assert errors == [] and page.locator("#videos tbody tr").count() == 500
    assert page.text_content("#basis-0") == "run threshold 0.500"  # no operating point in these metrics
    assert page.evaluate("performance.getEntriesByType('resource').every(e => !/series|clips/.test(e.name))")
    page.click("#sort-fa-5")
    assert page.locator("#videos tbody tr").count() == 500
    context.close()


def test_filters_by_outcome_source_and_disagreement(page, small_review):
    first, second = (_outcomes(run).set_index("video_id")["outcome"] for run in small_review["runs"])
    page.click("#count-0-false-alarm")  # a count filters its run's videos of that outcome
    shown = page.eval_on_selector_all("#videos tbody tr td:first-child", "cells => cells.map(c => c.textContent)")
    assert shown == sorted(first[first == "false alarm"].index)
    page.select_option("#f-outcome", "")
    page.check("#f-disagree")
    shown = page.eval_on_selector_all("#videos tbody tr td:first-child", "cells => cells.map(c => c.textContent)")
    assert shown == sorted(first.index[first != second]) and shown
    page.uncheck("#f-disagree")
    page.select_option("#f-source", "dota")
    assert page.locator("#videos tbody tr").count() == 6
    assert page.text_content("#shown") == "6 of 12 videos"


def test_a_no_alarm_operating_point_draws_without_threshold_or_errors(browser, tmp_path):
    from review_fakes import synthetic_table

    from riskvision.alarm import AlarmPolicy, OperatingPoint
    from riskvision.evaluation.deployment import deployment_metrics
    from riskvision.evaluation.report import Run
    from riskvision.evaluation.summary import jsonable

    table = synthetic_table("binary", n_crash=2, n_normal=2)
    point = OperatingPoint(float("inf"), 0.0, "val", AlarmPolicy(), float("nan"), float("nan"), 1)
    metrics = jsonable(
        {"run": {"threshold": 0.5}, "deployment": deployment_metrics(table, 0.5, n_boot=2, operating_point=point)}
    )
    context, page, errors = _load(browser, write_review([Run("silent", tmp_path, table, metrics)], tmp_path / "review"))
    page.wait_for_function("window.REVIEW && window.REVIEW.readyMs > 0")
    assert page.text_content("#basis-0") == "operating point (no alarm)"
    assert "agrees" in page.text_content("#check-0") and "no alarm" in page.text_content("#policy-0")
    page.locator("#videos tbody tr").first.click()
    page.wait_for_function("k => window.REVIEW.hasSeries(k)", arg=page.evaluate("REVIEW.current()"))
    assert errors == []
    context.close()
