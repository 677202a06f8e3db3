"""``report.html``: one self-contained page (PNG plots inlined, thumbnails once each as CSS) that opens offline.

Every long section is bounded, so the page fits the screen and its size does not grow with the dataset: categories
as horizontal bars (the table shows the most-pruned ones, ``categories.csv`` holds all), near-duplicate groups as
thumbnail strips (the largest first, ``duplicates.csv`` holds all), cluster grids within a thumbnail budget shared by
the clusters. The CSV files are written beside the page.
"""

from __future__ import annotations

import base64
import csv
import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..datasets import Dataset
from . import plots
from .thumbnails import ThumbnailSheet

__all__ = ["ReportData", "html_table", "page", "png_tag", "render_report", "write_report"]
TABLE_ROWS = 25  # rows of a long table shown on the page; the CSV beside it has them all
GROUP_STRIP = 12  # thumbnails in one near-duplicate strip (the representative and 11 members)


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
    duplicate_groups: list[list[int]] = field(default_factory=list)  # image indices; the first stays in
    duplicate_similarity: list[list[float]] = field(default_factory=list)  # each member's cosine to the first
    max_duplicate_groups: int = 50
    max_thumbs_per_cluster: int = 40
    thumb_budget: int = 1000  # thumbnails in all cluster grids together (at least 6 a cluster)
    crops: object = None  # object level: embed.crops.Crops
    objects: object = None  # object level: objects.ObjectClusters
    embedding_map: bytes | None = None  # PNG: t-SNE of the image embeddings (report/embedding_map.py)


def png_tag(png: bytes, alt: str) -> str:
    """An inline ``<img>`` of PNG bytes."""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _crop_grids(data: ReportData, sheet: ThumbnailSheet) -> str:
    """Object level: crops of every object cluster, nearest to the prototype first, bordered by their image's fate."""
    crops, objects = data.crops, data.objects
    sections = []
    per_cluster = _per_cluster(len(objects.names), data.max_thumbs_per_cluster // 2, data.thumb_budget // 2)
    for cluster, name in objects.names.items():
        members = np.flatnonzero(objects.labels == cluster)
        if not len(members):
            continue
        members = members[np.argsort(objects.distances[members], kind="stable")]
        shown = members[_evenly_spaced(len(members), per_cluster)]
        cells = []
        for row in shown:
            image = int(crops.image_index[row])
            record = data.dataset.images[image]
            state = "kept" if data.kept[image] else "dropped"
            cells.append(
                sheet.figure(
                    ("crop", int(row)),
                    record.read_bytes,
                    region=crops.regions[row],
                    state=state,
                    title=f"{record.file_name} | d={objects.distances[row]:.4f} | {state}",
                    caption=f"{objects.distances[row]:.3f}",
                )
            )
        kept = int(data.kept[crops.image_index[members]].sum())
        sections.append(
            f"<h3>Object cluster {html.escape(name)}: {len(members)} crops, {kept} in kept images</h3>"
            f'<div class="grid">{"".join(cells)}</div>'
        )
    return "".join(sections)


def html_table(headers: list[str], rows: list[list[object]], *, scroll: bool = False) -> str:
    """A table; ``scroll`` puts a long one in a box of bounded height."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>' if scroll else table


def _evenly_spaced(n: int, limit: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def _per_cluster(clusters: int, most: int, budget: int) -> int:
    """Thumbnails per cluster: ``most``, fewer when ``clusters`` of them would pass ``budget`` (but at least 6)."""
    return min(most, max(6, budget // max(clusters, 1)))


def _cluster_grids(data: ReportData, sheet: ThumbnailSheet) -> str:
    sections = []
    clusters = np.unique(data.labels)
    per_cluster = _per_cluster(len(clusters), data.max_thumbs_per_cluster, data.thumb_budget)
    for cluster in clusters:
        members = np.flatnonzero(data.labels == cluster)
        members = members[np.argsort(data.distances[members], kind="stable")]
        shown = members[_evenly_spaced(len(members), per_cluster)]
        cells = []
        for index in shown:
            img = data.dataset.images[index]
            state = "kept" if data.kept[index] else "dropped"
            cells.append(
                sheet.figure(
                    int(index),
                    img.read_bytes,
                    state=state,
                    title=f"{img.file_name} | d={data.distances[index]:.4f} | {state}",
                    caption=f"{data.distances[index]:.3f}",
                )
            )
        kept = int(data.kept[members].sum())
        note = "" if len(shown) == len(members) else f" (showing {len(shown)}, evenly spaced by distance)"
        sections.append(
            f"<h3>Cluster {cluster}: {len(members)} images, {kept} kept{note}</h3>"
            f'<div class="grid">{"".join(cells)}</div>'
        )
    return "".join(sections)


def _category_rows(data: ReportData) -> list[list[object]]:
    """``[name, before, after, kept share]`` per category, the most pruned first."""
    before = data.dataset.box_counts()
    after = data.dataset.subset(data.kept).box_counts()
    rows = [[n, before[n], after.get(n, 0), after.get(n, 0) / before[n] if before[n] else 1.0] for n in before]
    return sorted(rows, key=lambda r: (r[3], -r[1]))


def _categories(data: ReportData, rows: list[list[object]]) -> str:
    shown = [[n, b, a, f"{share:.0%}"] for n, b, a, share in rows[:TABLE_ROWS]]
    more = f"<p>{len(rows) - TABLE_ROWS} more categories in categories.csv.</p>" if len(rows) > TABLE_ROWS else ""
    chart = plots.category_bars([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    return (
        "<h2>Per-category counts</h2><p>Most pruned first.</p>"
        + f'<div class="chart">{png_tag(chart, "boxes per category")}</div>'
        + html_table(["category", "before", "after", "kept share"], shown)
        + more
    )


def _duplicates(data: ReportData, sheet: ThumbnailSheet) -> str:
    """The largest near-duplicate groups as thumbnail strips: the representative kept for pruning, the others
    dropped before clustering."""
    order = sorted(range(len(data.duplicate_groups)), key=lambda g: (-len(data.duplicate_groups[g]), g))
    shown = order[: data.max_duplicate_groups]
    members_total = sum(len(g) - 1 for g in data.duplicate_groups)
    parts = [
        f"<h2>Near-duplicates ({len(data.duplicate_groups)} groups, {members_total} images dropped)</h2>"
        "<p>Each strip is one group, the largest first: its representative (green) stays in the pruning, the others "
        "(red) were dropped before clustering. All groups are listed in duplicates.csv and, per image, in "
        "scores.csv (<code>duplicate_of</code>).</p>"
    ]
    for number in shown:
        group = data.duplicate_groups[number]
        similarity = data.duplicate_similarity[number] if data.duplicate_similarity else []
        cells = []
        for position, index in enumerate(group[:GROUP_STRIP]):
            img = data.dataset.images[index]
            state = "kept" if position == 0 else "dropped"
            score = f"{similarity[position]:.3f}" if position and len(similarity) > position else ""
            cells.append(
                sheet.figure(
                    int(index),
                    img.read_bytes,
                    state=state,
                    title=f"{img.file_name} | {state}" + (f" | cosine {score}" if score else ""),
                    caption="kept" if position == 0 else score,
                )
            )
        spread = ""
        if len(similarity) > 1:
            spread = f", cosine {min(similarity[1:]):.3f}–{max(similarity[1:]):.3f} to the representative"
        more = f" (showing {GROUP_STRIP})" if len(group) > GROUP_STRIP else ""
        parts.append(
            f'<div class="strip"><p>{len(group)} images{spread}{more}: '
            f"{html.escape(data.dataset.images[group[0]].file_name)}</p>"
            f'<div class="grid">{"".join(cells)}</div></div>'
        )
    if len(order) > len(shown):
        parts.append(f"<p>{len(order) - len(shown)} smaller groups are not shown (see duplicates.csv).</p>")
    return "".join(parts)


def render_report(data: ReportData) -> str:
    """The report page as an HTML string."""
    return _render(data, _category_rows(data))


def _render(data: ReportData, category_rows: list[list[object]]) -> str:
    sheet = ThumbnailSheet()
    clusters, sizes = np.unique(data.labels, return_counts=True)
    kept_per_cluster = [int(data.kept[data.labels == c].sum()) for c in clusters]
    n_boxes_before = sum(r[1] for r in category_rows)
    n_boxes_after = sum(r[2] for r in category_rows)

    parts = [f"<h1>{html.escape(data.title)}</h1>"]
    parts.append(
        html_table(
            ["", "before", "after"],
            [["images", len(data.kept), int(data.kept.sum())], ["boxes / labels", n_boxes_before, n_boxes_after]],
        )
    )
    parts.append("<h2>Settings</h2>" + html_table(["setting", "value"], [[k, v] for k, v in data.settings.items()]))
    if data.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in data.notes) + "</ul>")
    if category_rows:
        parts.append(_categories(data, category_rows))
    if data.duplicate_groups:
        parts.append(_duplicates(data, sheet))
    if data.objects is not None:
        parts.append(
            "<h2>Object crops per cluster, nearest first</h2><p>Each box, cropped with context, was scored by its "
            "distance to the nearest prototype of its cluster; the image score aggregates its objects. Green: the "
            "crop's image was kept; red: dropped.</p>"
        )
        parts.append(_crop_grids(data, sheet))
    if data.embedding_map is not None:
        parts.append(
            "<h2>Embedding map</h2><p>Every image's embedding projected to 2-D (PCA to 50 dimensions, then t-SNE): "
            "colour is the cluster, dots were kept, crosses dropped, lines join near-duplicates.</p>"
        )
        parts.append(png_tag(data.embedding_map, "embedding map"))
    parts.append("<h2>Distance to nearest prototype</h2>")
    parts.append(png_tag(plots.distance_histogram(data.distances, data.kept, data.cut, data.cut_label), "histogram"))
    parts.append("<h2>Clusters</h2>")
    cluster_rows = [
        [int(c), int(n), k, f"{data.distances[data.labels == c].mean():.4f}"]
        for c, n, k in zip(clusters, sizes, kept_per_cluster)
    ]
    parts.append(html_table(["cluster", "images", "kept", "mean distance"], cluster_rows, scroll=True))
    parts.append(
        '<div class="chart">'
        + png_tag(
            plots.category_bars([str(c) for c in clusters], sizes.tolist(), kept_per_cluster, unit="images"),
            "cluster sizes",
        )
        + "</div>"
    )
    parts.append(
        "<h2>Images per cluster, nearest first</h2><p>Green border: kept. Red border: dropped. "
        "Hover for file name and distance.</p>"
    )
    parts.append(_cluster_grids(data, sheet))
    return page(data.title, parts, sheet.style())


STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}"
    "td:first-child{max-width:40em;overflow-wrap:anywhere}"
    ".scroll{max-height:24em;overflow-y:auto;display:inline-block}"
    ".chart{max-height:40em;overflow-y:auto}img{max-width:100%}"
    ".grid{display:flex;flex-wrap:wrap;gap:4px}figure{margin:0;border:3px solid;font-size:10px;"
    "text-align:center}figure.kept{border-color:#2a9d4b}figure.dropped{border-color:#d1495b;opacity:.75}"
    ".strip{margin:0 0 1em}.strip p{margin:.2em 0;font-size:12px;overflow-wrap:anywhere}"
)


def page(title: str, parts: list[str], extra_style: str = "") -> str:
    """A self-contained HTML page with the report style."""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}{extra_style}</style></head><body>{''.join(parts)}</body></html>"
    )


def write_report(data: ReportData, path: Path) -> Path:
    """Write the report page to ``path``, and beside it ``categories.csv`` (every category's counts) and, with
    near-duplicates, ``duplicates.csv`` (every group member and its similarity to the representative)."""
    rows = _category_rows(data)
    path.write_text(_render(data, rows), encoding="utf-8")
    with (path.parent / "categories.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["category", "before", "after", "kept_share"])
        writer.writerows([n, b, a, f"{share:.4f}"] for n, b, a, share in rows)
    if data.duplicate_groups:
        with (path.parent / "duplicates.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["group", "image", "role", "similarity_to_representative"])
            for number, group in enumerate(data.duplicate_groups):
                similarity = data.duplicate_similarity[number] if data.duplicate_similarity else []
                for position, index in enumerate(group):
                    role = "representative" if position == 0 else "duplicate"
                    value = f"{similarity[position]:.6f}" if position and len(similarity) > position else ""
                    writer.writerow([number, data.dataset.images[index].file_name, role, value])
    return path
