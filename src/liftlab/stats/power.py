"""Power: the sample size an effect needs, and the effect a sample size can detect.

Two-sided test at level α with power 1-β, normal approximation, unpooled variances (matching
the Welch test liftlab runs), ignoring the far tail's negligible rejection probability
(Chow, Shao & Wang, "Sample Size Calculations in Clinical Research", §4.2):

    n_c = (z_{1-α/2} + z_{1-β})² · (σ²_c + σ²_t / r) / δ²,   n_t = r·n_c,

with r = `ratio` = n_treatment / n_control and δ the absolute effect. Conversion metrics:
σ² = p(1 - p) for the baseline rate p and for p + δ. Revenue metrics: σ_c = σ_t = `sd`, the
per-customer standard deviation (required).

`mde` is *relative* by default in `sample_size` (`relative=True`: δ = mde·baseline); set
`relative=False` to give δ in the metric's units. `mde()` returns both forms. For a
conversion metric it solves the quadratic in δ that the treatment variance (p + δ)(1 - p - δ)
makes of the formula above.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from scipy import special

from liftlab.errors import LiftlabError

Kind = Literal["conversion", "revenue"]


@dataclass(frozen=True)
class SampleSize:
    """Units needed per arm (rounded up) to detect the given effect."""

    n_control: int
    n_treatment: int
    total: int
    abs_effect: float
    rel_effect: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


@dataclass(frozen=True)
class Mde:
    """Minimum detectable effect, absolute (metric units) and relative to the baseline."""

    absolute: float
    relative: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


def _z_total(alpha: float, power: float) -> float:
    if not 0 < alpha < 1:
        raise LiftlabError(f"alpha must be between 0 and 1, got {alpha!r}", field="alpha")
    if not 0 < power < 1:
        raise LiftlabError(f"power must be between 0 and 1, got {power!r}", field="power")
    return float(special.ndtri(1 - alpha / 2) + special.ndtri(power))


def _check(kind: str, baseline: float, sd: float | None) -> float:
    """Validate the metric description; return sd as a float (0 for conversions)."""
    if kind == "conversion":
        if not 0 < baseline < 1:
            raise LiftlabError(
                f"a conversion baseline must be a rate in (0, 1), got {baseline!r}",
                field="baseline",
            )
    elif kind == "revenue":
        if sd is None or not sd > 0:
            raise LiftlabError(
                "a revenue metric needs sd, the per-customer standard deviation", field="sd"
            )
        if baseline == 0:
            raise LiftlabError("baseline must be nonzero for a relative effect", field="baseline")
        return float(sd)
    else:
        raise LiftlabError(f"kind must be 'conversion' or 'revenue', got {kind!r}", field="kind")
    return 0.0


def sample_size(
    baseline: float,
    mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    kind: Kind = "conversion",
    ratio: float = 1.0,
    relative: bool = True,
    sd: float | None = None,
) -> SampleSize:
    """Per-arm sample size to detect `mde` (relative to `baseline` unless `relative=False`)."""
    sd_value = _check(kind, baseline, sd)
    if not ratio > 0:
        raise LiftlabError(f"ratio must be positive, got {ratio!r}", field="ratio")
    delta = mde * baseline if relative else mde
    if delta == 0:
        raise LiftlabError("mde must be nonzero", field="mde")
    k = _z_total(alpha, power)
    if kind == "conversion":
        treated = baseline + delta
        if not 0 < treated < 1:
            raise LiftlabError(
                f"baseline + effect = {treated!r} is not a rate in (0, 1)", field="mde"
            )
        var_c, var_t = baseline * (1 - baseline), treated * (1 - treated)
    else:
        var_c = var_t = sd_value**2
    n_control = math.ceil(k**2 * (var_c + var_t / ratio) / delta**2)
    n_treatment = math.ceil(ratio * n_control)
    return SampleSize(
        n_control, n_treatment, n_control + n_treatment, float(delta), float(delta / baseline)
    )


def mde(
    n_control: float,
    n_treatment: float,
    baseline: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    kind: Kind = "conversion",
    sd: float | None = None,
) -> Mde:
    """Smallest positive effect detectable with these arm sizes, absolute and relative."""
    sd_value = _check(kind, baseline, sd)
    if not (n_control > 0 and n_treatment > 0):
        raise LiftlabError("both arms need at least one unit", field="n_control")
    k2 = _z_total(alpha, power) ** 2
    if kind == "revenue":
        delta = math.sqrt(k2 * sd_value**2 * (1 / n_control + 1 / n_treatment))
    else:
        p = baseline
        # δ²(1 + k²/n_t) - δ·k²(1 - 2p)/n_t - k²·p(1-p)(1/n_c + 1/n_t) = 0, positive root
        a = 1 + k2 / n_treatment
        b = -k2 * (1 - 2 * p) / n_treatment
        c = -k2 * p * (1 - p) * (1 / n_control + 1 / n_treatment)
        delta = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    return Mde(absolute=float(delta), relative=float(delta / baseline))
