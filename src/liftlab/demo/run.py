"""`liftlab demo`: a complete simulated lifecycle programme, end to end, on a local SQLite file.

It builds a synthetic shop, segments it by RFM, loads the experiments in `experiments/` (the
packaged copy when run outside the repository), assigns customers with the global holdout
first, simulates the sends and the purchases with planted true uplifts per segment (some
positive, one zero, one negative), logs everything to the event store, analyses each
experiment and writes the reports. Every step is the library's own public path, so the demo
is also the integration test of the whole flow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from liftlab.assignment.arms import assign
from liftlab.config.loading import load_experiments, load_project
from liftlab.demo.simulate import simulate_campaign, simulate_shop
from liftlab.lifecycle.rfm import segment_customers
from liftlab.report.analysis import analyze
from liftlab.report.records import Report
from liftlab.report.render import to_html
from liftlab.report.timeline import timeline
from liftlab.store.event_store import EventStore

#: The planted truth: relative uplift in purchase probability per segment and arm.
DEMO_UPLIFTS: dict[str, dict[str, float]] = {
    "at_risk": {"voucher_10": 0.30, "free_shipping": 0.12},
    "cant_lose": {"voucher_10": 0.25, "free_shipping": 0.0},
    "hibernating": {"voucher_10": -0.20},  # the voucher mail annoys drifting customers
    "first_time": {"series_3": 0.35},
    "recent": {"sms_nudge": 0.0},  # no effect at all
    "champion": {"early_access": 0.10},
    "loyal": {"early_access": 0.15},
}


@dataclass(frozen=True)
class DemoRun:
    """What the demo produced: where, the reports, and the planted truth to compare with."""

    directory: Path
    database_url: str
    reports: tuple[Report, ...]
    truth: pd.DataFrame  # experiment, segment, arm, metric, true_abs_uplift, true_rel_uplift
    html_files: tuple[Path, ...]
    segments: pd.DataFrame


def default_experiments_dir() -> Path:
    """`./experiments` when it holds declarations, else the copy shipped in the package."""
    local = Path("experiments")
    if local.is_dir() and any(local.glob("*.toml")):
        return local
    return Path(__file__).parent.parent / "data" / "experiments"


def run_demo(
    directory: str | Path = "liftlab-demo",
    *,
    customers: int = 150_000,
    seed: int = 2026,
    experiments_dir: str | Path | None = None,
    uplifts: Mapping[str, Mapping[str, float]] | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> DemoRun:
    """Run the whole flow into `directory` (a fresh `liftlab.db` there) and return the results."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    database = out / "liftlab.db"
    for leftover in (database, out / "liftlab.db-wal", out / "liftlab.db-shm"):
        leftover.unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    source = Path(experiments_dir) if experiments_dir else default_experiments_dir()
    experiments = load_experiments(source)
    project = load_project(source)
    planted = uplifts if uplifts is not None else DEMO_UPLIFTS
    launch = min(e.start for e in experiments)

    progress(f"Building a synthetic shop of {customers:,} customers")
    shop = simulate_shop(customers, seed=seed, as_of=launch)
    progress(f"Segmenting by RFM as of {launch}: {len(shop.orders):,} orders, {len(shop.visits):,} visits")
    segments = segment_customers(shop.customers, shop.orders, shop.visits, as_of=launch)
    units = pd.DataFrame({"unit_id": segments["customer_id"], "segment": segments["segment"]})
    # The customers' RFM features, as `liftlab segment` writes them: what `liftlab target` reads.
    segments.to_csv(out / "segments.csv", index=False)

    store = EventStore(url)
    reports, truths, html_files = [], [], []
    for number, experiment in enumerate(experiments):
        progress(f"Experiment {experiment.key}: assigning, simulating the send and the purchases")
        store.register_experiment(experiment)
        assignments = assign(experiment, units, project).assignments
        store.save_assignments(assignments)
        campaign = simulate_campaign(
            experiment, assignments, planted, send_date=experiment.start, seed=seed + number
        )
        store.log_exposures(campaign.exposures)
        store.log_conversions(campaign.conversions)
        truths.append(campaign.truth.assign(experiment=experiment.key))

    for experiment in experiments:
        progress(f"Analysing {experiment.key}")
        report = analyze(store, experiment)
        reports.append(report)
        page = out / f"report-{experiment.key}.html"
        page.write_text(to_html(report, timeline(store, experiment)), encoding="utf-8")
        html_files.append(page)
    truth = pd.concat(truths, ignore_index=True) if truths else pd.DataFrame()
    return DemoRun(out, url, tuple(reports), truth, tuple(html_files), segments)


def truth_check(run: DemoRun) -> pd.DataFrame:
    """Planted vs measured uplift per experiment × segment × arm × metric, and whether the
    measured 95% interval contains the planted truth."""
    rows = []
    truth = run.truth.set_index(["experiment", "segment", "arm", "metric"])
    for report in run.reports:
        for r in report.results:
            key = (report.experiment, r.segment, r.arm, r.metric)
            if key not in truth.index:
                continue
            planted = float(truth.loc[key, "true_abs_uplift"])
            low, high = r.abs_ci
            rows.append(
                {
                    "experiment": report.experiment,
                    "segment": r.segment,
                    "arm": r.arm,
                    "metric": r.metric,
                    "planted": planted,
                    "measured": r.abs_uplift,
                    "low": low,
                    "high": high,
                    "covered": bool(low <= planted <= high),
                }
            )
    return pd.DataFrame(rows)


