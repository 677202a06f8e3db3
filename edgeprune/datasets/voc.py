"""Pascal VOC: ``Annotations/*.xml``, ``JPEGImages/`` and optional ``ImageSets/Main/*.txt`` splits.

Corners are converted to ``[x, y, w, h]`` as the TF Object Detection API does (``x = xmin``, ``w = xmax - xmin``),
so a box with ``xmin == xmax`` has zero area and is reported. A kept image's XML is copied byte for byte, so a
round trip is exact; a regenerated XML (another source format, or dropped boxes) writes integer corners as integers
and fractional ones with their digits. Split files keep their lines as written (the ``1``/``-1`` column of
per-class files included), filtered to the kept ids; reading one ``--split`` writes only that split's files.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.dom import minidom

from ..errors import EdgepruneError
from ..progress import track
from .files import copy_image, image_size, safe_relative, unique_names
from .types import Box, Category, Dataset, ImageRecord

SPLITS_DIR = Path("ImageSets") / "Main"
_KEPT_OBJECT_FIELDS = ("pose", "truncated", "difficult")


def is_voc(path: Path) -> bool:
    """True if ``path`` looks like a VOC dataset root."""
    return path.is_dir() and (path / "Annotations").is_dir() and (path / "JPEGImages").is_dir()


def _text(node: ET.Element, tag: str, xml_file: Path, *, required: bool = True) -> str | None:
    child = node.find(tag)
    if child is None or child.text is None:
        if required:
            raise EdgepruneError(f"{xml_file}: missing <{tag}>")
        return None
    return child.text.strip()


def _number(node: ET.Element, tag: str, xml_file: Path) -> float:
    value = _text(node, tag, xml_file)
    try:
        return float(value)
    except ValueError:
        raise EdgepruneError(f"{xml_file}: <{tag}> is {value!r}, not a number")


def read_splits(root: Path) -> dict[str, list[str]]:
    """The lines of each ``ImageSets/Main/<split>.txt`` as written: an image id, and in per-class files
    (``<class>_<split>.txt``) its ``1`` / ``-1`` / ``0`` column."""
    splits = {}
    for split_file in sorted((root / SPLITS_DIR).glob("*.txt")):
        splits[split_file.stem] = [line for line in split_file.read_text().splitlines() if line.strip()]
    return splits


def _split_ids(lines: list[str]) -> list[str]:
    return [line.split()[0] for line in lines]


def read_voc(path: Path, *, split: str | None = None) -> Dataset:
    """Read a VOC dataset (optionally only the ids of one split); errors name the offending XML file."""
    if not is_voc(path):
        raise EdgepruneError(f"{path}: not a Pascal VOC dataset (needs Annotations/ and JPEGImages/)")
    splits = read_splits(path)
    xml_files = sorted((path / "Annotations").glob("*.xml"))
    if split is not None:
        if split not in splits:
            known = ", ".join(splits) or "none"
            raise EdgepruneError(f"{path / SPLITS_DIR}: no split {split!r} (found: {known})")
        wanted = set(_split_ids(splits[split]))
        xml_files = [f for f in xml_files if f.stem in wanted]
        # only the split that was read (and its per-class files) describe this dataset
        splits = {name: lines for name, lines in splits.items() if name == split or name.endswith(f"_{split}")}

    names: dict[str, int] = {}
    parsed = []
    for xml_file in xml_files:
        try:
            tree = ET.parse(xml_file)
        except ET.ParseError as exc:
            raise EdgepruneError(f"{xml_file}: malformed XML ({exc})")
        parsed.append((xml_file, tree.getroot()))
        for obj in tree.getroot().iter("object"):
            names.setdefault(_text(obj, "name", xml_file), 0)
    categories = [Category(i + 1, name) for i, name in enumerate(sorted(names))]
    ids = {c.name: c.id for c in categories}

    images = []
    for xml_file, root in parsed:
        file_name = _text(root, "filename", xml_file, required=False) or f"{xml_file.stem}.jpg"
        file_name = safe_relative(file_name, xml_file, "<filename>")
        image_path = path / "JPEGImages" / file_name
        if not image_path.is_file():
            raise EdgepruneError(f"{xml_file}: points at missing image {image_path}")
        size = root.find("size")
        width = int(_number(size, "width", xml_file)) if size is not None else 0
        height = int(_number(size, "height", xml_file)) if size is not None else 0
        if width <= 0 or height <= 0:
            width, height = image_size(image_path)
        boxes = []
        for obj in root.iter("object"):
            bndbox = obj.find("bndbox")
            if bndbox is None:
                raise EdgepruneError(f"{xml_file}: <object> without <bndbox>")
            xmin, ymin, xmax, ymax = (_number(bndbox, t, xml_file) for t in ("xmin", "ymin", "xmax", "ymax"))
            extra = {t: _text(obj, t, xml_file, required=False) for t in _KEPT_OBJECT_FIELDS}
            bbox = (xmin, ymin, xmax - xmin, ymax - ymin)
            boxes.append(Box(ids[_text(obj, "name", xml_file)], bbox, {k: v for k, v in extra.items() if v}))
        images.append(
            ImageRecord(
                xml_file.stem, file_name, width, height, path=image_path, boxes=boxes, extra={"voc_xml": xml_file}
            )
        )
    return Dataset(images, categories, "voc", source=path, extra={"splits": splits})


def _voc_xml(img: ImageRecord, file_name: str, names: dict[int, str]) -> bytes:
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "JPEGImages"
    ET.SubElement(root, "filename").text = file_name
    size = ET.SubElement(root, "size")
    for tag, value in (("width", img.width), ("height", img.height), ("depth", 3)):
        ET.SubElement(size, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for box in img.boxes:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = names[box.category_id]
        for tag in _KEPT_OBJECT_FIELDS:
            ET.SubElement(obj, tag).text = str(box.extra.get(tag, "Unspecified" if tag == "pose" else 0))
        x, y, w, h = box.bbox
        bnd = ET.SubElement(obj, "bndbox")
        for tag, value in (("xmin", x), ("ymin", y), ("xmax", x + w), ("ymax", y + h)):
            ET.SubElement(bnd, tag).text = _coordinate(value)
    return minidom.parseString(ET.tostring(root)).toprettyxml(indent="\t").encode()


def _coordinate(value: float) -> str:
    """A corner as the input wrote it: an integer stays an integer, a fraction keeps its digits."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(round(value, 6))


def voc_stem(img: ImageRecord) -> str:
    """The base name (no suffix) an image gets in a written VOC dataset."""
    return Path(img.file_name).stem if img.file_name else str(img.id)


def write_voc(dataset: Dataset, out_dir: Path, *, image_mode: str = "copy") -> None:
    """Write ``Annotations/``, ``JPEGImages/`` and the input's splits restricted to the kept images."""
    names = dataset.category_names
    (out_dir / "Annotations").mkdir(parents=True, exist_ok=True)
    kept_ids = set()
    flat = unique_names(  # images from other formats may share a base name across subfolders
        [
            Path(img.file_name).name
            if img.extra.get("voc_xml")
            else f"{voc_stem(img)}{Path(img.file_name).suffix or '.jpg'}"
            for img in dataset.images
        ]
    )
    for img, file_name in zip(track(dataset.images, "writing"), flat):
        source_xml = img.extra.get("voc_xml")
        stem = source_xml.stem if source_xml else Path(file_name).stem
        kept_ids.add(stem)
        copy_image(img, out_dir / "JPEGImages" / file_name, mode=image_mode)
        target = out_dir / "Annotations" / f"{stem}.xml"
        if source_xml:
            shutil.copyfile(source_xml, target)
        else:
            target.write_bytes(_voc_xml(img, file_name, names))
    splits = dataset.extra.get("splits") or {}
    if splits:
        (out_dir / SPLITS_DIR).mkdir(parents=True, exist_ok=True)
    for name, lines in splits.items():
        kept = [line for line in lines if line.split()[0] in kept_ids]
        (out_dir / SPLITS_DIR / f"{name}.txt").write_text("".join(f"{line}\n" for line in kept))
