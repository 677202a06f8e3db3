"""Re-evaluate the finished cells of an ``edgeprune scaling`` run with the in-process, batched evaluator
(:mod:`edgeprune.detect.checkpoint_eval`), at one or more pre-NMS score thresholds, and compare with the mAP the
run recorded. Used to check the evaluator against the exported SavedModel and to measure how the score threshold
moves AP50.

    python experiments/pruning-fod/reevaluate_cells.py data/pruning_fod --val data/fod_a --val-split val \
        --map-categories '*=debris' --thresholds 0.05,0.001 \
        --out experiments/pruning-fod/results/scratch/reevaluate.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from edgeprune.datasets import read_dataset
from edgeprune.detect.checkpoint_eval import ValidationPixels, evaluate_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--val", required=True)
    parser.add_argument("--val-split")
    parser.add_argument("--map-categories")
    parser.add_argument("--thresholds", default="0.05")
    parser.add_argument("--cells", default="", help="comma-separated cell names (default: every finished cell)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    import official.vision.registry_imports  # noqa: F401
    from official.core import exp_factory
    from official.modeling import hyperparams

    val = read_dataset(args.val, split=args.val_split, map_categories=args.map_categories)
    wanted = [c for c in args.cells.split(",") if c]
    cells = sorted(p.parents[1] for p in args.run.glob("cells/*/model/metrics.json"))
    cells = [c for c in cells if not wanted or c.name in wanted]
    rows, validation = [], None
    for cell in cells:
        params = hyperparams.override_params_dict(
            exp_factory.get_exp_config("retinanet_mobile_coco"), str(cell / "model" / "params.yaml"), is_strict=True
        )
        if validation is None:
            started = time.perf_counter()
            validation = ValidationPixels.load(val, int(params.task.model.input_size[0]))
            print(f"validation pixels: {len(val)} images in {time.perf_counter() - started:.1f} s")
        recorded = json.loads((cell / "model" / "metrics.json").read_text())["tf"]
        row = {"cell": cell.name, "recorded_mAP50": recorded["mAP50"], "recorded_mAP": recorded["mAP"]}
        for threshold in (float(t) for t in args.thresholds.split(",")):
            started = time.perf_counter()
            metrics = evaluate_checkpoint(
                params, cell / "model" / "model", validation, score_threshold=threshold, progress_enabled=False
            )
            row[f"mAP50@{threshold:g}"] = metrics["mAP50"]
            row[f"mAP@{threshold:g}"] = metrics["mAP"]
            row[f"seconds@{threshold:g}"] = round(time.perf_counter() - started, 1)
        rows.append(row)
        print(json.dumps(row))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
