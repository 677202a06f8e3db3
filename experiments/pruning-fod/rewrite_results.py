"""Rewrite the result files of a finished (or running) ``edgeprune scaling`` or ``edgeprune label-loop`` directory
with the current report code, from the cells its JSON already holds. Nothing is trained or evaluated: this is for a
report format that changed after the cells ran.

    python experiments/pruning-fod/rewrite_results.py data/pruning_fod data/label_loop_fod
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgeprune.scaling.labeling_results import write_labeling_results
from edgeprune.scaling.results import write_results


def rewrite(run: Path) -> Path:
    """Rewrite ``run``'s scaling.* or labeling.* files; returns the Markdown report written."""
    for stem, writer in (("scaling", write_results), ("labeling", write_labeling_results)):
        document_file = run / f"{stem}.json"
        if document_file.exists():
            document = json.loads(document_file.read_text())
            title = (run / f"{stem}.md").read_text().splitlines()[0].removeprefix("# ")
            extra = {"rare": (document.get("rare_classes") or {}).get("classes", [])} if stem == "scaling" else {}
            writer(run, document["cells"], document["settings"], title=title, **extra)
            return run / f"{stem}.md"
    raise SystemExit(f"{run}: no scaling.json or labeling.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    for run in parser.parse_args().runs:
        print(f"rewrote {rewrite(run)}")


if __name__ == "__main__":
    main()
