"""Sufficient statistics of one arm: the only data the statistics engine ever sees.

A metric's values in one arm reduce to `n`, `Σy` and `Σy²` (and, for CUPED, the pre-period
covariate's `Σx`, `Σx²` and `Σxy`), which SQL computes in one GROUP BY. For a conversion
metric (0/1 values) `Σy² == Σy`. The idea is GrowthBook gbstats' `SampleMeanStatistic`.

Samples add: the sufficient statistics of two disjoint groups of units (two strata, two
days) combine by adding every field, `a + b`, as gbstats' statistic types do; `sum(samples)`
works too (`0 + sample` is the sample).

Batch use: every field may also hold a numpy array (all of one shape); each position is then
one arm of a different comparison, and the properties work elementwise. The `*_batch`
functions of the engine take such samples, so thousands of simulated experiments are one call.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from liftlab.errors import DataError

Number = Any  # a float, or a numpy array of floats for batch use


def _as_output(value: np.ndarray) -> Number:
    """A 0-d result becomes a plain float; arrays stay arrays."""
    return float(value) if np.ndim(value) == 0 else value


def _central_sum_sq(n: Number, total: Number, total_sq: Number) -> np.ndarray:
    """Σ(y - ȳ)² = Σy² - (Σy)²/n, clipped at 0 against rounding; 0 when n = 0."""
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        centred = np.asarray(total_sq, dtype=float) - np.asarray(total, dtype=float) ** 2 / n
    return np.where(n > 0, np.maximum(centred, 0.0), 0.0)


def _central_cross(n: Number, x_total: Number, y_total: Number, xy_total: Number) -> np.ndarray:
    """Σ(x - x̄)(y - ȳ) = Σxy - Σx·Σy/n; 0 when n = 0."""
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        centred = np.asarray(xy_total, dtype=float) - (
            np.asarray(x_total, dtype=float) * np.asarray(y_total, dtype=float) / n
        )
    return np.where(n > 0, centred, 0.0)


def _per_unit(total: Number, n: Number) -> np.ndarray:
    """total / n, nan where n = 0 (a mean of nothing is undefined)."""
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, np.asarray(total, dtype=float) / n, np.nan)


def _added(a: Number, b: Number) -> Number:
    """Elementwise a + b; floats stay floats, arrays stay arrays."""
    return _as_output(np.asarray(a, dtype=float) + np.asarray(b, dtype=float))


def _per_degree(centred: np.ndarray, n: Number) -> np.ndarray:
    """centred / (n - 1), 0 when n < 2 (no spread can be estimated from one unit)."""
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n >= 2, centred / (n - 1.0), 0.0)


@dataclass(frozen=True)
class Sample:
    """One arm's metric as sufficient statistics: `n` units, `sum` = Σy, `sum_sq` = Σy²."""

    n: Number
    sum: Number
    sum_sq: Number

    @classmethod
    def from_values(cls, values: ArrayLike) -> Sample:
        """Reduce one value per unit (0/1 for conversions, spend for revenue)."""
        y = np.asarray(values, dtype=float).ravel()
        if not np.all(np.isfinite(y)):
            raise DataError("metric values must be finite numbers", field="values")
        return cls(n=float(y.size), sum=float(y.sum()), sum_sq=float(np.dot(y, y)))

    @classmethod
    def from_conversions(cls, n: Number, conversions: Number) -> Sample:
        """A conversion metric: `conversions` of `n` units converted (Σy² == Σy)."""
        n_arr, c_arr = np.asarray(n, dtype=float), np.asarray(conversions, dtype=float)
        if np.any(n_arr < 0) or np.any(c_arr < 0) or np.any(c_arr > n_arr):
            raise DataError("need 0 <= conversions <= n", field="conversions")
        return cls(n=_as_output(n_arr), sum=_as_output(c_arr), sum_sq=_as_output(c_arr))

    @classmethod
    def from_moments(cls, n: Number, mean: Number, variance: Number) -> Sample:
        """From n, mean and (n-1)-denominator variance: Σy = n·ȳ, Σy² = (n-1)s² + n·ȳ²."""
        n_arr = np.asarray(n, dtype=float)
        mean_arr = np.where(n_arr > 0, np.asarray(mean, dtype=float), 0.0)
        total = n_arr * mean_arr
        total_sq = np.maximum(n_arr - 1.0, 0.0) * np.asarray(variance, dtype=float)
        total_sq = total_sq + n_arr * mean_arr**2
        return cls(n=_as_output(n_arr), sum=_as_output(total), sum_sq=_as_output(total_sq))

    @property
    def mean(self) -> Number:
        """ȳ = Σy / n (nan when n = 0)."""
        return _as_output(_per_unit(self.sum, self.n))

    @property
    def variance(self) -> Number:
        """Sample variance s² = (Σy² - (Σy)²/n) / (n - 1); 0 when n < 2."""
        return _as_output(_per_degree(_central_sum_sq(self.n, self.sum, self.sum_sq), self.n))

    @property
    def std(self) -> Number:
        """Sample standard deviation s."""
        return _as_output(np.sqrt(np.asarray(self.variance)))

    @property
    def standard_error(self) -> Number:
        """Standard error of the mean, s / √n (nan when n = 0)."""
        n = np.asarray(self.n, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.sqrt(np.asarray(self.variance) / n)
        return _as_output(np.where(n > 0, se, np.nan))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (arrays become lists)."""
        return {
            k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()
        }

    def __add__(self, other: object) -> Sample:
        """The two groups' units together: n, Σy and Σy² add.

        A `CovariateSample` added to a plain `Sample` gives a plain `Sample`: the covariate
        sums are known for one part only, so they are dropped rather than guessed.
        """
        if isinstance(other, int) and other == 0:  # the start value of sum()
            return self
        if not isinstance(other, Sample):
            return NotImplemented
        if type(self) is CovariateSample and type(other) is CovariateSample:
            return CovariateSample(
                n=_added(self.n, other.n),
                sum=_added(self.sum, other.sum),
                sum_sq=_added(self.sum_sq, other.sum_sq),
                x_sum=_added(self.x_sum, other.x_sum),  # type: ignore[attr-defined]
                x_sum_sq=_added(self.x_sum_sq, other.x_sum_sq),  # type: ignore[attr-defined]
                xy_sum=_added(self.xy_sum, other.xy_sum),  # type: ignore[attr-defined]
            )
        return Sample(
            n=_added(self.n, other.n),
            sum=_added(self.sum, other.sum),
            sum_sq=_added(self.sum_sq, other.sum_sq),
        )

    def __radd__(self, other: object) -> Sample:
        """`0 + sample` is the sample, so `sum(samples)` needs no start value."""
        return self.__add__(other)


@dataclass(frozen=True)
class CovariateSample(Sample):
    """A Sample plus its pre-period covariate x: `x_sum` = Σx, `x_sum_sq` = Σx², `xy_sum` = Σxy.

    CUPED (`liftlab.stats.cuped`) turns two of these into adjusted Samples; as a plain
    Sample it analyses the unadjusted metric.
    """

    x_sum: Number
    x_sum_sq: Number
    xy_sum: Number

    @classmethod
    def from_values(  # type: ignore[override]
        cls, values: ArrayLike, covariate: ArrayLike
    ) -> CovariateSample:
        """Reduce per-unit metric values y and pre-period covariate values x."""
        y = np.asarray(values, dtype=float).ravel()
        x = np.asarray(covariate, dtype=float).ravel()
        if y.shape != x.shape:
            raise DataError("values and covariate must have one entry per unit", field="covariate")
        if not (np.all(np.isfinite(y)) and np.all(np.isfinite(x))):
            raise DataError("metric and covariate values must be finite numbers", field="values")
        return cls(
            n=float(y.size),
            sum=float(y.sum()),
            sum_sq=float(np.dot(y, y)),
            x_sum=float(x.sum()),
            x_sum_sq=float(np.dot(x, x)),
            xy_sum=float(np.dot(x, y)),
        )

    @property
    def covariate(self) -> Sample:
        """The pre-period covariate as a Sample of its own."""
        return Sample(self.n, self.x_sum, self.x_sum_sq)

    @property
    def covariance(self) -> Number:
        """Sample covariance of x and y, (Σxy - ΣxΣy/n) / (n - 1); 0 when n < 2."""
        centred = _central_cross(self.n, self.x_sum, self.sum, self.xy_sum)
        return _as_output(_per_degree(centred, self.n))
