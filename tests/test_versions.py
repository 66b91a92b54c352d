"""Config versions are first-class: each assignment records its version, an edit is listed
field by field, expected arm shares mix the versions' weights, and `history` shows them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from liftlab import Arm, Campaign, EventStore, Experiment, Metric, assign
from liftlab.cli import cli
from liftlab.config.diff import Change, diff_configs
from liftlab.stats import srm

ROOT = Path(__file__).resolve().parents[1]
ONBOARDING = (ROOT / "experiments" / "onboarding.toml").read_text()
EDITED = ONBOARDING.replace("weight = 0.3\n  control = true", "weight = 0.5\n  control = true") \
                   .replace("weight = 0.7", "weight = 0.5")


def _experiment(key: str, weights: dict[str, tuple[float, ...]], end: date | None = None) -> Experiment:
    campaigns = tuple(
        Campaign(segment, tuple(Arm("control" if j == 0 else f"arm{j}", w, control=j == 0)
                                for j, w in enumerate(ws)))
        for segment, ws in weights.items()
    )
    return Experiment(key, campaigns, (Metric("buy", "conversion"),), date(2026, 10, 1), end)


def test_diff_configs_names_fields_by_segment_and_arm() -> None:
    old = _experiment("d", {"at_risk": (0.3, 0.7), "recent": (0.5, 0.5)}).to_dict()
    new = _experiment("d", {"at_risk": (0.5, 0.5), "champion": (0.5, 0.5)}, end=date(2027, 1, 1)).to_dict()
    changes = diff_configs(old, new)
    fields = [c.field for c in changes]
    assert Change("campaigns[at_risk].arms[control].weight", 0.3, 0.5) in changes
    assert Change("campaigns[at_risk].arms[arm1].weight", 0.7, 0.5) in changes
    assert Change("end", None, "2027-01-01") in changes
    assert "campaigns[champion]" in fields and "campaigns[recent]" in fields
    assert diff_configs(old, old) == ()
    # Reordering campaigns is not a change.
    swapped = dict(old, campaigns=old["campaigns"][::-1])
    assert diff_configs(old, swapped) == ()


def test_a_store_from_before_versions_is_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = EventStore(url)
    experiment = _experiment("old", {"at_risk": (0.5, 0.5)})
    store.register_experiment(experiment)
    customers = pd.DataFrame({"unit_id": [f"u{i}" for i in range(50)], "segment": "at_risk"})
    store.save_assignments(assign(experiment, customers).assignments)
    with store.engine.begin() as conn:  # what a store before `assignments.version` looked like
        conn.exec_driver_sql("ALTER TABLE assignments DROP COLUMN version")
    store.engine.dispose()
    reopened = EventStore(url)
    stored = reopened.assignments("old")
    assert len(stored) == 50 and (stored["version"] == 1).all()
    assert reopened.experiment_versions("old")[0].assigned == 50


def test_expected_shares_mix_the_versions_by_units_assigned(tmp_path: Path) -> None:
    store = EventStore(f"sqlite:///{tmp_path / 'mix.db'}")
    first = _experiment("mix", {"at_risk": (0.3, 0.7)})
    store.register_experiment(first)
    store.save_assignments(assign(first, pd.DataFrame({"unit_id": [f"a{i}" for i in range(300)],
                                                       "segment": "at_risk"})).assignments)
    second = _experiment("mix", {"at_risk": (0.5, 0.5), "recent": (0.2, 0.8)})
    assert store.register_experiment(second).version == 2
    everyone = pd.DataFrame({"unit_id": [f"a{i}" for i in range(300)] + [f"b{i}" for i in range(100)],
                             "segment": "at_risk"})
    saved = store.save_assignments(assign(second, everyone).assignments)
    assert saved.inserted == 100 and saved.unchanged + saved.conflicting == 300
    shares = store.expected_arm_shares("mix", population="assigned")
    assert shares["at_risk"] == pytest.approx({"control": (300 * 0.3 + 100 * 0.5) / 400,
                                               "arm1": (300 * 0.7 + 100 * 0.5) / 400})
    assert shares["recent"] == pytest.approx({"control": 0.2, "arm1": 0.8})  # no units yet: latest
    stored = store.assignments("mix").set_index("unit_id")
    assert (stored.loc[[f"a{i}" for i in range(300)], "version"] == 1).all()
    assert (stored.loc[[f"b{i}" for i in range(100)], "version"] == 2).all()
    # Exposed population: only the exposed units count.
    exposed = stored.reset_index().iloc[:10].assign(channel="email", timestamp="2026-10-02")
    store.log_exposures(exposed[["experiment", "unit_id", "segment", "arm", "channel", "timestamp"]])
    assert store.expected_arm_shares("mix")["at_risk"] == pytest.approx({"control": 0.3, "arm1": 0.7})


def _cli_files(tmp_path: Path) -> tuple[Path, list[str], str]:
    rng = np.random.default_rng(1)
    pd.DataFrame({"unit_id": [f"c{i}" for i in range(3_000)],
                  "segment": rng.choice(["first_time", "recent"], 3_000)}).to_csv(tmp_path / "s.csv", index=False)
    experiment = tmp_path / "onboarding.toml"
    experiment.write_text(ONBOARDING)
    db = f"sqlite:///{tmp_path / 'v.db'}"
    return experiment, ["assign", str(experiment), "--segments", str(tmp_path / "s.csv"), "--db", db], db


def test_assign_on_an_edited_file_lists_the_changes_and_moves_nobody(tmp_path: Path) -> None:
    experiment, args, db = _cli_files(tmp_path)
    assert CliRunner().invoke(cli, args).exit_code == 0
    before = EventStore(db).assignments("onboarding-series-2026")
    experiment.write_text(EDITED)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "config changed: version 1 → 2 (2 field(s))" in result.output
    assert "campaigns[recent].arms[control].weight: 0.3 → 0.5" in result.output
    assert "campaigns[recent].arms[sms_nudge].weight: 0.7 → 0.5" in result.output
    store = EventStore(db)
    after = store.assignments("onboarding-series-2026")
    assert (after["arm"].fillna("-") == before["arm"].fillna("-")).all() and (after["version"] == 1).all()
    moved = store.save_assignments(assign(store_experiment(store), pd.read_csv(tmp_path / "s.csv")).assignments)
    assert f"{moved.conflicting:,} already-assigned customer(s) would have moved under version 2" in result.output
    assert moved.conflicting > 0
    # The expected counts come from the version that assigned them: no SRM warning sign.
    assert "⚠" not in result.output


def store_experiment(store: EventStore) -> Experiment:
    from liftlab.config.loading import experiment_from_dict

    return experiment_from_dict(store.experiment_config("onboarding-series-2026"))


def test_analyze_warns_when_the_file_differs_from_the_stored_version(tmp_path: Path) -> None:
    experiment, args, db = _cli_files(tmp_path)
    assert CliRunner().invoke(cli, args).exit_code == 0
    same = CliRunner().invoke(cli, ["analyze", str(experiment), "--db", db, "--format", "json"])
    assert same.exit_code == 0 and "differs from stored version" not in same.output
    experiment.write_text(EDITED)
    result = CliRunner().invoke(cli, ["analyze", str(experiment), "--db", db, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "differs from stored version 1" in result.stderr
    assert "campaigns[recent].arms[control].weight, campaigns[recent].arms[sms_nudge].weight" in result.stderr
    json.loads(result.stdout)  # still one JSON document on stdout


def test_history_lists_versions_counts_and_changes(tmp_path: Path) -> None:
    experiment, args, db = _cli_files(tmp_path)
    CliRunner().invoke(cli, args)
    experiment.write_text(EDITED)
    pd.concat([pd.read_csv(tmp_path / "s.csv"),
               pd.DataFrame({"unit_id": [f"n{i}" for i in range(40)], "segment": "recent"})]
              ).to_csv(tmp_path / "s.csv", index=False)
    CliRunner().invoke(cli, args)
    result = CliRunner().invoke(cli, ["history", "onboarding-series-2026", "--db", db, "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    first, second = document["versions"]
    assert (first["version"], second["version"]) == (1, 2)
    assert second["assigned"] == 40 and first["assigned"] > 0 and first["changes"] == []
    assert {"field": "campaigns[recent].arms[control].weight", "old": 0.3, "new": 0.5} in second["changes"]
    assert len(first["config_hash"]) == 64 and first["registered_at"]
    table = CliRunner().invoke(cli, ["history", "onboarding-series-2026", "--db", db])
    assert table.exit_code == 0 and "campaigns[recent].arms[control].weight" in table.output
    unknown = CliRunner().invoke(cli, ["history", "nope", "--db", db])
    assert unknown.exit_code == 2 and "not registered" in unknown.output


def _weights(rng: np.random.Generator, arms: int) -> tuple[float, ...]:
    """Random arm weights in whole percent, each at least 10%, summing to exactly 1."""
    cuts = np.sort(rng.choice(np.arange(1, 100 - 10 * (arms - 1) + 1 - 10 + 1), arms - 1, replace=False))
    parts = np.diff(np.concatenate([[0], cuts, [100 - 10 * arms]])) + 10
    return tuple(float(p) / 100 for p in parts)


EXPERIMENTS, EDITS = 40, 5  # 200 random edits of weights
UNITS = 200  # new customers assigned under each version of each experiment


def test_random_weight_edits_move_nobody_and_raise_no_srm_flag(tmp_path: Path) -> None:
    """Acceptance: 40 random valid experiments, each edited 5 times (200 random edits of the
    weights). After each edit, re-assigning everyone moves nobody, and the SRM check with the
    mixed expected shares (`expected_arm_shares`) flags ≤ 1% on exposures of the stored arms,
    each drawn by the weights of the version that assigned it — where the latest weights
    alone would flag often. All experiments share one store and bulk calls, so it runs fast."""
    rng = np.random.default_rng(13)
    store = EventStore(f"sqlite:///{tmp_path / 'prop.db'}")
    segments = ["at_risk", "recent", "champion"]
    plans = []
    for trial in range(EXPERIMENTS):
        chosen = list(rng.choice(segments, rng.integers(1, 3), replace=False))
        plans.append((f"prop-{trial}", chosen, {s: int(rng.integers(2, 4)) for s in chosen}))
    people: dict[str, pd.DataFrame] = {key: pd.DataFrame({"unit_id": [], "segment": []}) for key, _, _ in plans}
    flags = naive_flags = tests = moved = 0
    for edit in range(EDITS + 1):  # the first declaration, then five edits
        versions = [_experiment(key, {s: _weights(rng, k) for s, k in arms.items()}) for key, _, arms in plans]
        for experiment in versions:
            assert store.register_experiment(experiment).version == edit + 1
        before = _all_assignments(store)
        for key, chosen, _ in plans:
            fresh = pd.DataFrame({"unit_id": [f"v{edit}-{i}" for i in range(UNITS)],
                                  "segment": rng.choice(chosen, UNITS)})
            people[key] = pd.concat([people[key], fresh], ignore_index=True)
        saved = store.save_assignments(pd.concat([assign(e, people[e.key]).assignments for e in versions]))
        assert saved.inserted == EXPERIMENTS * UNITS
        moved += saved.conflicting
        after = _all_assignments(store)
        kept = before.merge(after, on=["experiment", "unit_id"], suffixes=("", "_after"))
        assert len(kept) == len(before) and (kept["arm"].fillna("-") == kept["arm_after"].fillna("-")).all()
        new = after[after["version"] == edit + 1]
        exposed = new[rng.random(len(new)) < 0.8].assign(channel="email", timestamp="2026-10-05")
        assert store.log_exposures(exposed[["experiment", "unit_id", "segment", "arm", "channel",
                                            "timestamp"]]).rejected == 0
        if edit == 0:
            continue
        counts = after.merge(
            _exposed(store), on=["experiment", "unit_id"]).groupby(["experiment", "segment", "arm"]).size()
        for experiment in versions:
            shares = store.expected_arm_shares(experiment.key)
            for campaign in experiment.campaigns:
                observed = [int(counts.get((experiment.key, campaign.segment, a.key), 0)) for a in campaign.arms]
                tests += 1
                flags += srm(observed, [shares[campaign.segment][a.key] for a in campaign.arms]).flagged
                naive_flags += srm(observed, [a.weight for a in campaign.arms]).flagged
    assert moved > 0  # the edits would have moved customers: stickiness was tested
    assert tests >= EXPERIMENTS * EDITS
    assert flags / tests <= 0.01, (flags, tests)
    print(f"SRM flags: {flags}/{tests} with the mixed shares, {naive_flags}/{tests} with the latest weights")
    assert naive_flags / tests >= 0.2, (naive_flags, tests)  # the check above can fail


def _all_assignments(store: EventStore) -> pd.DataFrame:
    """Every experiment's assignments in one query (`store.assignments` reads one experiment)."""
    with store.engine.connect() as conn:
        return pd.read_sql_query("SELECT experiment, unit_id, segment, arm, version FROM assignments", conn)


def _exposed(store: EventStore) -> pd.DataFrame:
    with store.engine.connect() as conn:
        return pd.read_sql_query("SELECT experiment, unit_id FROM exposed_units", conn)


def test_analyze_raises_no_srm_alarm_after_a_weight_edit(tmp_path: Path) -> None:
    """0.3/0.7 assigned, then edited to 0.5/0.5: the report expects the assigning version's
    shares, so a healthy experiment keeps its verdict (before: SRM flagged, verdict withheld)."""
    from liftlab import analyze

    store = EventStore(f"sqlite:///{tmp_path / 'edit.db'}")
    first = _experiment("edit", {"at_risk": (0.3, 0.7)})
    store.register_experiment(first)
    units = pd.DataFrame({"unit_id": [f"u{i}" for i in range(4_000)], "segment": "at_risk"})
    store.save_assignments(assign(first, units).assignments)
    edited = _experiment("edit", {"at_risk": (0.5, 0.5)})
    store.register_experiment(edited)
    sends = store.assignments("edit").assign(channel="email", timestamp="2026-10-02T09:00:00Z")
    store.log_exposures(sends[["experiment", "unit_id", "segment", "arm", "channel", "timestamp"]])
    report = analyze(store, edited)
    check = report.srm[0]
    assert not check.flagged and check.p_value > 0.001
    assert dict(zip(check.arms, check.expected)) == pytest.approx({"control": 1_200, "arm1": 2_800}, rel=0.05)
    naive = analyze(store, edited, expected_shares={"at_risk": {"control": 0.5, "arm1": 0.5}})
    assert naive.srm[0].flagged  # the test can fail: the file's weights alone would flag it
