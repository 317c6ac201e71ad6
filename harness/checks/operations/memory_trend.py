"""A least-squares trend of memory samples, with a 95 % interval that does not take one slow wave
of the allocator for a thousand independent measurements.

Memory read once a second is autocorrelated: a sample is close to the one before, so the plain
least-squares interval, which counts every sample as independent, is too narrow and would call
noise a trend. The interval here uses the effective number of samples for lag-1 autocorrelated
residuals, n (1 - r1) / (1 + r1) (Santer et al. 2000, "Statistical significance of trends and
trend differences in layer-average atmospheric temperature time series", J. Geophys. Res.
105(D6), section 3), and Student's t for that many samples.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

CONFIDENCE = 0.95
# Fewer samples than this give no trend. The effective number of samples is floored at
# MIN_EFFECTIVE (three degrees of freedom, where the t expansion below holds): the interval is
# then as wide as five independent samples allow, wide enough that one step of memory is not
# a trend, while a steady growth far above its own wobble (a leak) still shows.
MIN_SAMPLES = 5
MIN_EFFECTIVE = 5.0


@dataclass(frozen=True)
class Trend:
    """A slope (units of the values per unit of the times) and its interval; ``low`` and
    ``high`` are None when the residuals are wholly correlated (lag-1 autocorrelation 1).
    ``effective_samples`` is the estimate before the floor."""

    slope: float
    low: float | None
    high: float | None
    samples: int
    effective_samples: float
    lag1_autocorrelation: float

    def scaled(self, factor: float) -> Trend:
        """The same trend in other units (``factor`` > 0)."""

        def times(value: float | None) -> float | None:
            return None if value is None else value * factor

        return Trend(
            self.slope * factor,
            times(self.low),
            times(self.high),
            self.samples,
            self.effective_samples,
            self.lag1_autocorrelation,
        )

    def above(self, bound: float) -> bool:
        """Whether the whole interval lies above ``bound``: growth told apart from noise."""
        return self.low is not None and self.low > bound


def t_quantile(probability: float, degrees: float) -> float:
    """Student's t quantile, by the Cornish-Fisher expansion of Abramowitz and Stegun 26.7.5
    (within 0.5 % of the tables from 3 degrees of freedom on)."""
    z = NormalDist().inv_cdf(probability)
    v = degrees
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
        + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4)
    )


def fit_trend(times: Sequence[float], values: Sequence[float]) -> Trend | None:
    """The least-squares slope of ``values`` over ``times``; None for fewer than MIN_SAMPLES
    samples or times that do not vary."""
    n = len(times)
    if n < MIN_SAMPLES or n != len(values):
        return None
    mean_t = sum(times) / n
    mean_v = sum(values) / n
    spread = sum((t - mean_t) ** 2 for t in times)
    if spread <= 0:
        return None
    slope = sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values, strict=True)) / spread
    residuals = [v - mean_v - slope * (t - mean_t) for t, v in zip(times, values, strict=True)]
    squares = sum(e * e for e in residuals)
    lag1 = sum(a * b for a, b in itertools.pairwise(residuals)) / squares if squares > 0 else 0.0
    # Negative autocorrelation would claim more information than there are samples.
    effective = n * (1 - lag1) / (1 + lag1) if lag1 > 0 else float(n)
    if lag1 >= 1:  # degenerate residuals: no interval
        return Trend(slope, None, None, n, 0.0, round(lag1, 3))
    used = max(effective, MIN_EFFECTIVE)
    half = t_quantile((1 + CONFIDENCE) / 2, used - 2) * math.sqrt(squares / (used - 2) / spread)
    return Trend(slope, slope - half, slope + half, n, round(effective, 1), round(lag1, 3))
