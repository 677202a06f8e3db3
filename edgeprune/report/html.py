"""``report.html``: one self-contained page (PNG plots and JPEG thumbnails inlined as base64) that opens offline."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..datasets import Dataset
from ..errors import EdgepruneError
from ..images import load_rgb
from . import plots

THUMB_SIZE = 72


@dataclass
class ReportData:
    """Everything the report shows; built by the curate pipeline."""

    title: str
    settings: dict[str, object]
    dataset: Dataset
    labels: np.ndarray
    distances: np.ndarray
    kept: np.ndarray
    cut: float | None = None
    cut_label: str = ""
    notes: list[str] = field(default_factory=list)
    duplicate_groups: list[list[str]] = field(default_factory=list)  # file names; the first stays in
    max_thumbs_per_cluster: int = 40
    crops: object = None  # object level: embed.crops.Crops
    objects: object = None  # object level: objects.ObjectClusters
    embedding_map: bytes | None = None  # PNG: t-SNE of the image embeddings (report/embedding_map.py)


def png_tag(png: bytes, alt: str) -> str:
    """An inline ``<img>`` of PNG bytes."""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def thumbnail_jpeg(data: bytes, region: np.ndarray | None = None) -> str:
    """A base64 JPEG thumbnail of an image, or of the ``region`` (x1, y1, x2, y2 pixels) cut from it."""
    from PIL import Image

    try:
        im = Image.fromarray(load_rgb(data))  # upright, as boxes and crops are
    except EdgepruneError:
        return ""
    if region is not None:
        im = im.crop(tuple(int(round(v)) for v in region))
    im.thumbnail((THUMB_SIZE, THUMB_SIZE))
    buffer = io.BytesIO()
    im.save(buffer, format="JPEG", quality=80)
    return base64.b64encode(buffer.getvalue()).decode()


def _crop_grids(data: ReportData) -> str:
    """Object level: crops of every object cluster, nearest to the prototype first, bordered by their image's fate."""
    crops, objects = data.crops, data.objects
    sections = []
    encoded: dict[int, bytes] = {}
    for cluster, name in objects.names.items():
        members = np.flatnonzero(objects.labels == cluster)
        if not len(members):
            continue
        members = members[np.argsort(objects.distances[members], kind="stable")]
        shown = members[_evenly_spaced(len(members), data.max_thumbs_per_cluster // 2)]
        cells = []
        for row in shown:
            image = int(crops.image_index[row])
            if image not in encoded:
                encoded[image] = data.dataset.images[image].read_bytes()
            state = "kept" if data.kept[image] else "dropped"
            title = html.escape(f"{data.dataset.images[image].file_name} | d={objects.distances[row]:.4f} | {state}")
            cells.append(
                f'<figure class="{state}" title="{title}"><img src="data:image/jpeg;base64,'
                f'{thumbnail_jpeg(encoded[image], crops.regions[row])}"><figcaption>'
                f"{objects.distances[row]:.3f}</figcaption></figure>"
            )
        kept = int(data.kept[crops.image_index[members]].sum())
        sections.append(
            f"<h3>Object cluster {html.escape(name)}: {len(members)} crops, {kept} in kept images</h3>"
            f'<div class="grid">{"".join(cells)}</div>'
        )
    return "".join(sections)


def html_table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _evenly_spaced(n: int, limit: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def _cluster_grids(data: ReportData) -> str:
    sections = []
    for cluster in np.unique(data.labels):
        members = np.flatnonzero(data.labels == cluster)
        members = members[np.argsort(data.distances[members], kind="stable")]
        shown = members[_evenly_spaced(len(members), data.max_thumbs_per_cluster)]
        cells = []
        for index in shown:
            img = data.dataset.images[index]
            state = "kept" if data.kept[index] else "dropped"
            title = html.escape(f"{img.file_name} | d={data.distances[index]:.4f} | {state}")
            cells.append(
                f'<figure class="{state}" title="{title}"><img src="data:image/jpeg;base64,'
                f'{thumbnail_jpeg(img.read_bytes())}"><figcaption>{data.distances[index]:.3f}</figcaption>'
                "</figure>"
            )
        kept = int(data.kept[members].sum())
        note = "" if len(shown) == len(members) else f" (showing {len(shown)}, evenly spaced by distance)"
        sections.append(
            f"<h3>Cluster {cluster}: {len(members)} images, {kept} kept{note}</h3>"
            f'<div class="grid">{"".join(cells)}</div>'
        )
    return "".join(sections)


def render_report(data: ReportData) -> str:
    """The report page as an HTML string."""
    before = data.dataset.box_counts()
    after = data.dataset.subset(data.kept).box_counts()
    names = list(before)
    clusters, sizes = np.unique(data.labels, return_counts=True)
    kept_per_cluster = [int(data.kept[data.labels == c].sum()) for c in clusters]
    n_kept = int(data.kept.sum())
    n_boxes_before = sum(before.values())
    n_boxes_after = sum(after.values())

    parts = [f"<h1>{html.escape(data.title)}</h1>"]
    parts.append(
        html_table(
            ["", "before", "after"],
            [
                ["images", len(data.kept), n_kept],
                ["boxes / labels", n_boxes_before, n_boxes_after],
            ],
        )
    )
    parts.append("<h2>Settings</h2>" + html_table(["setting", "value"], [[k, v] for k, v in data.settings.items()]))
    if data.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in data.notes) + "</ul>")
    if names:
        parts.append("<h2>Per-category counts</h2>")
        parts.append(
            html_table(
                ["category", "before", "after", "kept share"],
                [
                    [n, before[n], after.get(n, 0), f"{after.get(n, 0) / before[n]:.0%}" if before[n] else "-"]
                    for n in names
                ],
            )
        )
        parts.append(
            png_tag(
                plots.grouped_bars(
                    names,
                    [before[n] for n in names],
                    [after.get(n, 0) for n in names],
                    ylabel="boxes",
                    title="Boxes per category",
                ),
                "boxes per category",
            )
        )
    if data.duplicate_groups:
        parts.append(
            f"<h2>Near-duplicates ({len(data.duplicate_groups)} groups)</h2><p>The first image of each group stays "
            "in the pruning; the others were dropped before clustering.</p>"
        )
        rows = [[group[0], ", ".join(group[1:])] for group in data.duplicate_groups]
        parts.append(html_table(["kept for pruning", "dropped as duplicates"], rows))
    if data.objects is not None:
        parts.append(
            "<h2>Object crops per cluster, nearest first</h2><p>Each box, cropped with context, was scored by its "
            "distance to the nearest prototype of its cluster; the image score aggregates its objects. Green: the "
            "crop's image was kept; red: dropped.</p>"
        )
        parts.append(_crop_grids(data))
    if data.embedding_map is not None:
        parts.append(
            "<h2>Embedding map</h2><p>Every image's embedding projected to 2-D (PCA to 50 dimensions, then t-SNE): "
            "colour is the cluster, dots were kept, crosses dropped, lines join near-duplicates.</p>"
        )
        parts.append(png_tag(data.embedding_map, "embedding map"))
    parts.append("<h2>Distance to nearest prototype</h2>")
    parts.append(png_tag(plots.distance_histogram(data.distances, data.kept, data.cut, data.cut_label), "histogram"))
    parts.append("<h2>Clusters</h2>")
    parts.append(
        html_table(
            ["cluster", "images", "kept", "mean distance"],
            [
                [int(c), int(s), k, f"{data.distances[data.labels == c].mean():.4f}"]
                for c, s, k in zip(clusters, sizes, kept_per_cluster)
            ],
        )
    )
    parts.append(
        png_tag(
            plots.grouped_bars(
                [str(c) for c in clusters], sizes.tolist(), kept_per_cluster, ylabel="images", title="Cluster sizes"
            ),
            "cluster sizes",
        )
    )
    parts.append(
        "<h2>Images per cluster, nearest first</h2><p>Green border: kept. Red border: dropped. "
        "Hover for file name and distance.</p>"
    )
    parts.append(_cluster_grids(data))
    return page(data.title, parts)


STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}"
    ".grid{display:flex;flex-wrap:wrap;gap:4px}figure{margin:0;border:3px solid;font-size:10px;"
    "text-align:center}figure.kept{border-color:#2a9d4b}figure.dropped{border-color:#d1495b;opacity:.75}"
    f"figure img{{width:{THUMB_SIZE}px;height:{THUMB_SIZE}px;object-fit:cover;display:block}}"
)


def page(title: str, parts: list[str], extra_style: str = "") -> str:
    """A self-contained HTML page with the report style."""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}{extra_style}</style></head><body>{''.join(parts)}</body></html>"
    )


def write_report(data: ReportData, path: Path) -> Path:
    """Write the report page to ``path``."""
    path.write_text(render_report(data), encoding="utf-8")
    return path
