"""Size of ``report.html`` at scale: the generated report of the browser tests (noise thumbnails, the worst case
for JPEG) at 100k images, k = 100 and 5,000 near-duplicate groups, against the same at 2,000 images.

    PYTHONPATH=. python tools/bench_report.py   # writes tools/results/report/size.json

(``PYTHONPATH=.``: it builds the report with the browser tests' generator, ``tests/report/test_browser.py``.)
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from tests.report.test_browser import generated_report

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for images, k, groups in ((2_000, 30, 500), (100_000, 100, 5_000)):
            started = time.perf_counter()
            page = generated_report(Path(tmp) / f"{images}", classes=100, groups=groups, images=images, k=k)
            html = page.read_text()
            rows.append(
                {
                    "images": images,
                    "clusters": k,
                    "duplicate_groups": groups,
                    "classes": 100,
                    "bytes": page.stat().st_size,
                    "thumbnails": html.count("{background-image:url("),
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
            print(rows[-1])
    out = REPO / "tools" / "results" / "report" / "size.json"
    out.write_text(json.dumps({"rows": rows, "limit_bytes": 5_000_000}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
