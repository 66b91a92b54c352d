"""Semantic checks on experiment declarations: what `liftlab validate` runs in CI.

Each rule is a small function yielding `Finding`s. Per-experiment rules check one declaration;
folder rules check experiments against each other (unique keys and salts, layer overlaps) and
against the project's global holdout.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from liftlab.config.findings import Finding, Severity
from liftlab.config.loading import (
    PROJECT_FILE,
    experiment_files,
    read_experiment_file,
    read_project_file,
)
from liftlab.config.model import HASH_VERSIONS, METRIC_KINDS, Experiment, Project
from liftlab.config.sources import (
    COMING,
    ENGINES,
    PARQUET_ENGINES,
    TIMESTAMP_KINDS,
    RelationKind,
    Source,
    relation_kind,
)
from liftlab.config.tomlfile import KeyLocator, read_toml
from liftlab.errors import ConfigError
from liftlab.lifecycle.catalog import SEGMENT_NAMES, is_segment

#: Arm weights must sum to 1 within this tolerance.
WEIGHT_TOLERANCE = 1e-9
#: A control smaller than this share of its campaign gets a warning: too small to measure well.
MIN_CONTROL_SHARE = 0.05
#: Longest metric window accepted, in days.
MAX_WINDOW_DAYS = 365


@dataclass(frozen=True)
class Declared:
    """An experiment with where it was declared, so findings can point at a file and line."""

    experiment: Experiment
    file: str = "<python>"
    locator: KeyLocator | None = None

    def finding(self, field: str, message: str, rule: str, severity: Severity = "error") -> Finding:
        return _located(self.file, self.locator, field, message, rule, severity)


def _located(
    file: str, locator: KeyLocator | None, field: str, message: str, rule: str,
    severity: Severity = "error",
) -> Finding:
    """A finding at `field` of `file`, with the field's line when the file can be located."""
    line = locator.line(field) if locator else None
    return Finding(file, field, message, rule, severity, line)


def _experiment_rules(d: Declared) -> Iterator[Finding]:
    e = d.experiment
    if not e.key.strip():
        yield d.finding("key", "must not be empty", "required")
    if not e.campaigns:
        yield d.finding("campaigns", "declare at least one campaign", "required")
    if not e.metrics:
        yield d.finding("metrics", "declare at least one metric", "required")
    if e.end is not None and e.end <= e.start:
        yield d.finding("end", f"end {e.end} is not after start {e.start}", "dates")
    if e.hash_version not in HASH_VERSIONS:
        yield d.finding("hash_version", f"hash_version {e.hash_version} is not 1 or 2", "hash_version")
    low, high = e.layer_range
    if not (0.0 <= low < high <= 1.0):
        yield d.finding(
            "layer_range", f"layer_range [{low}, {high}] must satisfy 0 <= start < end <= 1",
            "layer_range",
        )
    if e.margin is not None and not (0.0 < e.margin <= 1.0):
        yield d.finding("margin", f"margin {e.margin} must be in (0, 1]", "margin")


def _metric_rules(d: Declared) -> Iterator[Finding]:
    seen: set[str] = set()
    for i, metric in enumerate(d.experiment.metrics):
        path = f"metrics[{i}]"
        if not metric.key.strip():
            yield d.finding(f"{path}.key", "must not be empty", "required")
        elif metric.key in seen:
            yield d.finding(f"{path}.key", f"metric key {metric.key!r} is declared twice", "unique_metric")
        seen.add(metric.key)
        if metric.kind not in METRIC_KINDS:
            yield d.finding(
                f"{path}.kind",
                f"metric {metric.key!r} kind {metric.kind!r} is not one of {', '.join(METRIC_KINDS)}",
                "metric_kind",
            )
        if not metric.event.strip():
            yield d.finding(f"{path}.event", "must not be empty", "required")
        if not (1 <= metric.window_days <= MAX_WINDOW_DAYS):
            yield d.finding(
                f"{path}.window_days",
                f"metric {metric.key!r} window of {metric.window_days} days is outside "
                f"1..{MAX_WINDOW_DAYS}",
                "metric_window",
            )


def _campaign_rules(d: Declared) -> Iterator[Finding]:
    seen_segments: set[str] = set()
    for i, campaign in enumerate(d.experiment.campaigns):
        path = f"campaigns[{i}]"
        if not is_segment(campaign.segment):
            yield d.finding(
                f"{path}.segment",
                f"unknown segment {campaign.segment!r} (known: {', '.join(SEGMENT_NAMES)})",
                "segment",
            )
        elif campaign.segment in seen_segments:
            yield d.finding(
                f"{path}.segment",
                f"segment {campaign.segment!r} has two campaigns in one experiment",
                "unique_segment",
            )
        seen_segments.add(campaign.segment)
        if not campaign.channel.strip():
            yield d.finding(f"{path}.channel", "must not be empty", "required")
        cost = campaign.cost_per_contact
        if not (math.isfinite(cost) and cost >= 0):
            yield d.finding(f"{path}.cost_per_contact", f"cost_per_contact {cost} must be >= 0", "cost")
        yield from _audience_rules(d, i)
        yield from _arm_rules(d, i)


def _audience_rules(d: Declared, i: int) -> Iterator[Finding]:
    audience = d.experiment.campaigns[i].audience
    if audience is None:
        return
    path = f"campaigns[{i}].audience"
    if not audience:
        yield d.finding(path, "an empty audience assigns nobody (leave the key out for the whole segment)",
                        "audience")
    blank = sum(1 for unit in audience if not unit.strip())
    if blank:
        yield d.finding(path, f"{blank} blank unit id(s)", "audience")
    seen: set[str] = set()
    repeated = [unit for unit in audience if unit in seen or seen.add(unit)]
    if repeated:
        yield d.finding(path, f"{len(repeated)} repeated unit id(s), e.g. {repeated[0]!r}", "audience")


def _arm_rules(d: Declared, i: int) -> Iterator[Finding]:
    campaign = d.experiment.campaigns[i]
    path = f"campaigns[{i}]"
    label = f"campaign {campaign.segment!r}"
    if not campaign.arms:
        yield d.finding(f"{path}.arms", f"{label} declares no arms", "required")
        return
    keys: set[str] = set()
    weights_ok = True
    for j, arm in enumerate(campaign.arms):
        arm_path = f"{path}.arms[{j}]"
        if not arm.key.strip():
            yield d.finding(f"{arm_path}.key", "must not be empty", "required")
        elif arm.key in keys:
            yield d.finding(f"{arm_path}.key", f"{label} declares arm {arm.key!r} twice", "unique_arm")
        keys.add(arm.key)
        if not (math.isfinite(arm.weight) and 0.0 < arm.weight <= 1.0):
            weights_ok = False
            yield d.finding(
                f"{arm_path}.weight", f"arm {arm.key!r} weight {arm.weight} is outside (0, 1]", "weights"
            )
    total = math.fsum(arm.weight for arm in campaign.arms)
    if weights_ok and abs(total - 1.0) > WEIGHT_TOLERANCE:
        yield d.finding(f"{path}.arms", f"{label} arm weights sum to {total:.12g}, not 1", "weights")
    controls = [arm for arm in campaign.arms if arm.control]
    if len(controls) != 1:
        names = ", ".join(repr(a.key) for a in controls) or "none"
        yield d.finding(
            f"{path}.arms", f"{label} needs exactly one control arm, has {len(controls)} ({names})",
            "control",
        )
    elif len(campaign.arms) < 2:
        yield d.finding(f"{path}.arms", f"{label} has a control but no treatment arm", "control")
    elif weights_ok and controls[0].weight < MIN_CONTROL_SHARE:
        yield d.finding(
            f"{path}.arms",
            f"{label} control {controls[0].key!r} is {controls[0].weight:.1%} of the segment, "
            f"under {MIN_CONTROL_SHARE:.0%}: its uplift will be hard to measure",
            "small_control",
            "warning",
        )


def validate_experiment(
    experiment: Experiment, *, file: str = "<python>", locator: KeyLocator | None = None
) -> list[Finding]:
    """Every problem in one experiment declaration (errors and warnings)."""
    d = Declared(experiment, file, locator)
    return [
        *_experiment_rules(d),
        *_metric_rules(d),
        *_campaign_rules(d),
    ]


def _overlap_in_time(a: Experiment, b: Experiment) -> bool:
    a_end = a.end or date.max
    b_end = b.end or date.max
    return a.start < b_end and b.start < a_end


def _overlap_in_range(a: Experiment, b: Experiment) -> bool:
    return a.layer_range[0] < b.layer_range[1] and b.layer_range[0] < a.layer_range[1]


def validate_together(declared: Sequence[Declared], project: Project | None = None) -> list[Finding]:
    """Rules across experiments: unique keys and salts, layer exclusivity, holdout salt."""
    findings: list[Finding] = []
    first_key: dict[str, Declared] = {}
    first_salt: dict[str, Declared] = {}
    for d in declared:
        e = d.experiment
        if e.key in first_key:
            findings.append(d.finding("key", f"experiment key {e.key!r} is also used in "
                                      f"{first_key[e.key].file}", "unique_key"))
        else:
            first_key[e.key] = d
        if e.salt in first_salt:
            findings.append(d.finding("salt", f"salt {e.salt!r} is also used by experiment "
                                      f"{first_salt[e.salt].experiment.key!r} in "
                                      f"{first_salt[e.salt].file}: their arms would be correlated",
                                      "unique_salt"))
        else:
            first_salt[e.salt] = d
        if project is not None and e.salt == project.holdout_salt:
            findings.append(d.finding("salt", f"salt {e.salt!r} equals the global holdout salt",
                                      "unique_salt"))
    for i, a in enumerate(declared):
        for b in declared[i + 1:]:
            ea, eb = a.experiment, b.experiment
            if ea.layer is None or ea.layer != eb.layer:
                continue
            shared = sorted(set(ea.segments) & set(eb.segments))
            if shared and _overlap_in_time(ea, eb) and _overlap_in_range(ea, eb):
                findings.append(b.finding(
                    "layer",
                    f"experiment {eb.key!r} overlaps {ea.key!r} ({a.file}) in layer {ea.layer!r}: "
                    f"same segments ({', '.join(shared)}), overlapping dates and layer_range; "
                    "give them disjoint layer_range slices or dates",
                    "layer_overlap",
                ))
    return findings


def _project_rules(project: Project, file: str, locator: KeyLocator | None) -> list[Finding]:
    findings = []
    if not (0.0 <= project.holdout_fraction < 1.0):
        findings.append(_located(file, locator, "holdout.fraction",
                                 f"holdout fraction {project.holdout_fraction} must be in [0, 1)",
                                 "holdout"))
    if not project.holdout_salt.strip():
        findings.append(_located(file, locator, "holdout.salt", "must not be empty", "required"))
    if project.hash_version not in HASH_VERSIONS:
        findings.append(_located(file, locator, "holdout.hash_version",
                                 f"hash_version {project.hash_version} is not 1 or 2",
                                 "hash_version"))
    margin = project.default_margin
    if margin is not None and not (0.0 < margin <= 1.0):
        findings.append(_located(file, locator, "defaults.margin",
                                 f"margin {margin} must be in (0, 1]", "margin"))
    return findings


def source_findings(source: Source, file: str = "<python>",
                    locator: KeyLocator | None = None) -> list[Finding]:
    """Every problem in one declared source: its engine, its relations, its column names."""
    path = f"source.{source.name}"
    findings = []

    def add(key: str, message: str, rule: str) -> None:
        findings.append(_located(file, locator, f"{path}.{key}" if key else path, message, rule))

    engine = source.engine_name
    if "://" not in source.url:
        add("url", f"{source.url!r} is not a SQLAlchemy URL such as duckdb:///lake.duckdb", "source_url")
    elif engine in COMING:
        add("url", f"the {engine} engine is coming (liftlab runs sources on "
                   f"{', '.join(ENGINES)} for now)", "source_url")
    elif engine not in ENGINES:
        add("url", f"engine {engine!r} is not supported (use one of {', '.join(ENGINES)})",
            "source_url")
    for role, relation in source.relations().items():
        if not relation.strip():
            add(role, "must name a table, a Parquet glob or a SQL query", "required")
        elif relation_kind(relation) is RelationKind.PARQUET and engine not in (*PARQUET_ENGINES, *COMING):
            add(role, f"a Parquet relation needs a duckdb:// or spark:// engine, not {engine!r}",
                "source_relation")
    if source.timestamps not in TIMESTAMP_KINDS:
        add("timestamps", f"{source.timestamps!r} is not one of {', '.join(TIMESTAMP_KINDS)}",
            "source_timestamps")
    for name in source.columns.names():
        declared = getattr(source.columns, name)
        if declared is not None and not declared.strip():
            add(f"columns.{name}", "must name a column", "required")
    if source.visits is not None and source.orders is None:
        add("orders", "visits only set the segmentation's default cut-off: declare orders and customers too",
            "required")
    for role, other in (("orders", "customers"), ("customers", "orders")):
        if getattr(source, role) is None and getattr(source, other) is not None:
            add(role, f"segmentation reads orders and customers together: declare {role} with {other}",
                "required")
    return findings


def check_source(source: Source, file: str | Path | None = None) -> None:
    """The gate before a source is queried: ConfigError with its findings (file and line when
    `file`, the project file it came from, is given)."""
    locator = None
    if file is not None:
        try:
            _, locator = read_toml(Path(file))
        except (ConfigError, OSError):
            locator = None
    findings = source_findings(source, str(file) if file is not None else "<python>", locator)
    if findings:
        listed = "\n".join(f"  {f}" for f in findings)
        raise ConfigError(f"source {source.name!r} fails validation ({len(findings)} error(s)):\n{listed}",
                          file=findings[0].file, line=findings[0].line, field=findings[0].field,
                          findings=tuple(findings))


def validate_paths(paths: Iterable[str | Path]) -> list[Finding]:
    """Validate files and folders of declarations, as `liftlab validate` does.

    Unreadable files become `fatal` findings (the rest are still checked); `liftlab.toml`
    files are project files holding the global holdout.
    """
    findings: list[Finding] = []
    declared: list[Declared] = []
    project: Project | None = None
    for path in paths:
        root = Path(path)
        try:
            files = experiment_files(root)
        except ConfigError as exc:
            findings.append(_fatal(exc))
            continue
        project_file = root / PROJECT_FILE if root.is_dir() else None
        if root.is_file() and root.name == PROJECT_FILE:
            project_file, files = root, []
        if project_file is not None and project_file.exists():
            try:
                parsed, missing, locator = read_project_file(project_file)
                findings.extend(missing)
                if parsed is not None:
                    project = parsed
                    findings.extend(_project_rules(parsed, str(project_file), locator))
                    for declared_source in parsed.sources:
                        findings.extend(source_findings(declared_source, str(project_file), locator))
            except ConfigError as exc:
                findings.append(_fatal(exc))
        for file in files:
            try:
                experiments, missing, locator = read_experiment_file(file)
            except ConfigError as exc:
                findings.append(_fatal(exc))
                continue
            findings.extend(missing)
            for experiment in experiments:
                d = Declared(experiment, str(file), locator)
                declared.append(d)
                findings.extend(validate_experiment(experiment, file=str(file), locator=locator))
    findings.extend(validate_together(declared, project))
    return findings


def _fatal(exc: ConfigError) -> Finding:
    return Finding(
        file=exc.file or "",
        field=exc.field or "",
        message=exc.message,
        rule="unreadable",
        severity="fatal",
        line=exc.line,
    )


def check_experiment(
    experiment: Experiment,
    *,
    project: Project | None = None,
    source: str | Path | None = None,
    locator: KeyLocator | None = None,
    allow: Collection[str] = (),
) -> tuple[Finding, ...]:
    """The gate every stage runs first: the rules of `liftlab validate` on one declaration.

    Runs the per-experiment rules, the project's rules and the cross rules that apply to one
    experiment (its salt against the global holdout's). Raises ConfigError carrying the
    findings when any is an error; returns the warnings otherwise. `source` (the file it was
    read from) and `locator` let each finding name its file and line; a `.toml` source is
    located by itself. `allow` names rules whose errors the caller accepts on purpose (e.g.
    `("segment",)` for an experiment stratified by its own segments, not lifecycle ones):
    they come back as warnings, never silently.
    """
    file = str(source) if source is not None else "<python>"
    if locator is None and source is not None and Path(source).suffix == ".toml":
        try:
            _, locator = read_toml(Path(source))
        except (ConfigError, OSError):
            locator = None
    findings = list(validate_experiment(experiment, file=file, locator=locator))
    if project is not None:
        findings.extend(_project_rules(project, "<project>", None))
    findings.extend(validate_together([Declared(experiment, file, locator)], project))
    findings = [replace(f, severity="warning") if f.rule in allow and f.severity == "error" else f
                for f in findings]
    errors = [f for f in findings if f.severity != "warning"]
    if errors:
        listed = "\n".join(f"  {f}" for f in errors)
        raise ConfigError(
            f"experiment {experiment.key!r} fails validation ({len(errors)} error(s)):\n{listed}",
            findings=tuple(findings),
        )
    return tuple(findings)
