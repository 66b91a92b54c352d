"""`liftlab validate PATH…`: check experiment declarations, for humans and for CI."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="text: one line per finding; json: a document for CI tools.",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1).")
def validate(paths: tuple[str, ...], fmt: str, strict: bool) -> None:
    """Check experiment files (.toml, .py) or folders of them.

    Exit 0 when everything is valid, 1 with one line per problem, 2 when a file cannot be
    read or parsed. Findings go to standard output (pipe them to grep); the summary line of
    a failed run goes to standard error. `liftlab.toml` in a folder holds the global holdout and is checked too.
    """
    from liftlab.config.findings import exit_code
    from liftlab.config.validation import validate_paths

    findings = validate_paths(paths)
    code = exit_code(findings, strict=strict)
    counts = {s: sum(f.severity == s for f in findings) for s in ("fatal", "error", "warning")}
    if fmt == "json":
        document = {
            "valid": code == 0,
            "exit_code": code,
            "counts": counts,
            "findings": [f.to_dict() for f in findings],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        for finding in findings:
            click.echo(str(finding))  # stdout, so `liftlab validate … | grep error` finds them
        if code == 0:
            suffix = f" ({counts['warning']} warning(s))" if counts["warning"] else ""
            click.echo(f"ok: {', '.join(paths)} valid{suffix}")
        else:
            click.echo(
                f"{counts['fatal']} unreadable, {counts['error']} error(s), "
                f"{counts['warning']} warning(s)",
                err=True,
            )
    raise SystemExit(code)
