"""The experiment model: what a growth team declares, in Python or in TOML.

An `Experiment` runs one `Campaign` per lifecycle segment. Each campaign splits its segment
into `Arm`s by weight, exactly one of which is the held-out control. `Metric`s say what counts
as success and for how long after a customer's first exposure. The project file holds the
global holdout that no campaign touches.

All types are frozen dataclasses: a declaration is a value, never mutated after loading.
Semantic checks (weights, controls, segments, overlaps) live in `validation.py`, so a broken
declaration can still be built, inspected and reported on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

from liftlab.config.sources import Source
from liftlab.errors import ConfigError

MetricKind = Literal["conversion", "revenue"]
METRIC_KINDS: tuple[str, ...] = ("conversion", "revenue")
HASH_VERSIONS: tuple[int, ...] = (1, 2)


@dataclass(frozen=True)
class Arm:
    """One variant of a campaign: its key, its share of the segment, and whether it is control."""

    key: str
    weight: float
    control: bool = False
    description: str = ""


@dataclass(frozen=True)
class Metric:
    """What counts as success: a conversion (did the customer do `event`) or revenue (its value),
    within `window_days` after the customer's first exposure."""

    key: str
    kind: MetricKind
    event: str = "purchase"
    window_days: int = 14
    description: str = ""


@dataclass(frozen=True)
class Campaign:
    """The campaign one lifecycle segment receives: its channel, cost per contact and arms.

    Arms take consecutive ranges of [0, 1) in the order given here. `audience`, when given,
    restricts the campaign to those unit ids of the segment (e.g. the customers an uplift
    model targets, `liftlab target --next`); the rest of the segment is not assigned.
    """

    segment: str
    arms: tuple[Arm, ...]
    channel: str = "email"
    cost_per_contact: float = 0.0
    description: str = ""
    audience: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "arms", tuple(self.arms))
        if self.audience is not None:
            object.__setattr__(self, "audience", tuple(self.audience))

    @property
    def control(self) -> Arm:
        """The held-out control arm (exactly one in a valid campaign)."""
        controls = [arm for arm in self.arms if arm.control]
        if len(controls) != 1:
            raise ConfigError(
                f"campaign for segment {self.segment!r} has {len(controls)} control arms, needs 1",
                field="arms",
            )
        return controls[0]

    @property
    def treatments(self) -> tuple[Arm, ...]:
        """The arms that receive something."""
        return tuple(arm for arm in self.arms if not arm.control)


@dataclass(frozen=True)
class Experiment:
    """A lifecycle experiment: per-segment campaigns measured on shared metrics.

    `salt` defaults to `key`, so renaming the experiment's display name never reshuffles
    customers. Experiments sharing a `layer` are mutually exclusive over `layer_range` (a slice
    of [0, 1) of the layer's own hash), like GrowthBook namespaces.
    """

    key: str
    campaigns: tuple[Campaign, ...]
    metrics: tuple[Metric, ...]
    start: date
    end: date | None = None
    name: str = ""
    owner: str = ""
    description: str = ""
    salt: str = ""
    layer: str | None = None
    layer_range: tuple[float, float] = (0.0, 1.0)
    hash_version: int = 2
    margin: float | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "campaigns", tuple(self.campaigns))
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "tags", tuple(self.tags))
        object.__setattr__(self, "layer_range", tuple(self.layer_range))
        if not self.salt:
            object.__setattr__(self, "salt", self.key)
        if not self.name:
            object.__setattr__(self, "name", self.key)

    @property
    def segments(self) -> tuple[str, ...]:
        """The lifecycle segments this experiment runs a campaign for, in declared order."""
        return tuple(campaign.segment for campaign in self.campaigns)

    def campaign(self, segment: str) -> Campaign:
        """The campaign for `segment`; KeyError when the experiment has none."""
        for campaign in self.campaigns:
            if campaign.segment == segment:
                return campaign
        raise KeyError(f"experiment {self.key!r} has no campaign for segment {segment!r}")

    def metric(self, key: str) -> Metric:
        """The metric named `key`; KeyError when absent."""
        for metric in self.metrics:
            if metric.key == key:
                return metric
        raise KeyError(f"experiment {self.key!r} has no metric {key!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (dates as ISO strings): what the store keeps and hashes."""
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["end"] = self.end.isoformat() if self.end else None
        data["layer_range"] = list(self.layer_range)
        data["tags"] = list(self.tags)
        for campaign in data["campaigns"]:
            # Unset, the key is left out: configs stored before it existed keep their hash.
            if campaign.get("audience") is None:
                campaign.pop("audience", None)
            else:
                campaign["audience"] = list(campaign["audience"])
        return data


@dataclass(frozen=True)
class Project:
    """Project-wide settings from `experiments/liftlab.toml`: the global holdout and defaults.

    A `holdout_fraction` of all customers, drawn by its own salt before any experiment, gets no
    campaign at all; comparing everyone else with them measures the whole programme.
    `default_margin` (`[defaults] margin`) is the gross margin for profit and ROI of any
    experiment that declares none; without either, ROI is not computed.
    """

    holdout_fraction: float = 0.0
    holdout_salt: str = "liftlab-global-holdout"
    hash_version: int = 2
    default_margin: float | None = None
    #: Declared event sources (`[source.NAME]`), for `analyze_source` and `--source NAME`.
    sources: tuple[Source, ...] = ()

    def source(self, name: str) -> Source:
        """The source declared as `[source.NAME]`; ConfigError naming the declared ones."""
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"no [source.{name}] in the project file (declared: {known})",
                          field=f"source.{name}")
