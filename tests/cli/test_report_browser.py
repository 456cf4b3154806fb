"""``theta report`` in a real browser: headless Chromium renders every picture and heading.

Needs Chromium, chromedriver (Debian packages ``chromium`` and ``chromium-driver``) and
``selenium``; without them the test is skipped, unless ``THETA_REQUIRE_ALL=1`` (CI sets it),
which turns the skip into a failure. A screenshot of each page is saved in the test's temporary
folder, or under ``$THETA_TEST_ARTIFACTS`` when that is set.
"""

import struct
from pathlib import Path

import pytest

from theta.cli import main

SECTIONS = ["Run", "Hyperparameters", "Parameters", "Pictures", "Final metrics", "Predictions"]


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    return struct.unpack(">II", path.read_bytes()[16:24])


@pytest.mark.slow
def test_the_report_renders_its_pictures_and_headings_in_chromium(tmp_path, capsys, chromium,
                                                                  full_page_screenshot):
    pytest.importorskip("matplotlib")
    run = tmp_path / "moons"
    assert main(["train", "--data", "moons", "--epochs", "3", "--out", str(run), "--quiet"]) == 0
    assert main(["report", str(run)]) == 0
    capsys.readouterr()
    chromium.get((run / "report.html").as_uri())
    images = chromium.execute_script(
        "return Array.from(document.images, i => ({alt: i.alt, complete: i.complete, "
        "width: i.naturalWidth, height: i.naturalHeight, "
        "shown: i.getBoundingClientRect().width, top: i.getBoundingClientRect().top}))"
    )
    headings = chromium.execute_script(
        "return Array.from(document.querySelectorAll('h1, h2'), "
        "h => [h.tagName.toLowerCase(), h.textContent])"
    )
    errors = [entry for entry in chromium.get_log("browser") if entry["level"] == "SEVERE"]
    screenshot = full_page_screenshot(chromium, "report_moons.png")
    assert headings == [["h1", "moons"]] + [["h2", title] for title in SECTIONS]
    pictures = {p.stem: _png_size(p) for p in run.glob("*.png")}
    assert set(pictures) == {"loss_curve", "confusion_matrix", "decision_boundary"}
    # the folder's pictures, and the metric curve the report draws beside the loss curve
    assert sorted(image["alt"] for image in images) == sorted([*pictures, "metric_curve"])
    for image in images:  # decoded (not broken), at the PNG's own size, and on the page
        size = pictures.get(image["alt"], (image["width"], image["height"]))
        assert image["complete"] and (image["width"], image["height"]) == size
        assert image["shown"] > 0 and image["width"] > 0
    beside = {image["alt"]: image["top"] for image in images}
    assert beside["metric_curve"] == beside["loss_curve"]  # side by side, one row
    assert errors == []  # nothing blocked or missing: the page needs nothing but itself
    assert screenshot.read_bytes().startswith(b"\x89PNG") and _png_size(screenshot)[1] > 900


@pytest.mark.slow
def test_the_comparison_renders_in_chromium(theta_cli, tmp_path, chromium, full_page_screenshot):
    pytest.importorskip("matplotlib")
    runs = tmp_path / "runs"
    for name, hidden in (("narrow", "4"), ("wide", "16")):
        result = theta_cli("train", "--data", "moons", "--epochs", "2", "--hidden", hidden,
                           "--out", str(runs / name), "--quiet")  # fmt: skip
        assert result.returncode == 0, result.stderr
    assert theta_cli("report", str(runs / "narrow"), str(runs / "wide")).returncode == 0
    chromium.get((runs / "compare.html").as_uri())
    images = chromium.execute_script(
        "return Array.from(document.images, i => ({alt: i.alt, complete: i.complete, "
        "width: i.naturalWidth, shown: i.getBoundingClientRect().width}))"
    )
    headings = chromium.execute_script(
        "return Array.from(document.querySelectorAll('h1, h2'), h => h.textContent)"
    )
    header = chromium.execute_script(
        "return Array.from(document.querySelectorAll('#hyperparameters + p + table th'), "
        "h => h.textContent)"
    )
    errors = [entry for entry in chromium.get_log("browser") if entry["level"] == "SEVERE"]
    screenshot = full_page_screenshot(chromium, "compare_report.png")
    assert headings == ["Comparing 2 runs", "Runs", "Hyperparameters", "Curves", "Final metrics"]
    assert header == ["", "name", "narrow", "wide"]  # both runs named, side by side
    assert sorted(image["alt"] for image in images) == ["loss_curves", "metric_curves"]
    assert all(image["complete"] and image["width"] > 0 and image["shown"] > 0
               for image in images)  # fmt: skip
    assert errors == []
    assert screenshot.read_bytes().startswith(b"\x89PNG")
