"""`liftlab power`: the sample size an effect needs, or the effect a sample size can detect."""

from __future__ import annotations

import click

from liftlab.cli._common import friendly_errors


@click.command()
@click.option("--baseline", type=float, required=True,
              help="Control conversion rate (e.g. 0.05) or mean revenue per customer.")
@click.option("--mde", "effect", type=float, default=None,
              help="Relative effect to detect (0.1 = +10%): prints the sample size it needs.")
@click.option("--n-control", type=int, default=None, help="Control size: prints the MDE it allows.")
@click.option("--n-treatment", type=int, default=None,
              help="Treatment size (with --n-control; default: the same as control).")
@click.option("--kind", type=click.Choice(["conversion", "revenue"]), default="conversion",
              show_default=True)
@click.option("--sd", type=float, default=None,
              help="Per-customer standard deviation (revenue metrics).")
@click.option("--alpha", type=float, default=0.05, show_default=True)
@click.option("--power", "power_", type=float, default=0.8, show_default=True)
@click.option("--ratio", type=float, default=1.0, show_default=True,
              help="Treatment / control size ratio (with --mde).")
@friendly_errors
def power(
    baseline: float, effect: float | None, n_control: int | None, n_treatment: int | None,
    kind: str, sd: float | None, alpha: float, power_: float, ratio: float,
) -> None:
    """Plan a segment campaign: give --mde for a sample size, or --n-control for an MDE.

    \b
    liftlab power --baseline 0.05 --mde 0.10            # units per arm for +10%
    liftlab power --baseline 0.05 --n-control 4000      # smallest effect 4,000 per arm detects
    """
    from liftlab.stats import mde, sample_size

    if (effect is None) == (n_control is None):
        raise click.UsageError("give exactly one of --mde or --n-control")
    if effect is not None:
        size = sample_size(baseline, effect, alpha=alpha, power=power_, kind=kind,  # type: ignore[arg-type]
                           ratio=ratio, sd=sd)
        click.echo(
            f"To detect {effect:+.1%} relative ({size.abs_effect:+.4g} absolute) on a baseline of "
            f"{baseline:g} with {power_:.0%} power at alpha {alpha:g}: {size.n_control:,} control + "
            f"{size.n_treatment:,} treatment = {size.total:,} customers."
        )
        return
    assert n_control is not None
    n_t = n_treatment if n_treatment is not None else n_control
    result = mde(n_control, n_t, baseline, alpha=alpha, power=power_, kind=kind, sd=sd)  # type: ignore[arg-type]
    click.echo(
        f"With {n_control:,} control and {n_t:,} treatment customers, the smallest effect "
        f"detectable with {power_:.0%} power at alpha {alpha:g} is {result.relative:+.1%} relative "
        f"({result.absolute:+.4g} absolute) on a baseline of {baseline:g}."
    )
