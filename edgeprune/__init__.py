"""edgeprune: smaller detection training sets by self-supervised prototype pruning, and edge detectors from them.

The Python API mirrors the command line (keyword names are the options' names with ``_`` for ``-``)::

    import edgeprune

    result = edgeprune.curate("data/voc", out="pruned", keep=0.3, policy="coreset", exact=True)
    print(result.images_after, result.out / "report.html")

    leaks = edgeprune.find_leaks("data/voc", out="leaks", splits=["train", "val"])
    print(leaks.flagged, "of", leaks.checked)

    picked = edgeprune.select("raw_frames/", out="next", budget=200, labeled="data/voc")
    print(picked.picked, picked.out / "to_label")

    split = edgeprune.split("data/voc", out="splits", ratios=[0.8, 0.1, 0.1], groups="clips.csv")
    print(split.images, split.leaks)

    kept = edgeprune.prune(X, keep=0.7, policy="hard")  # any sample matrix
    scorer = edgeprune.PrototypeScorer(clusters=10).fit(X)  # the same as a scikit-learn estimator
    hardness, mask = scorer.score_samples(X), scorer.select(keep=0.7, policy="easy")
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .curation import CurateResult
    from .leaks import LeakResult
    from .next_batch import SelectResult
    from .splits import SplitResult

__version__ = "0.1.0"
__all__ = ["PrototypeScorer", "curate", "find_leaks", "prune", "select", "split"]


def curate(path: str | Path, *, out: str | Path, **options: Any) -> CurateResult:
    """Prune the detection dataset at ``path`` into ``out``, as ``edgeprune curate`` does; returns what was done.

    ``options`` are the flat names of :class:`edgeprune.curation.CurateOptions`' fields and parts: ``keep`` (0.5),
    ``policy`` (``"hard"``, ``"easy"``, ``"random"``, ``"stratified"``, ``"coreset"``, ``"balanced"``, ``"typical"``,
    ``"probcover"``, ``"ccs"``, ``"zcore"``), ``exact``, ``per_cluster``, ``clusters``, ``method``, ``seed``,
    ``backbone`` (a TF-Hub handle or SavedModel, or ``"selfsup"``),
    ``embeddings`` (a ``.npz``/``.parquet`` file instead of a backbone), ``dedup``, ``level``, ``out_format``,
    ``format``, ``split``, ``overwrite``, ``progress`` and the rest. Raises :class:`edgeprune.errors.EdgepruneError`
    for bad input, and ``TypeError`` naming an unknown option.
    """
    from .curation import CurateOptions
    from .curation.run import curate as run
    from .uris import path_or_uri

    return run(path, _options(CurateOptions, out=path_or_uri(out), **options))


def find_leaks(path: str | Path, *, out: str | Path, **options: Any) -> LeakResult:
    """Find images of later splits with a near-copy in an earlier one, as ``edgeprune leaks`` does.

    ``options`` are :class:`edgeprune.leaks.LeakOptions` fields: ``splits`` (e.g. ``["train", "val", "test"]``),
    or ``split`` with ``against``/``against_split``, ``threshold`` (cosine, 0.95), ``backbone`` or ``embeddings``,
    ``write_clean`` and the rest.
    """
    from .leaks import LeakOptions
    from .leaks import find_leaks as run

    return run(path, _options(LeakOptions, out=Path(out), **options))


def select(pool: str | Path, *, out: str | Path, budget: int, **options: Any) -> SelectResult:
    """Pick the next ``budget`` images of ``pool`` to label into ``out``, as ``edgeprune select`` does.

    ``options`` are :class:`edgeprune.next_batch.SelectOptions` fields: ``labeled`` (the set already labelled),
    ``diversity`` (strength, 1), ``prototype`` (``"hard"``/``"easy"``) with ``prototype_strength`` (0),
    ``threshold`` (near-copy cosine, 0.95), ``backbone`` or ``embeddings`` and the rest.
    """
    from .next_batch import SelectOptions, select_next

    return select_next(pool, _options(SelectOptions, out=Path(out), budget=budget, **options))


def split(path: str | Path, *, out: str | Path, **options: Any) -> SplitResult:
    """Split the dataset at ``path`` into leak-free, stratified splits under ``out``, as ``edgeprune split`` does.

    ``options`` are :class:`edgeprune.splits.SplitOptions` fields: ``ratios`` (``[0.8, 0.1, 0.1]``), ``names``,
    ``groups`` (a CSV of ``image,group``), ``threshold`` (cosine, 0.95), ``seed``, ``out_format``, ``backbone`` or
    ``embeddings`` and the rest.
    """
    from .splits import SplitOptions, split_dataset

    return split_dataset(path, _options(SplitOptions, out=Path(out), **options))


def _options(options_class, **values: Any):
    """The options object from flat keywords (its parts filled by name), with ``str`` values of path options made
    ``Path``; unknown names are a ``TypeError`` listing the known ones."""
    from .curation.types import compose_options, option_fields

    kinds = option_fields(options_class)
    for name, value in values.items():
        if isinstance(value, str) and kinds.get(name, "").startswith("Path"):
            values[name] = Path(value)
    return compose_options(options_class, values)


def __getattr__(name: str):
    # The array API is imported lazily so `edgeprune --help` does not pay for numpy/sklearn imports.
    if name == "prune":
        from .array_api import prune

        return prune
    if name == "PrototypeScorer":
        from .curation.prototype_scorer import PrototypeScorer

        return PrototypeScorer
    raise AttributeError(f"module 'edgeprune' has no attribute {name!r}")
