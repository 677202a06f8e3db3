"""The reports in a real browser (Debian's headless Chromium, driven by Selenium): no horizontal overflow at 1280 px,
no console errors, every image decodes, and the page height stays bounded as near-duplicate groups grow.

``make test`` installs ``chromium`` and ``chromium-driver`` (as root; otherwise it prints the apt-get command).
With ``EDGEPRUNE_UPDATE_SCREENSHOTS=1`` the tests also write the screenshots kept in ``tools/results/report/``.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeprune.cli import main
from edgeprune.datasets import Box, Category, Dataset, ImageRecord
from edgeprune.report.html import ReportData, write_report
from tests.conftest import REPO

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WIDTH = 1280
SCREENSHOTS = REPO / "tools" / "results" / "report"
# every data: URL in the page's style sheets and <img> tags, decoded by the browser; resolves to the failures
DECODE_ALL = """
const done = arguments[arguments.length - 1];
const urls = Array.from(document.images).map(i => i.src);
for (const sheet of document.styleSheets) for (const rule of sheet.cssRules) {
  const m = rule.cssText.match(/url\\("?(data:[^")]+)"?\\)/); if (m) urls.push(m[1]);
}
const decode = u => { const i = new Image(); i.src = u; return i.decode().then(() => null, () => u.slice(0, 40)); };
Promise.all(urls.map(decode))
  .then(r => done({count: urls.length, failed: r.filter(x => x)}));
"""

# the page's width, visible width and height, once it is loaded and laid out
LAYOUT = """
const done = arguments[arguments.length - 1];
const measure = () => requestAnimationFrame(() => requestAnimationFrame(() => {
  const e = document.documentElement;
  done({scroll: e.scrollWidth, client: e.clientWidth, height: e.scrollHeight});
}));
if (document.readyState === "complete") measure(); else window.addEventListener("load", measure);
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (Path(CHROMIUM).is_file() and Path(DRIVER).is_file()):
        pytest.skip("Chromium not installed: make test installs it (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
        f"--window-size={WIDTH},900", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def inspect(driver, page: Path, screenshot: str | None = None) -> dict:
    """Open ``page``; its layout, console errors and image decoding."""
    driver.get(page.as_uri())
    layout = driver.execute_async_script(LAYOUT)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    decoded = driver.execute_async_script(DECODE_ALL)
    if screenshot and os.environ.get("EDGEPRUNE_UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.set_window_size(WIDTH, 1600)
        driver.save_screenshot(str(SCREENSHOTS / screenshot))
        driver.set_window_size(WIDTH, 900)
    return {**layout, "errors": errors, **decoded}


def _jpeg(rng: np.random.Generator, size: int = 40) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buffer, format="JPEG", quality=60)
    return buffer.getvalue()


def generated_report(out: Path, *, classes: int = 80, groups: int = 500, images: int = 2000, k: int = 30) -> Path:
    """A report of ``images`` generated images, ``classes`` long-named categories and ``groups`` near-duplicate
    groups (2 to 40 members), written into ``out``."""
    rng = np.random.default_rng(0)
    pool = [_jpeg(rng) for _ in range(64)]  # 64 distinct pictures, reused: the page must still scale by count
    categories = [Category(i + 1, f"category_with_a_long_name_{i:03d}") for i in range(classes)]
    records = [
        ImageRecord(i, f"frames/video_{i // 100:03d}/frame_{i:06d}.jpg", 40, 40, encoded=pool[i % len(pool)],
                    boxes=[Box(int(rng.integers(1, classes + 1)), (2, 2, 10, 10)) for _ in range(3)])
        for i in range(images)
    ]  # fmt: skip
    dataset = Dataset(records, categories, "coco")
    order = rng.permutation(images)
    sizes = np.minimum(2 + rng.zipf(1.6, groups), 40)
    starts = np.r_[0, np.cumsum(sizes)][:groups]
    duplicate_groups = [order[s : s + n].tolist() for s, n in zip(starts % (images - 40), sizes)]
    similarity = [[1.0] + sorted(rng.uniform(0.95, 1.0, len(g) - 1).round(4).tolist()) for g in duplicate_groups]
    labels = rng.integers(0, k, images)
    out.mkdir(parents=True, exist_ok=True)
    data = ReportData(
        f"generated: {classes} classes, {groups} duplicate groups",
        {"k": k},
        dataset,
        labels,
        rng.uniform(0, 1, images),
        rng.uniform(0, 1, images) < 0.5,
        duplicate_groups=duplicate_groups,
        duplicate_similarity=similarity,
    )
    return write_report(data, out / "report.html")


def test_bccd_report_fits_and_decodes(browser, bccd, tmp_path, tiny_backbone):
    out = tmp_path / "bccd"
    argv = ["-q", "curate", str(bccd), "--out", str(out), "--backbone", str(tiny_backbone), "--image-size", "32"]
    assert main([*argv, "--cache-dir", str(tmp_path / "cache"), "--dedup", "0.995", "-k", "8"]) == 0
    found = inspect(browser, out / "report.html", "bccd_report.png")
    assert found["scroll"] <= found["client"], found
    assert not found["errors"], found["errors"]
    assert found["count"] > 50 and not found["failed"], found


def test_generated_report_at_80_classes_and_500_groups_is_bounded(browser, tmp_path):
    small = inspect(browser, generated_report(tmp_path / "g100", groups=100))
    large = inspect(browser, generated_report(tmp_path / "g500", groups=500), "generated_report.png")
    assert large["scroll"] <= large["client"], large  # 80 class names fit: no horizontal scrollbar
    assert not large["errors"] and not large["failed"], large
    assert abs(large["height"] - small["height"]) < 200, (small["height"], large["height"])  # 50 strips either way
    html = (tmp_path / "g500" / "report.html").read_text()
    assert html.count('class="strip"') == 50 and "450 smaller groups are not shown" in html
    assert (tmp_path / "g500" / "report.html").stat().st_size < 5_000_000  # noise thumbnails: the worst case
    rows = (tmp_path / "g500" / "duplicates.csv").read_text().splitlines()
    members = sum(1 for line in rows[1:])
    assert members == sum(len(g) for g in _groups_of(tmp_path / "g500"))
    assert len((tmp_path / "g500" / "categories.csv").read_text().splitlines()) == 81


def _groups_of(folder: Path) -> list[list[str]]:
    import csv

    groups: dict[str, list[str]] = {}
    with (folder / "duplicates.csv").open() as handle:
        for row in csv.DictReader(handle):
            groups.setdefault(row["group"], []).append(row["image"])
    return list(groups.values())


def test_each_thumbnail_is_embedded_once(tmp_path):
    page = generated_report(tmp_path, groups=200).read_text()
    rules = page.count("{background-image:url(")
    used = re.findall(r'<i class="th (t\d+)"></i>', page)
    assert len(set(used)) == rules < len(used)  # an image in a cluster grid and a duplicate strip is stored once


def test_per_cluster_thumbnails_shrink_with_many_clusters(tmp_path):
    page = generated_report(tmp_path, groups=0, k=100).read_text()
    assert page.count("(showing 10, evenly spaced by distance)") > 50  # 1000 thumbnails over 100 clusters
