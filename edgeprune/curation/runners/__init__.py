"""The engines a curation runs on. A runner scores a dataset (embed, dedup, fit, score) and writes images; both
call the same stage functions of :mod:`edgeprune.curation`, and neither imports the other.

Every runner has ``score(dataset, options, timings) -> (dataset, Scored)``, ``write(dataset, out_dir, format=)``,
``image_mode`` (how the cluster folders place images) and ``finish(timings) -> notes`` (run deferred work before the
output is published).
"""

from __future__ import annotations

from ..types import CurateOptions


def make_runner(options: CurateOptions):
    """The runner ``options.runner`` names (Beam is imported only when asked for)."""
    if options.runner == "beam":
        from .beam import BeamRunner

        return BeamRunner(options)
    from .local import LocalRunner

    return LocalRunner(options)
