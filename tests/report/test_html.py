import base64
import re

import numpy as np

from edgeprune.datasets import read_dataset
from edgeprune.report.html import ReportData, write_report


def test_report_is_self_contained_with_plots_and_marked_thumbnails(tmp_path, digits_coco):
    dataset = read_dataset(digits_coco)
    n = len(dataset)
    labels = np.arange(n) % 3
    distances = np.linspace(0, 1, n)
    kept = distances > 0.5
    page = write_report(
        ReportData(
            "t",
            {"k": 3},
            dataset,
            labels,
            distances,
            kept,
            cut=0.5,
            cut_label="cut",
            notes=["a note"],
            max_thumbs_per_cluster=5,
        ),
        tmp_path / "r.html",
    ).read_text()
    assert "http" not in page.replace("http-equiv", "")
    pngs = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(pngs) == 3 and all(base64.b64decode(p).startswith(b"\x89PNG") for p in pngs)
    assert page.count("<figure") == 15 and "showing 5, evenly spaced" in page
    assert page.count('class="kept"') + page.count('class="dropped"') == 15
    assert "Per-category counts" in page and "a note" in page
