"""``theta report`` in a real browser: headless Chromium renders every picture and heading.

Needs Chromium, chromedriver (Debian packages ``chromium`` and ``chromium-driver``) and
``selenium``; without them the test is skipped, unless ``THETA_REQUIRE_ALL=1`` (CI sets it),
which turns the skip into a failure. A screenshot of the page is saved in the test's temporary
folder, or under ``$THETA_TEST_ARTIFACTS`` when that is set.
"""

import os
import shutil
import struct
from pathlib import Path

import pytest

from theta.cli import main

SECTIONS = ["Hyperparameters", "Parameters", "Pictures", "Final metrics", "Predictions"]


def _chromium():
    """A headless Chromium driven by selenium; skips (or fails, if required) without one."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install selenium)")
    if missing:
        reason = "the report's browser test needs " + ", ".join(missing)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    return struct.unpack(">II", path.read_bytes()[16:24])


@pytest.mark.slow
def test_the_report_renders_its_pictures_and_headings_in_chromium(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run = tmp_path / "moons"
    assert main(["train", "--data", "moons", "--epochs", "3", "--out", str(run), "--quiet"]) == 0
    assert main(["report", str(run)]) == 0
    capsys.readouterr()
    driver = _chromium()
    try:
        driver.set_window_size(1200, 900)
        driver.get((run / "report.html").as_uri())
        images = driver.execute_script(
            "return Array.from(document.images, i => ({alt: i.alt, complete: i.complete, "
            "width: i.naturalWidth, height: i.naturalHeight, "
            "shown: i.getBoundingClientRect().width}))"
        )
        headings = driver.execute_script(
            "return Array.from(document.querySelectorAll('h1, h2'), "
            "h => [h.tagName.toLowerCase(), h.textContent])"
        )
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1200, min(height + 100, 8000))
        artifacts = Path(os.environ.get("THETA_TEST_ARTIFACTS", tmp_path / "artifacts"))
        artifacts.mkdir(parents=True, exist_ok=True)
        screenshot = artifacts / "report_moons.png"
        assert driver.save_screenshot(str(screenshot))
    finally:
        driver.quit()
    assert headings == [["h1", "moons"]] + [["h2", title] for title in SECTIONS]
    pictures = {p.stem: _png_size(p) for p in run.glob("*.png")}
    assert set(pictures) == {"loss_curve", "confusion_matrix", "decision_boundary"}
    assert sorted(image["alt"] for image in images) == sorted(pictures)
    for image in images:  # decoded (not broken), at the PNG's own size, and on the page
        assert image["complete"] and (image["width"], image["height"]) == pictures[image["alt"]]
        assert image["shown"] > 0
    assert errors == []  # nothing blocked or missing: the page needs nothing but itself
    assert screenshot.read_bytes().startswith(b"\x89PNG") and _png_size(screenshot)[1] > 900
