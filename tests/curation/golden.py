"""How a curate output is compared with a recorded golden one: the decisions exactly, the floats within a tolerance
that no CPU's float path breaks, and the order of near-ties free.

TensorFlow's result for the same images differs in the last digits between CPUs (AVX2, AVX-512), with oneDNN on or
off and with the thread count: distances move by about 1e-5. Two images whose distances are that close may swap
rank, and where they straddle the kept boundary, swap kept status (or, in a rule that decides in sequence, move one
later decision). Anything else is a real change.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

RTOL = 1e-3  # relative: 100x the drift seen between CPUs (1.4e-5 on a distance of 0.38)
ATOL = 2e-6  # the 6 printed decimals round by 5e-7
COUNTS = ("images_before", "images_after", "boxes_before", "boxes_after", "clusters", "duplicates_dropped")


def _table(path: Path, distance_column: str) -> dict | None:
    """A CSV as its header, its rows without the distance column, and the distances as floats."""
    if not path.is_file():
        return None
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    at = rows[0].index(distance_column)
    return {
        "header": rows[0],
        "rows": [row[:at] + row[at + 1 :] for row in rows[1:]],
        "distances": [float(row[at]) for row in rows[1:]],
    }


def read_outputs(out: Path) -> dict:
    """What a golden records of one curate output: counts, kept images, ``scores.csv`` and ``objects.csv``."""
    summary = json.loads((out / "summary.json").read_text())
    scores = _table(out / "scores.csv", "distance")
    kept = sorted(row[0] for row in scores["rows"] if row[4] == "1")  # image, id, cluster, rank, kept, duplicate_of
    return {
        "summary": {key: summary[key] for key in COUNTS},
        "kept": kept,
        "scores.csv": scores,
        "objects.csv": _table(out / "objects.csv", "distance"),
    }


def near(a: float, b: float) -> bool:
    """Whether two distances are within the float drift of each other (a near-tie)."""
    return abs(a - b) <= RTOL * max(abs(a), abs(b)) + ATOL


def _float_problems(name: str, found: list[float], golden: list[float]) -> list[str]:
    far = [i for i, (f, g) in enumerate(zip(found, golden)) if not near(f, g)]
    return [f"{name}: row {i}: distance {found[i]} is not {golden[i]} within rtol {RTOL}" for i in far[:5]]


def _rank_problems(golden_rows: dict, golden_distance: dict, found_rows: dict) -> list[str]:
    """Each image's rank in its cluster must be the golden rank of an image of the same cluster whose distance is
    a near-tie of its own (itself included)."""
    allowed: dict[tuple[str, str], set[str]] = {}
    by_cluster: dict[str, list[str]] = {}
    for image, row in golden_rows.items():
        by_cluster.setdefault(row[2], []).append(image)
    for cluster, images in by_cluster.items():
        for image in images:
            allowed[cluster, image] = {
                golden_rows[other][3] for other in images if near(golden_distance[other], golden_distance[image])
            }
    return [
        f"scores.csv: {image} has rank {row[3]} in cluster {row[2]}, golden {golden_rows[image][3]} (no near-tie)"
        for image, row in found_rows.items()
        if row[3] not in allowed[row[2], image]
    ]


def kept_problems(golden: list[str], found: list[str], distance: dict[str, float]) -> list[str]:
    """Kept sets may differ only where a near-tie explains it.

    - A swap: an image kept in one and not the other, with a partner on the other side whose distance is a
      near-tie of its own.
    - A cascade: rules that decide in sequence (the category floor, ``balanced``) carry a flipped near-tie into one
      later decision. Each image of the difference that has a near-tie anywhere in the data (an origin) may explain
      two images left unpaired: itself and the decision it moved.
    """
    only_found, only_golden = set(found) - set(golden), set(golden) - set(found)
    origins = {
        image
        for image in only_found | only_golden
        if any(other != image and near(distance[other], distance[image]) for other in distance)
    }
    unpaired_golden = set(only_golden)
    unpaired = []
    for image in sorted(only_found):
        partners = sorted(other for other in unpaired_golden if near(distance[other], distance[image]))
        if partners:
            unpaired_golden.discard(partners[0])
        else:
            unpaired.append(image)
    unpaired += sorted(unpaired_golden)
    if len(unpaired) <= 2 * len(origins):
        return []
    return [
        f"{image} is {'kept' if image in only_found else 'no longer kept'}, unlike the golden, and no near-tie "
        f"explains it ({len(origins)} near-tied images in the difference)"
        for image in unpaired
    ]


def compare(found: dict, golden: dict, box_counts: dict[str, int]) -> list[str]:
    """Every difference between a curate output and its golden that float drift cannot explain (empty: equal).

    ``box_counts``: boxes per image file name, to check ``boxes_after`` when near-ties swapped kept images.
    """
    problems: list[str] = []
    scores, golden_scores = found["scores.csv"], golden["scores.csv"]
    if scores["header"] != golden_scores["header"]:
        return [f"scores.csv header {scores['header']} is not {golden_scores['header']}"]
    golden_rows = {row[0]: row for row in golden_scores["rows"]}
    found_rows = {row[0]: row for row in scores["rows"]}
    if golden_rows.keys() != found_rows.keys():
        return [f"scores.csv lists other images: {sorted(golden_rows.keys() ^ found_rows.keys())[:5]}"]
    problems += _float_problems("scores.csv", scores["distances"], golden_scores["distances"])
    golden_distance = dict(zip([row[0] for row in golden_scores["rows"]], golden_scores["distances"]))
    for image, row in found_rows.items():  # id, cluster and duplicate_of exactly
        want = golden_rows[image]
        if (row[1], row[2], row[5]) != (want[1], want[2], want[5]):
            problems.append(f"scores.csv: {image}: {row} is not {want} (id, cluster, duplicate_of)")
    problems += _rank_problems(golden_rows, golden_distance, found_rows)
    problems += kept_problems(golden["kept"], found["kept"], golden_distance)
    summary, want = dict(found["summary"]), dict(golden["summary"])
    swapped_in = Counter(set(found["kept"]) - set(golden["kept"]))
    swapped_out = Counter(set(golden["kept"]) - set(found["kept"]))
    want["boxes_after"] += sum(box_counts[image] for image in swapped_in) - sum(box_counts[i] for i in swapped_out)
    if summary != want:
        problems.append(f"summary.json counts {summary} are not {want}")
    problems += _object_problems(found["objects.csv"], golden["objects.csv"], set(found["kept"]))
    return problems


def _object_problems(found: dict | None, golden: dict | None, kept: set[str]) -> list[str]:
    """``objects.csv``: the same boxes, clusters and crops; distances within the tolerance; ``kept`` follows the
    image's kept status."""
    if golden is None or found is None:
        return [] if golden is found else ["objects.csv appeared or vanished"]
    if found["header"] != golden["header"]:
        return [f"objects.csv header {found['header']} is not {golden['header']}"]
    problems = _float_problems("objects.csv", found["distances"], golden["distances"])
    at = found["header"].index("kept") - 1  # the distance column is cut out of the rows
    for row, want in zip(found["rows"], golden["rows"]):
        if row[:at] + row[at + 1 :] != want[:at] + want[at + 1 :]:
            problems.append(f"objects.csv: {row} is not {want}")
        elif row[at] != str(int(row[0] in kept)):
            problems.append(f"objects.csv: {row} says kept={row[at]}, but the image's kept status differs")
    if len(found["rows"]) != len(golden["rows"]):
        problems.append(f"objects.csv has {len(found['rows'])} rows, golden {len(golden['rows'])}")
    return problems[:20]


def assert_matches(found: dict, golden: dict, box_counts: dict[str, int], name: str) -> None:
    """Fail with every unexplained difference listed."""
    problems = compare(found, golden, box_counts)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems[:20])
