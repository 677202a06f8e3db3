"""``curate --runner beam``: the curation stages as Apache Beam pipelines, resumable from a work directory.

Stages (``curate.py``): a manifest of the images (on the driver), embedding with ``RunInference`` (distributed),
k-means on a deterministic sample (on the driver, the same code as the local run), scoring (distributed), selection
(on the driver, the same ``choose``), and the image copies of the output (distributed). Each stage's outputs live in
a folder of the work directory named by a fingerprint of its inputs and settings; a ``_SUCCESS`` marker written last
says it finished, so a rerun skips it. Apache Beam is an optional install: ``pip install edgeprune[beam]``.
"""
