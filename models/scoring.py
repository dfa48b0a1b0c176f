"""Small numeric helpers shared by the account and cluster models' evidence scoring.

>>> clip(1.7), or_default(float("nan"), 0.5), round(anomaly_points(8.0, 0.7), 2)
(1.0, 0.5, 4.0)
"""

from __future__ import annotations

import math


def clip(x: float) -> float:
    """Clamp evidence to [0, 1]."""
    return 0.0 if x <= 0.0 else 1.0 if x >= 1.0 else x


def or_default(v: float, default: float = 0.0) -> float:
    """``default`` where a statistic has no value yet (NaN)."""
    return default if v != v else v


def squash(z: dict[str, float]) -> dict[str, float]:
    """Standardised values into [0, 1] (logistic), the input range HalfSpaceTrees expects."""
    out = {}
    exp = math.exp
    for k, v in z.items():
        # Clamped with comparisons rather than min/max calls (this runs per summary); NaN stays NaN.
        if v > 30.0:
            v = 30.0
        elif v < -30.0:
            v = -30.0
        out[k] = 1.0 / (1.0 + exp(-v))
    return out


def anomaly_points(weight: float, score: float) -> float:
    """Points from a HalfSpaceTrees score: none up to 0.5, the full weight from 0.9."""
    if score <= 0.5 or weight <= 0.0:
        return 0.0
    return weight * clip((score - 0.5) / 0.4)
