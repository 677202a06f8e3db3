"""Open a report page in headless Chromium (Debian's chromium and chromium-driver, driven by Selenium), print its
layout (page width against the window's, height, console errors) and save a screenshot.

    python tools/report_screenshot.py data/fod_report/report.html tools/results/report/fod_a_report.png \
        --scroll-to "Near-duplicates"

``--scroll-to TEXT`` scrolls the first heading that starts with TEXT to the top before the screenshot.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

SCROLL = """
const heading = Array.from(document.querySelectorAll('h2,h3')).find(h => h.textContent.startsWith(arguments[0]));
if (heading) heading.scrollIntoView();
return Boolean(heading);
"""
LAYOUT = (
    "const e = document.documentElement; return {width: e.scrollWidth, window: e.clientWidth, height: e.scrollHeight};"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1400)
    parser.add_argument("--scroll-to", help="heading text to scroll to the top first")
    args = parser.parse_args()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as profile:
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     f"--window-size={args.width},{args.height}", f"--user-data-dir={profile}"):  # fmt: skip
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            driver.get(args.page.resolve().as_uri())
            layout = driver.execute_script(LAYOUT)
            errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            if args.scroll_to and not driver.execute_script(SCROLL, args.scroll_to):
                raise SystemExit(f"{args.page}: no heading starts with {args.scroll_to!r}")
            args.png.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(args.png))
        finally:
            driver.quit()
    size = args.page.stat().st_size
    print(json.dumps({"page": str(args.page), "bytes": size, **layout, "console_errors": errors}))


if __name__ == "__main__":
    main()
