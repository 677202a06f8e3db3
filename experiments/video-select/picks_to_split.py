"""Map the frames ``select`` picked from the rebuilt videos back to their FOD-A frames, write each budget's picks as
a VOC split (the first N picks: the greedy order does not depend on the budget), and count what each selection
covers beside the coverage grid's free baselines at the same budget.

    python picks_to_split.py ../../data/video_select ../../data/fod_a ../../data/coverage/tune \
        --budgets 39,79,157 --out results/coverage.json
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

FRACTIONS = {39: "0.002", 79: "0.004", 157: "0.008"}  # the coverage grid's cells at the same kept count


def picked_images(work: Path, budget: int) -> list[str]:
    """The FOD-A frames of the first ``budget`` picks, in pick order."""
    frames = {}
    with (work / "frames.csv").open() as fh:
        for row in csv.DictReader(fh):
            frames[(row["video"], int(row["frame"]))] = row["image"]
    picks = []
    with (work / f"select-{max(FRACTIONS)}" / "selection.csv").open() as fh:
        for row in csv.DictReader(fh):
            if int(row["pick_order"]) >= 0:
                picks.append((int(row["pick_order"]), frames[(row["video"], int(row["frame"]))]))
    return [image for _, image in sorted(picks)][:budget]


def clip_of(clips_csv: Path) -> dict[str, str]:
    with clips_csv.open() as fh:
        return {row["image"]: row["group"] for row in csv.DictReader(fh)}


def covered(images: list[str], clips: dict[str, str]) -> dict:
    return {"images": len(images), "videos": len({clips[i] for i in images})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("voc", type=Path)
    parser.add_argument("grid", type=Path, help="the coverage grid's output directory (its cells' selections)")
    parser.add_argument("--clips", type=Path, default=Path("../coverage/split/clips.csv"))
    parser.add_argument("--budgets", default="39,79,157")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    clips = clip_of(args.clips)
    report = {}
    for budget in (int(b) for b in args.budgets.split(",")):
        images = picked_images(args.work, budget)
        (args.voc / "ImageSets" / "Main" / f"vidsel_{budget}.txt").write_text(
            "".join(f"{Path(i).stem}\n" for i in sorted(images))
        )
        row = {"select from videos": covered(images, clips)}
        for cell in sorted(args.grid.glob(f"cells/image-*-{FRACTIONS[budget]}-s*/selection.json")):
            name = cell.parent.name.removeprefix("image-")
            row[name] = covered(json.loads(cell.read_text())["kept"], clips)
        report[str(budget)] = row
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for budget, row in report.items():
        print(budget, {name: value["videos"] for name, value in row.items()})


if __name__ == "__main__":
    main()
