"""Curation as a pipeline of stages, one module each, in the order they run:

``types`` (options and results, a leaf) → ``checks`` → read (``run.checked_for_curation``, on what the runner read)
→ ``embed`` → ``dedup`` → ``fit`` (with ``objects`` at object level) → ``score`` → ``selection`` (over the pure
policies of ``select``) → ``write`` (with ``outputs``) → ``report``. ``runners`` holds the engines (local, Beam) that
run embed-to-score; ``run.curate`` is the entry that checks the options, picks the runner and hands back a
:class:`CurateResult`.
See ARCHITECTURE.md.
"""

from .types import SELFSUP, CurateOptions, CurateResult, Scored

__all__ = ["SELFSUP", "CurateOptions", "CurateResult", "Scored", "choose", "curate", "score_dataset"]


def __getattr__(name: str):
    # Stages pull in TensorFlow and scikit-learn; import them when asked for, so `from edgeprune.curation import
    # CurateOptions` stays cheap for the CLI's parser.
    if name == "curate":
        from .run import curate

        return curate
    if name == "choose":
        from .selection import choose

        return choose
    if name == "score_dataset":
        from .pipeline import score_dataset

        return score_dataset
    raise AttributeError(f"module 'edgeprune.curation' has no attribute {name!r}")
