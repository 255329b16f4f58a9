"""`combtf coverage`: the measure's premise on rendered faces, a run where one identity never opens
its mouth, the report's files, and the page in a real browser."""
from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from combtf.analysis.coverage import mouth_difference
from combtf.data.synthetic import make_identities, render, sample_performance
from tests.helpers import run

# A 32 px comb trained on a synthetic set where ben never opens his mouth (about 3 minutes on
# 2 cores): the smallest training tried whose decoders render ada's and cleo's open mouths well
# (docs/experiments/coverage.md: at 1000 images per level, or starting at 8 px, recall fell to 0.48 / 0.08).
SMALL = ["--max-resolution", "32", "--width", "0.125", "--latent-dim", "512",
         "--shared-decoder-levels", "3", "--batch-size", "4", "--images-per-level", "2000", "--lr", "0.002",
         "--l1-weight", "1", "--no-warp", "--no-affine", "--no-color", "--preview-every", "0", "--quiet"]
OPEN, BEYOND = 0.5, 0.2  # a mouth open this far (or more) is one ben never shows; ben's stay <= 0.1


def test_a_mouth_rendered_closed_scores_higher_than_another_face_with_the_same_mouth() -> None:
    """The measure's premise: another identity doing the same expression keeps the mouth region's
    structure; the same frame with the mouth shut does not."""
    ada, ben = make_identities(2)
    rng = np.random.default_rng(0)
    covered, uncovered = [], []
    for _ in range(20):
        perf = dataclasses.replace(sample_performance(rng), mouth_open=float(rng.uniform(0.6, 1.0)))
        frame = render(ada, perf, 64)[0][None] / 255.0
        same = render(ben, perf, 64)[0][None] / 255.0
        shut = render(ben, dataclasses.replace(perf, mouth_open=0.0), 64)[0][None] / 255.0
        covered.append(mouth_difference(frame, same)[0])
        uncovered.append(mouth_difference(frame, shut)[0])
    assert mouth_difference(frame, frame)[0] < 1e-4
    assert np.mean(np.array(uncovered) > np.array(covered)) >= 0.9, (covered, uncovered)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    root = tmp_path_factory.mktemp("coverage")
    result = run("demo-data", root / "set", "--images", "150", "--eval-images", "1", "--size", "32", "--closed-mouth", "ben")
    assert result.exit_code == 0, result.output
    result = run("train", "--data", root / "set" / "train", "--out", root / "run", *SMALL)
    assert result.exit_code == 0, result.output
    page, data = root / "coverage.html", root / "coverage.json"
    result = run("coverage", "--model", root / "run", "--method", "pca", "--out", page, "--json", data)
    assert result.exit_code == 0, result.output
    assert "ada -> ben" in result.output and "coverage" in result.output
    return page, json.loads(data.read_text()), root / "set" / "train"


def mouth_opening(train: Path, name: str) -> dict[str, float]:
    """The synthetic set's ground truth: each training frame's mouth opening."""
    with open(train / name / "performances.csv") as table:
        return {row["stem"]: float(row["mouth_open"]) for row in csv.DictReader(table)}


@pytest.mark.parametrize("source", ["ada", "cleo"])
def test_frames_with_a_mouth_ben_never_opens_are_uncovered(report: tuple[Path, dict, Path], source: str) -> None:
    _, data, train = report
    pair = next(p for p in data["pairs"] if (p["from"], p["to"]) == (source, "ben"))
    opening = mouth_opening(train, source)
    flagged = {Path(p).stem for p in pair["uncovered"]}
    clearly_open = {stem for stem, value in opening.items() if value >= OPEN}
    precision = np.mean([opening[stem] > BEYOND for stem in flagged])
    recall = len(flagged & clearly_open) / len(clearly_open)
    assert precision >= 0.8 and recall >= 0.5, (precision, recall, pair["threshold"])


def test_pairs_that_overlap_fully_come_out_covered(report: tuple[Path, dict, Path]) -> None:
    """ada and cleo open their mouths alike, and ada and cleo can render all that ben does."""
    _, data, _ = report
    full = [p for p in data["pairs"] if p["to"] != "ben"]
    assert len(full) == 4 and all(p["coverage"] >= 0.85 for p in full), [(p["from"], p["to"], p["coverage"]) for p in full]


def test_json_lists_every_pair_and_its_uncovered_frames(report: tuple[Path, dict, Path]) -> None:
    _, data, train = report
    pairs = {(p["from"], p["to"]): p for p in data["pairs"]}
    assert set(pairs) == {(a, b) for a in ("ada", "ben", "cleo") for b in ("ada", "ben", "cleo") if a != b}
    for (a, b), pair in pairs.items():
        frames = len(list((train / a).glob("*.png")))
        assert pair["coverage"] == pytest.approx(1 - len(pair["uncovered"]) / frames, abs=1e-4)
        assert all(Path(p).parent == train / a for p in pair["uncovered"])
        assert all(Path(p).parent == train / b for p in pair["nearest"])
        assert pair["scores"] == sorted(pair["scores"], reverse=True)  # worst first
        assert all(s > pair["threshold"] for s in pair["scores"])


def test_the_page_is_self_contained(report: tuple[Path, dict, Path]) -> None:
    page, _, _ = report
    text = page.read_text()
    assert 'src="http' not in text and 'href="http' not in text and "<link" not in text and "url(" not in text
    assert text.count("data:image/png;base64,") >= 3 * 150  # every frame's image is inside


def test_hovering_a_point_shows_its_frame_in_a_real_browser(report: tuple[Path, dict, Path]) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (`make test` installs it where it runs as root with apt)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    page_file, _, _ = report
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())
            assert not page.locator("#tip").is_visible()
            point = page.locator("#map circle").nth(5)
            point.hover()
            assert page.locator("#tip").is_visible()
            assert page.locator("#tip-img").get_attribute("src").startswith("data:image/png;base64,")
            assert page.locator("#tip-img").evaluate("img => img.complete && img.naturalWidth") > 0  # it decoded
            assert page.locator("#tip-text").inner_text().startswith(("ada: ", "ben: ", "cleo: "))
            point.click()
            rows = page.locator("#near .near-row")
            assert rows.count() == 3 and rows.nth(0).locator("img").count() >= 1
        finally:
            browser.close()
