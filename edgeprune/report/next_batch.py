"""The ``select`` report: the picked images in pick order, the embedding map with the pool, the labelled set and
the picks marked, and each objective's histogram."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from . import plots
from .embedding_map import embedding_map_png
from .html import html_table, page, png_tag
from .thumbnails import ThumbnailSheet

SHOWN = 500  # picked images shown as thumbnails, in pick order


def render_select_report(pool, picked, shown, pool_features, labeled_features, result, options) -> str:
    """The page as an HTML string."""
    sheet = ThumbnailSheet()
    chosen = np.zeros(len(pool), bool)
    chosen[picked] = True
    parts = [f"<h1>edgeprune select: {html.escape(str(options.out.name))}</h1>"]
    parts.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in result.lines()) + "</ul>")
    settings = [["budget", options.budget], ["threshold (near-copy)", options.threshold], ["seed", options.seed]]
    settings += [[f"strength: {name}", strength] for name, strength in result.objectives.items()]
    parts.append(html_table(["setting", "value"], settings))
    if options.map_points and len(pool_features) + len(labeled_features) >= 2:
        features = np.concatenate([pool_features, labeled_features])
        source = np.r_[np.zeros(len(pool_features), int), np.ones(len(labeled_features), int)]
        marked = np.r_[chosen, np.ones(len(labeled_features), bool)]
        png = embedding_map_png(
            features, source * 2, marked, max_points=options.map_points, seed=options.seed,
            marks=("picked or labelled", "pool, not picked"), colour="pool (blue) / labelled (orange)",
        )  # fmt: skip
        parts += ["<h2>Embedding map</h2>", png_tag(png, "embedding map")]
    parts.append("<h2>Objectives</h2>")
    for name, values in shown.items():
        if name in result.objectives:
            parts.append(png_tag(plots.score_histogram(values, chosen, xlabel=f"{name} score"), f"{name} histogram"))
    figures = [
        sheet.figure(
            int(index),
            pool.images[int(index)].read_bytes,
            state="kept",
            title=f"{pool.images[int(index)].file_name} | pick {rank}",
            caption=f"#{rank}",
        )  # fmt: skip
        for rank, index in enumerate(picked[:SHOWN])
    ]
    more = f" (the first {SHOWN})" if len(picked) > SHOWN else ""
    parts += [f"<h2>Picked, in order{more}</h2>", '<div class="grid">' + "".join(figures) + "</div>"]
    return page(f"edgeprune select: {options.out.name}", parts, sheet.style())


def write_select_report(path: Path, *args) -> Path:
    """Write the page to ``path``."""
    path.write_text(render_select_report(*args))
    return path
