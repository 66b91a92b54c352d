"""The validation gate as the CLI runs it: the lines `liftlab validate` prints, exit 1 on errors."""

from __future__ import annotations

from pathlib import Path

import click

from liftlab.config.findings import Finding
from liftlab.config.model import Experiment, Project
from liftlab.config.validation import check_experiment
from liftlab.errors import ConfigError


def gate(
    experiment: Experiment, *, project: Project | None = None, source: str | Path | None = None
) -> tuple[Finding, ...]:
    """Run `check_experiment`; print every finding as `liftlab validate` does (stdout).

    Errors stop the command with exit code 1 before it writes anything; warnings are printed
    and returned, and the command goes on.
    """
    try:
        warnings = check_experiment(experiment, project=project, source=source)
    except ConfigError as exc:
        if not exc.findings:
            raise
        for finding in exc.findings:
            click.echo(str(finding))
        errors = sum(f.severity != "warning" for f in exc.findings)
        click.echo(f"experiment {experiment.key!r} fails validation ({errors} error(s)): "
                   "nothing was written", err=True)
        raise SystemExit(1) from None
    for finding in warnings:
        click.echo(str(finding))
    return warnings
