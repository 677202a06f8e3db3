"""The scaling experiment: does a pruned training set give a detector as good as the full one?"""

from .plan import Cell, plan_cells
from .results import aggregate_rows, verdict
from .run import ScalingOptions, run_scaling

__all__ = ["Cell", "ScalingOptions", "aggregate_rows", "plan_cells", "run_scaling", "verdict"]
