"""Category mapping: merge, rename and drop classes of a dataset once it is read (``--map-categories``).

The spec is what FiftyOne's ``map_labels`` and Roboflow's class remapping take, as text or as a file:

- ``'car=vehicle,truck=vehicle'`` merges two classes into one (``vehicle``);
- ``'rbc=red_cell'`` renames a class;
- ``'Platelets='`` (an empty target) drops a class: its boxes go, its images stay, as background;
- ``'*=debris'``: ``*`` stands for every class the spec does not name, here for class-agnostic detection;
- a ``.yaml``/``.yml``/``.json`` file holding one mapping ``{source: target}``, where a null or empty target drops.

Classes the spec does not name (and no ``*``) keep their names. A merged class keeps the smallest id of the classes
that form it and a renamed one keeps its id, so the format writers' id rules (TFRecord's 1..N, YOLO's 0..N-1) apply
to the result as to any dataset. Mapping a class that the dataset lacks, or mapping every box away, is an error.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from ..errors import EdgepruneError, first_line
from .types import Category, Dataset

log = logging.getLogger(__name__)
WILDCARD = "*"
# A reader keeps the source annotation record for its own writer; a changed class list makes those records stale.
# (YOLO keeps the key, as None, so that its writer keeps the source's folder layout and writes the label anew.)
STALE_SOURCE_KEYS = ("voc_xml", "tfrecord_record")


def parse_mapping(spec: str | Path) -> dict[str, str | None]:
    """``{source class: target class, or None to drop}`` from ``SRC=DST,...`` text or a YAML/JSON file."""
    text = str(spec).strip()
    if Path(text).suffix.lower() in (".yaml", ".yml", ".json"):
        return _mapping_file(Path(text))
    if not text:
        raise EdgepruneError("map_categories=... is empty; give SRC=DST pairs such as '*=debris'")
    mapping: dict[str, str | None] = {}
    for part in text.split(","):
        source, sep, target = part.partition("=")
        source, target = source.strip(), target.strip()
        if not sep or not source:
            raise EdgepruneError(
                f"--map-categories: {part.strip()!r} is not SRC=DST (e.g. 'car=vehicle', 'Platelets=' to drop, "
                "'*=debris'), nor a .yaml/.json file"
            )
        if source in mapping:
            raise EdgepruneError(f"map_categories: {source!r} is mapped twice")
        mapping[source] = target or None
    return mapping


def _mapping_file(path: Path) -> dict[str, str | None]:
    if not path.is_file():
        raise EdgepruneError(f"{path}: no such mapping file (map_categories={path})")
    try:
        if path.suffix.lower() == ".json":
            document = json.loads(path.read_text())
        else:
            import yaml

            document = yaml.safe_load(path.read_text())
    except Exception as exc:  # JSONDecodeError, yaml.YAMLError, OSError
        raise EdgepruneError(f"{path}: cannot read the mapping ({first_line(exc)})")
    if not isinstance(document, dict) or not document:
        raise EdgepruneError(f"{path}: a mapping file holds one non-empty mapping {{source class: target class}}")
    mapping: dict[str, str | None] = {}
    for source, target in document.items():
        if target is not None and not isinstance(target, (str, int)):
            raise EdgepruneError(f"{path}: the target of {source!r} must be a class name or null, got {target!r}")
        mapping[str(source)] = (str(target).strip() or None) if target is not None else None
    return mapping


def map_categories(dataset: Dataset, spec: str | Path | dict[str, str | None]) -> Dataset:
    """A copy of ``dataset`` with its classes merged, renamed or dropped as ``spec`` says (see the module doc).

    Image records are copied, never edited in place; images whose boxes change lose the source annotation record
    their reader kept, so every writer writes the mapped boxes."""
    mapping = parse_mapping(spec) if not isinstance(spec, dict) else dict(spec)
    names = [c.name for c in dataset.categories]
    unknown = [s for s in mapping if s != WILDCARD and s not in names]
    if unknown:
        raise EdgepruneError(
            f"--map-categories names {', '.join(map(repr, unknown))}, not a class of {dataset.source}; its classes "
            f"are {', '.join(names[:20])}{' ...' if len(names) > 20 else ''}"
        )
    target_of = {c.id: mapping.get(c.name, mapping.get(WILDCARD, c.name)) for c in dataset.categories}
    categories, new_id = _mapped_categories(dataset.categories, target_of)
    if not categories:
        raise EdgepruneError(f"map_categories drops every class of {dataset.source}; nothing would be left to detect")
    images, changed = [], 0
    for img in dataset.images:
        boxes = [
            dataclasses.replace(b, category_id=new_id[b.category_id]) for b in img.boxes if b.category_id in new_id
        ]
        label = new_id.get(img.label) if img.label is not None else None
        same = [(b.category_id, b.bbox) for b in boxes] == [(b.category_id, b.bbox) for b in img.boxes]
        extra = dict(img.extra)
        if not same or label != img.label:
            changed += 1
        if any(target_of[c.id] != c.name for c in dataset.categories):
            for key in STALE_SOURCE_KEYS:
                extra.pop(key, None)
            if "yolo_label" in extra:
                extra["yolo_label"] = None
        images.append(dataclasses.replace(img, boxes=boxes, label=label, extra=extra))
    mapped = dataclasses.replace(dataset, images=images, categories=categories)
    if not mapped.num_boxes() and not any(img.label is not None for img in images):
        raise EdgepruneError(f"map_categories leaves no labelled object in {dataset.source}")
    log.info(
        "mapped categories: %d -> %d (%s); %d images changed",
        len(dataset.categories),
        len(categories),
        ", ".join(c.name for c in categories[:10]) + (" ..." if len(categories) > 10 else ""),
        changed,
    )
    return mapped


def _mapped_categories(
    categories: list[Category], target_of: dict[int, str | None]
) -> tuple[list[Category], dict[int, int]]:
    """The new category list (each target once, with the smallest id of its sources) and old id -> new id."""
    groups: dict[str, list[Category]] = {}
    for category in sorted(categories, key=lambda c: c.id):
        target = target_of[category.id]
        if target is not None:
            groups.setdefault(target, []).append(category)
    result, new_id = [], {}
    for target, sources in groups.items():
        first = sources[0]
        kept = first if len(sources) == 1 and first.name == target else Category(first.id, target)
        result.append(kept)
        new_id.update({c.id: first.id for c in sources})
    return sorted(result, key=lambda c: c.id), new_id
