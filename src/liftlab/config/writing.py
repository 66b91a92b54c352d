"""Writing an Experiment as a TOML declaration that `load_experiment` reads back to the same value.

Used when liftlab itself proposes an experiment (`liftlab target --next`). Strings are TOML
basic strings (JSON's escapes, which TOML shares, plus DEL); floats keep Python's shortest
round-tripping form.
"""

from __future__ import annotations

import json
from typing import Any

from liftlab.config.model import Arm, Campaign, Experiment, Metric


def _text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return _text(str(value))


def _line(key: str, value: Any) -> str:
    if hasattr(value, "isoformat"):
        return f"{key} = {value.isoformat()}"  # a TOML local date, unquoted
    return f"{key} = {_value(value)}"


def experiment_to_toml(experiment: Experiment, *, comment: str = "") -> str:
    """The TOML text of `experiment` (defaults left out), with `comment` as a header."""
    base = Experiment(key=experiment.key, campaigns=(), metrics=(), start=experiment.start)
    lines = [f"# {line}" for line in comment.splitlines()]
    for key in ("key", "name", "owner", "description", "start", "end", "salt", "layer", "layer_range",
                "hash_version", "margin", "tags"):
        value = getattr(experiment, key)
        if value is not None and (key in ("key", "start") or value != getattr(base, key)):
            lines.append(_line(key, list(value) if isinstance(value, tuple) else value))
    defaults_metric = Metric("m", "conversion")
    for metric in experiment.metrics:
        lines += ["", "[[metrics]]", _line("key", metric.key), _line("kind", metric.kind)]
        lines += [_line(k, getattr(metric, k)) for k in ("event", "window_days", "description")
                  if getattr(metric, k) != getattr(defaults_metric, k)]
    defaults_campaign, defaults_arm = Campaign("s", ()), Arm("a", 1.0)
    for campaign in experiment.campaigns:
        lines += ["", "[[campaigns]]", _line("segment", campaign.segment), _line("channel", campaign.channel)]
        lines += [_line(k, getattr(campaign, k)) for k in ("cost_per_contact", "description")
                  if getattr(campaign, k) != getattr(defaults_campaign, k)]
        if campaign.audience is not None:
            lines.append("audience = [")
            lines += [f"  {_text(unit)}," for unit in campaign.audience]
            lines.append("]")
        for arm in campaign.arms:
            lines += ["", "  [[campaigns.arms]]", "  " + _line("key", arm.key), "  " + _line("weight", arm.weight)]
            lines += ["  " + _line(k, getattr(arm, k)) for k in ("control", "description")
                      if getattr(arm, k) != getattr(defaults_arm, k)]
    return "\n".join(lines) + "\n"
