"""`liftlab demo`: a complete simulated lifecycle programme on a local SQLite file."""

from __future__ import annotations

import time
from pathlib import Path

import click

from liftlab.cli._common import console as make_console
from liftlab.cli._common import friendly_errors


@click.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path("liftlab-demo"),
              show_default=True, help="Where the SQLite file and the HTML reports go.")
@click.option("--customers", type=int, default=150_000, show_default=True,
              help="Size of the synthetic shop.")
@click.option("--seed", type=int, default=2026, show_default=True)
@click.option("--experiments", "experiments_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of experiment files (default: ./experiments, else the shipped ones).")
@friendly_errors
def demo(directory: Path, customers: int, seed: int, experiments_dir: Path | None) -> None:
    """Simulate a shop, segment it, run the experiments, log everything, and report.

    Every number comes from the same library calls a real team would use; the uplifts are
    planted, so the report can be checked against the truth it printed.
    """

    from liftlab.demo.run import run_demo, truth_check
    from liftlab.report.render import to_table

    console = make_console()
    started = time.perf_counter()
    run = run_demo(
        directory, customers=customers, seed=seed, experiments_dir=experiments_dir,
        progress=lambda message: console.print(f"[dim]•[/dim] {message}"),
    )
    counts = run.segments["segment"].value_counts()
    console.print("\n[bold]Lifecycle segments[/bold]: " + ", ".join(f"{s} {n:,}" for s, n in counts.items()))
    console.print(
        "\n[bold]How to read the reports[/bold]: each row is one segment's campaign arm against that "
        "segment's held-out control. 'rel. uplift' is the change in the metric with its 95% interval; "
        "'p (adj.)' is corrected for the number of comparisons; 'incremental' is what the arm added "
        "(extra purchases, or revenue) over its treated customers; intervals beside an adjusted p "
        "are adjusted too. 'verdict' is wins / loses only when the adjusted evidence is clear; "
        "otherwise inconclusive, underpowered (not significant, with the smallest effect the "
        "segment could detect), srm (the arm split is off) or no data. Rows with segment 'all' "
        "pool each arm over the segments (stratified)."
    )
    for report in run.reports:
        console.print()
        to_table(report, console)
    check = truth_check(run)
    covered = int(check["covered"].sum())
    console.print(
        f"\n[bold]Planted truth[/bold]: {covered} of {len(check)} measured 95% intervals contain the "
        "true uplift the simulation planted (about 95% expected)."
    )
    for page in run.html_files:
        console.print(f"HTML report: {page}")
    console.print(f"Customer features (for `liftlab target`): {run.directory / 'segments.csv'}")
    console.print(f"Event store: {run.database_url}  ({time.perf_counter() - started:.1f} s)")
