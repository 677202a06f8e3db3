"""The tiny detector's arguments for the detect tests that train their own (the shared ``trained`` fixture is in
``tests/conftest.py``)."""

from edgeprune.detect.config import QUICK_CONFIG
from tests.conftest import TINY_DETECTOR_SETS

SETS = [arg for override in TINY_DETECTOR_SETS for arg in ("--set", override)]
TINY = ["--config", QUICK_CONFIG, "--image-size", "128", "--width", "0.35", "--batch-size", "4", *SETS]
