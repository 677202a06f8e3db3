"""The grid of a scaling experiment: cells (level, policy, kept fraction, seed), their names on disk, and the
settings every cell of one output directory must share."""

from __future__ import annotations

from dataclasses import dataclass

from ..curation.select import POLICIES
from ..errors import EdgepruneError

FULL = "full"
LEVELS = ("image", "object")
DEDUP_PREFIX = "dedup+"  # "dedup+hard": drop near-duplicates first, then the policy, at the same kept count
UNIFORM = "uniform"  # uniform random over images: the random policy ranking all images together, never per cluster
VIDEOS_SUFFIX = "+videos"  # "typical+videos": the policy's picks dealt round-robin over the --groups (videos)
BASELINES = ("random", UNIFORM, "stride")  # what a user gets for free: cluster-stratified random, uniform, stride
SCALING_POLICIES = (
    POLICIES
    + (UNIFORM,)
    + tuple(DEDUP_PREFIX + p for p in ("random", "hard", "easy", "coreset", "balanced"))
    + tuple(p + VIDEOS_SUFFIX for p in ("random", "hard", "easy", "typical", "probcover", "ccs", "zcore", "diversity"))
)


def base_policy(policy: str) -> tuple[str, bool]:
    """``"dedup+hard"`` -> ``("hard", True)``; ``"hard"`` -> ``("hard", False)``; ``"typical+videos"`` ->
    ``("typical", False)`` (see :func:`per_video`)."""
    policy = policy.removesuffix(VIDEOS_SUFFIX)
    if policy.startswith(DEDUP_PREFIX):
        return policy[len(DEDUP_PREFIX) :], True
    return policy, False


def per_video(policy: str) -> bool:
    """Whether a series deals its picks over the videos (``P+videos``; ``stride`` always strides per video)."""
    return policy.endswith(VIDEOS_SUFFIX) or policy == "stride"


def is_baseline(policy: str) -> bool:
    """A free baseline (``random``, ``uniform``, ``stride``), not an edgeprune policy."""
    return base_policy(policy)[0] in BASELINES and not policy.endswith(VIDEOS_SUFFIX)


@dataclass(frozen=True)
class Cell:
    """One training run: the training set curated at ``level`` with ``policy`` keeping ``fraction``, ``seed``.

    Full-data cells (fraction 1) are shared by every policy and level: ``policy == "full"``, ``level == "-"``.
    """

    level: str
    policy: str
    fraction: float
    seed: int

    @property
    def name(self) -> str:
        """Directory name of the cell."""
        if self.policy == FULL:
            return f"full-s{self.seed}"
        return f"{self.level}-{self.policy}-{fraction_label(self.fraction)}-s{self.seed}"

    @property
    def series(self) -> str:
        """The plot line this cell belongs to."""
        return FULL if self.policy == FULL else f"{self.policy} ({self.level})"


def fraction_label(fraction: float) -> str:
    """A fraction as cell names spell it: three decimals (``0.010``), or every digit where three would round it
    (``0.0025``), so two fractions never share a cell directory."""
    fixed = f"{fraction:.3f}"
    return fixed if float(fixed) == fraction else repr(fraction)


def parse_fractions(text: str) -> list[float]:
    """``"0.25,0.5,1.0"`` -> sorted unique fractions in (0, 1]."""
    try:
        values = sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise EdgepruneError(f"--fractions must be comma-separated numbers in (0, 1], got {text!r}")
    if not values or not all(0.0 < v <= 1.0 for v in values):
        raise EdgepruneError(f"--fractions must be comma-separated numbers in (0, 1], got {text!r}")
    return values


def parse_choices(text: str, allowed: tuple[str, ...], option: str) -> list[str]:
    """A comma-separated list of names, each one of ``allowed``, order kept, duplicates dropped."""
    names = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [n for n in names if n not in allowed]
    if not names or unknown:
        raise EdgepruneError(f"{option}: choose from {', '.join(allowed)}, got {text!r}")
    return names


def plan_cells(fractions: list[float], policies: list[str], levels: list[str], seeds: int) -> list[Cell]:
    """Every cell of the grid, seed-major so early results already cover every policy once."""
    if seeds < 1:
        raise EdgepruneError(f"seeds={seeds} must be at least 1")
    for policy in policies:
        if policy not in SCALING_POLICIES:
            raise EdgepruneError(f"--policies: unknown policy {policy!r}; choose from {', '.join(SCALING_POLICIES)}")
    cells = []
    for seed in range(seeds):
        if 1.0 in fractions:
            cells.append(Cell("-", FULL, 1.0, seed))
        for fraction in (f for f in fractions if f < 1.0):
            for level in levels:
                cells.extend(Cell(level, policy, fraction, seed) for policy in policies)
    return cells


def check_same_settings(saved: dict, current: dict, path, kind: str = "scaling run") -> None:
    """A directory holds one experiment (a ``kind``): refuse to mix cells trained or curated with other settings."""
    changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if changed:
        details = "; ".join(f"{k}: {saved.get(k)!r} there, {current.get(k)!r} now" for k in changed)
        raise EdgepruneError(
            f"{path}: holds a {kind} with other settings ({details}); use another --out, or the same settings "
            "to continue it"
        )
