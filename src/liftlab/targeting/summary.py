"""The rows a reader sees per targeted campaign (terminal table and HTML): headline numbers
with their intervals, and the decision in words."""

from __future__ import annotations

from collections.abc import Sequence

from liftlab.targeting.experiment import CampaignTargeting
from liftlab.targeting.policy import NO_HETEROGENEITY

HEADERS: tuple[str, ...] = (
    "campaign", "treated / control", "Qini area [95% CI]", "uplift, top 30% [CI]",
    "uplift, random or all [CI]", "send to top [CI]", "profit [CI]", "gain vs all [CI]",
    "gain vs random [CI]",
)


def number(value: float | None, digits: int = 4) -> str:
    """`value` with `digits` significant digits; '—' when it cannot be computed."""
    return "—" if value is None else f"{value:.{digits}g}"


def with_interval(value: float | None, interval: tuple[float, float] | None, digits: int = 3) -> str:
    """'0.0123 [0.0041, 0.021]', or the value alone, or '—'."""
    if value is None:
        return "—"
    if interval is None:
        return number(value, digits)
    return f"{number(value, digits)} [{number(interval[0], digits)}, {number(interval[1], digits)}]"


def share(value: float | None, interval: tuple[float, float] | None) -> str:
    """'35% [20%, 60%]'."""
    if value is None:
        return "—"
    text = f"{value:.0%}"
    return text + (f" [{interval[0]:.0%}, {interval[1]:.0%}]" if interval else "")


def campaign_row(found: CampaignTargeting) -> list[str]:
    """One campaign's row under HEADERS."""
    result = found.targeting
    evaluation, policy = result.evaluation, result.policy
    measured = [
        f"{found.segment} · {found.arm}", f"{result.n_treated:,} / {result.n_control:,}",
        with_interval(evaluation.qini_area, evaluation.qini_area_ci),
        with_interval(evaluation.uplift_at_k, evaluation.uplift_at_k_ci),
        with_interval(evaluation.average_uplift, evaluation.average_uplift_ci),
    ]
    if not policy.recommended:  # the numbers of a policy nobody should follow are not shown
        return [*measured, "no policy", "—", "—", "—"]
    return [
        *measured,
        share(policy.share, policy.share_ci),
        with_interval(policy.profit, policy.profit_ci),
        with_interval(policy.gain_over_everyone, policy.gain_over_everyone_ci),
        with_interval(policy.gain_over_random, policy.gain_over_random_ci),
    ]


def decision(found: CampaignTargeting) -> str:
    """The decision in one sentence."""
    result = found.targeting
    policy = result.policy
    name = f"{found.segment} · {found.arm}"
    if policy.recommended and policy.share == 0:
        return f"{name}: send to nobody — no share of the segment is expected to pay for its contacts."
    if policy.recommended and policy.share is not None:
        return (f"{name}: send to the top {policy.share:.0%} of the segment by predicted uplift "
                f"(predicted uplift ≥ {number(policy.threshold, 3)} in {result.target}); expected profit "
                f"{number(policy.profit, 4)} vs {number(policy.everyone_profit, 4)} sending to everyone.")
    reasons = []
    if not result.heterogeneity:
        reasons.append("no usable heterogeneity (the Qini area's interval includes zero)")
    if policy.note and policy.note != NO_HETEROGENEITY:
        reasons.append(policy.note)
    if result.evaluation.note:
        reasons.append(result.evaluation.note)
    return f"{name}: no targeted policy — {'; '.join(reasons)}."


OUTCOME_HEADERS: tuple[str, ...] = (
    "outcome", "Qini area [CI]", "uplift, top 30% [CI]", "added by the top 30% [CI]",
    "added by a random 30% [CI]", "added by everyone [CI]",
)


def outcome_rows(found: CampaignTargeting) -> list[list[str]]:
    """Per outcome of one campaign: what the ranking achieves at 30% against random and everyone,
    in totals for the segment (extra conversions, extra revenue …)."""
    return [[e.outcome, with_interval(e.qini_area, e.qini_area_ci), with_interval(e.uplift_at_k, e.uplift_at_k_ci),
             with_interval(e.incremental_at_k, e.incremental_at_k_ci),
             with_interval(e.incremental_random, e.incremental_random_ci),
             with_interval(e.incremental_everyone, e.incremental_everyone_ci)]
            for e in found.targeting.evaluations]


def rows(found: Sequence[CampaignTargeting]) -> list[list[str]]:
    """Every campaign's row."""
    return [campaign_row(item) for item in found]
