"""Loading experiment declarations from TOML or Python files, and the project file.

A TOML experiment builds exactly the `Experiment` the Python API would. Loading is strict
about shape (unknown keys and wrong types are `ConfigError`s: the file cannot be understood)
and lenient about meaning (a weight of 1.5 loads; `validation.py` reports it), so one run of
`liftlab validate` can list every semantic problem at once.
"""

from __future__ import annotations

import runpy
import sys
import traceback
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from liftlab.config.findings import Finding
from liftlab.config.model import Arm, Campaign, Experiment, Metric, Project
from liftlab.config.sources import Columns, RelationKind, Source, relation_kind
from liftlab.config.tomlfile import KeyLocator, read_toml
from liftlab.errors import ConfigError

#: The project-level settings file inside an experiments folder.
PROJECT_FILE = "liftlab.toml"

# Field kinds: how a TOML value is checked and converted.
_KINDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "date": "a date like 2026-11-01",
    "str_list": "a list of strings",
    "range": "a list of two numbers like [0.0, 0.5]",
    "tables": "an array of tables",
    "table": "a table",
}


@dataclass(frozen=True)
class _Field:
    kind: str
    required: bool = False


_EXPERIMENT = {
    "key": _Field("str", required=True),
    "name": _Field("str"),
    "owner": _Field("str"),
    "description": _Field("str"),
    "start": _Field("date", required=True),
    "end": _Field("date"),
    "salt": _Field("str"),
    "layer": _Field("str"),
    "layer_range": _Field("range"),
    "hash_version": _Field("int"),
    "margin": _Field("float"),
    "tags": _Field("str_list"),
    "metrics": _Field("tables", required=True),
    "campaigns": _Field("tables", required=True),
}
_METRIC = {
    "key": _Field("str", required=True),
    "kind": _Field("str", required=True),
    "event": _Field("str"),
    "window_days": _Field("int"),
    "description": _Field("str"),
}
_CAMPAIGN = {
    "segment": _Field("str", required=True),
    "channel": _Field("str", required=True),
    "cost_per_contact": _Field("float"),
    "description": _Field("str"),
    "arms": _Field("tables", required=True),
    "audience": _Field("str_list"),
}
_ARM = {
    "key": _Field("str", required=True),
    "weight": _Field("float", required=True),
    "control": _Field("bool"),
    "description": _Field("str"),
}
_PROJECT = {"name": _Field("str"), "holdout": _Field("table"), "defaults": _Field("table"),
            "source": _Field("table")}
_DEFAULTS = {"margin": _Field("float")}
_HOLDOUT = {"fraction": _Field("float", required=True), "salt": _Field("str"), "hash_version": _Field("int")}
_SOURCE = {
    "url": _Field("str", required=True),
    "exposures": _Field("str", required=True),
    "conversions": _Field("str", required=True),
    "assignments": _Field("str"),
    "orders": _Field("str"),
    "customers": _Field("str"),
    "visits": _Field("str"),
    "timestamps": _Field("str"),
    "columns": _Field("table"),
}
_COLUMNS = {name: _Field("str") for name in Columns.names()}


class _Reader:
    """Checks tables of one file against a schema, collecting missing fields as findings."""

    def __init__(self, file: Path, locator: KeyLocator | None) -> None:
        self.file = file
        self.locator = locator
        self.missing: list[Finding] = []

    def line(self, path: str) -> int | None:
        return self.locator.line(path) if self.locator else None

    def fail(self, path: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, line=self.line(path), field=path)

    def take(self, table: Any, schema: dict[str, _Field], path: str) -> dict[str, Any]:
        """Known, well-typed values of `table`; raises on unknown keys or wrong types."""
        if not isinstance(table, dict):
            raise self.fail(path, f"must be {_KINDS['table']}, got {_type_name(table)}")
        for key in table:
            if key not in schema:
                known = ", ".join(sorted(schema))
                raise self.fail(_join(path, key), f"unknown key {key!r} (known keys: {known})")
        values: dict[str, Any] = {}
        for key, spec in schema.items():
            where = _join(path, key)
            if key not in table:
                if spec.required:
                    self.missing.append(
                        Finding(
                            file=str(self.file),
                            line=self.line(path) if path else None,
                            field=where,
                            message="required field is missing",
                            rule="required",
                        )
                    )
                continue
            values[key] = self.convert(table[key], spec.kind, where)
        return values

    def convert(self, value: Any, kind: str, path: str) -> Any:
        ok: bool
        if kind == "str":
            ok = isinstance(value, str)
        elif kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind == "float":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            value = float(value) if ok else value
        elif kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "date":
            value, ok = _as_date(value)
        elif kind == "str_list":
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            value = tuple(value) if ok else value
        elif kind == "range":
            ok = (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            )
            value = (float(value[0]), float(value[1])) if ok else value
        elif kind == "tables":
            ok = isinstance(value, list) and all(isinstance(v, dict) for v in value)
        else:  # table
            ok = isinstance(value, dict)
        if not ok:
            raise self.fail(path, f"must be {_KINDS[kind]}, got {_type_name(value)} {value!r}")
        return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_name(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
             dict: "table", date: "date", datetime: "datetime"}
    return names.get(type(value), type(value).__name__)


def _as_date(value: Any) -> tuple[Any, bool]:
    if isinstance(value, datetime):
        return value, False
    if isinstance(value, date):
        return value, True
    if isinstance(value, str):
        try:
            return date.fromisoformat(value), True
        except ValueError:
            return value, False
    return value, False


def parse_experiment(
    data: dict[str, Any], *, file: str | Path = "<memory>", locator: KeyLocator | None = None
) -> tuple[Experiment | None, list[Finding]]:
    """Build an Experiment from parsed TOML data.

    Returns `(None, findings)` when required fields are missing (each one a finding), and
    raises ConfigError for unknown keys or wrong types, naming the field and line.
    """
    reader = _Reader(Path(file), locator)
    top = reader.take(data, _EXPERIMENT, "")
    metrics = []
    for i, table in enumerate(top.get("metrics", [])):
        values = reader.take(table, _METRIC, f"metrics[{i}]")
        metrics.append(values)
    campaigns = []
    for i, table in enumerate(top.get("campaigns", [])):
        values = reader.take(table, _CAMPAIGN, f"campaigns[{i}]")
        values["arms"] = [
            reader.take(arm, _ARM, f"campaigns[{i}].arms[{j}]")
            for j, arm in enumerate(values.get("arms", []))
        ]
        campaigns.append(values)
    if reader.missing:
        return None, reader.missing
    top["metrics"] = tuple(Metric(**m) for m in metrics)
    top["campaigns"] = tuple(
        Campaign(**{**c, "arms": tuple(Arm(**a) for a in c["arms"])}) for c in campaigns
    )
    return Experiment(**top), []


def experiment_from_dict(data: dict[str, Any], *, source: str = "<dict>") -> Experiment:
    """Rebuild an Experiment from `Experiment.to_dict()` output (e.g. a config the store kept).

    The same strict schema as TOML files; unset optional values (None) are simply left out.
    """

    def without_none(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: without_none(v) for k, v in value.items() if v is not None}
        if isinstance(value, list | tuple):
            return [without_none(v) for v in value]
        return value

    experiment, missing = parse_experiment(without_none(data), file=source)
    if experiment is None:
        first = missing[0]
        raise ConfigError(first.message, file=source, field=first.field)
    return experiment


def read_experiment_file(path: str | Path) -> tuple[list[Experiment], list[Finding], KeyLocator | None]:
    """Experiments declared in one `.toml` or `.py` file, plus missing-field findings.

    Raises ConfigError when the file cannot be read, parsed or executed.
    """
    file = Path(path)
    if file.suffix == ".py":
        return _experiments_from_python(file), [], None
    if file.suffix != ".toml":
        raise ConfigError("not an experiment file (expected .toml or .py)", file=file)
    data, locator = read_toml(file)
    experiment, findings = parse_experiment(data, file=file, locator=locator)
    return ([experiment] if experiment else []), findings, locator


def load_experiment(path: str | Path) -> Experiment:
    """Load the one Experiment declared in a TOML or Python file.

    Raises ConfigError naming the file (and line or field) when it cannot be loaded, when a
    required field is missing, or when a Python file declares other than one experiment.
    Semantic validation is separate: see `liftlab.config.validation.validate_experiment`.
    """
    experiments, missing, _ = read_experiment_file(path)
    if missing:
        first = missing[0]
        raise ConfigError(first.message, file=first.file, line=first.line, field=first.field)
    if len(experiments) != 1:
        raise ConfigError(
            f"declares {len(experiments)} experiments; load_experiment needs exactly one "
            "(use load_experiments)",
            file=path,
        )
    return experiments[0]


def load_experiments(path: str | Path) -> list[Experiment]:
    """All experiments in a file or (recursively) a folder of `.toml` / `.py` files."""
    experiments: list[Experiment] = []
    for file in experiment_files(path):
        found, missing, _ = read_experiment_file(file)
        if missing:
            first = missing[0]
            raise ConfigError(first.message, file=first.file, line=first.line, field=first.field)
        experiments.extend(found)
    return experiments


def experiment_files(path: str | Path) -> list[Path]:
    """Experiment files under `path` in sorted order (the project file excluded)."""
    root = Path(path)
    if root.is_dir():
        files = sorted(
            p for p in root.rglob("*")
            if p.suffix in (".toml", ".py") and p.is_file() and p.name != PROJECT_FILE
            and not p.name.startswith(("_", "."))
        )
        return files
    if not root.exists():
        raise ConfigError("no such file or folder", file=root)
    return [root]


def _experiments_from_python(file: Path) -> list[Experiment]:
    """Run a Python declaration file and collect the Experiments it defines at module level."""
    if not file.is_file():
        raise ConfigError("no such file", file=file)
    try:
        namespace = runpy.run_path(str(file), run_name=f"liftlab_experiments_{file.stem}")
    except Exception as exc:  # noqa: BLE001 — the file is user code: report, never crash
        line = None
        for frame in traceback.extract_tb(sys.exc_info()[2]):
            if Path(frame.filename).resolve() == file.resolve():
                line = frame.lineno
        if isinstance(exc, SyntaxError) and exc.lineno:
            line = exc.lineno
        raise ConfigError(f"cannot load: {type(exc).__name__}: {exc}", file=file, line=line) from None
    found: list[Experiment] = []
    for value in namespace.values():
        candidates = value if isinstance(value, list | tuple) else [value]
        for candidate in candidates:
            if isinstance(candidate, Experiment) and not any(candidate is f for f in found):
                found.append(candidate)
    if not found:
        raise ConfigError("defines no liftlab.Experiment at module level", file=file)
    return found


def load_project(path: str | Path | None = None) -> Project:
    """Project settings from `liftlab.toml` (a file, or a folder holding one).

    Without a file, the defaults apply: no global holdout.
    """
    if path is None:
        return Project()
    file = Path(path)
    if file.is_dir():
        file = file / PROJECT_FILE
        if not file.exists():
            return Project()
    project, missing, _ = read_project_file(file)
    if missing:
        first = missing[0]
        raise ConfigError(first.message, file=first.file, line=first.line, field=first.field)
    assert project is not None
    return project


def read_project_file(
    path: str | Path,
) -> tuple[Project | None, list[Finding], KeyLocator]:
    """Parse a project file; ConfigError when unreadable, findings for missing fields."""
    file = Path(path)
    data, locator = read_toml(file)
    reader = _Reader(file, locator)
    top = reader.take(data, _PROJECT, "")
    holdout = reader.take(top.get("holdout", {}), _HOLDOUT, "holdout") if "holdout" in top else {}
    defaults_table = reader.take(top.get("defaults", {}), _DEFAULTS, "defaults") if "defaults" in top else {}
    sources = _read_sources(reader, top.get("source", {}))
    if reader.missing:
        return None, reader.missing, locator
    defaults = Project()
    return (
        Project(
            holdout_fraction=holdout.get("fraction", defaults.holdout_fraction),
            holdout_salt=holdout.get("salt", defaults.holdout_salt),
            hash_version=holdout.get("hash_version", defaults.hash_version),
            default_margin=defaults_table.get("margin", defaults.default_margin),
            sources=sources,
        ),
        [],
        locator,
    )


def _read_sources(reader: _Reader, tables: dict[str, Any]) -> tuple[Source, ...]:
    """Each `[source.NAME]` table as a Source; relative Parquet paths are resolved against
    the project file's folder, so the CLI finds them from anywhere."""
    sources = []
    for name, table in tables.items():
        path = f"source.{name}"
        values = reader.take(table, _SOURCE, path)
        columns = reader.take(values.pop("columns", {}), _COLUMNS, f"{path}.columns")
        if any(key not in values for key in ("url", "exposures", "conversions")):
            continue  # reported as missing
        values["url"] = _resolved_url(reader.file.parent, values["url"])
        for role in ("exposures", "conversions", "assignments", "orders", "customers", "visits"):
            if role in values and relation_kind(values[role]) is RelationKind.PARQUET:
                values[role] = _resolved(reader.file.parent, values[role].strip())
        sources.append(Source(name=name, columns=Columns(**columns), **values))
    return tuple(sources)


def _resolved_url(folder: Path, url: str) -> str:
    """A file database's URL (`duckdb:///lake.duckdb`, `sqlite:///events.db`) with a relative
    path made absolute against `folder`, like Parquet paths; other URLs unchanged."""
    scheme, sep, rest = url.partition(":///")
    if not sep or scheme.split("+")[0].lower() not in ("duckdb", "sqlite"):
        return url
    path, query_sep, query = rest.partition("?")
    if not path or path == ":memory:" or path.startswith("/"):
        return url
    return f"{scheme}:///{(folder.resolve() / path).as_posix()}{query_sep}{query}"


def _resolved(folder: Path, glob: str) -> str:
    """A Parquet path or glob made absolute against `folder` (URLs such as s3:// kept)."""
    if "://" in glob or Path(glob).is_absolute():
        return glob
    return str(folder.resolve() / glob)
