"""The `liftlab` command line: each command is a thin shell over a library function.

Exit codes everywhere: 0 ok, 1 findings (invalid config, rejected rows, failed checks),
2 bad input (a file that cannot be read or parsed). A `LiftlabError` becomes one line on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys

import click

from liftlab import __version__
from liftlab.errors import LiftlabError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="liftlab")
def cli() -> None:
    """liftlab: lifecycle campaign experiments with honest uplift.

    Segment customers (RFM), declare per-segment campaigns, assign arms deterministically,
    log exposures and conversions, and measure what each campaign really added.
    """


def _register() -> None:
    from liftlab.cli.analyze import analyze
    from liftlab.cli.assign import assign
    from liftlab.cli.demo import demo
    from liftlab.cli.export import export
    from liftlab.cli.history import history
    from liftlab.cli.log import log
    from liftlab.cli.power import power
    from liftlab.cli.segment import segment
    from liftlab.cli.target import target
    from liftlab.cli.validate import validate

    for command in (validate, segment, assign, export, log, analyze, history, power, target, demo):
        cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI, turning a LiftlabError into exit code 2."""
    try:
        cli.main(args=argv, prog_name="liftlab", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except LiftlabError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
