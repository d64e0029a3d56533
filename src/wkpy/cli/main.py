"""The `wkpy` Typer application, its global options and its exit statuses.

Exit statuses: 0 success; 1 the command failed (corrupt or missing data, an existing
target, datasets that differ); 2 the command line is wrong (unknown option, bad value,
a path that is not there, no such layer or mag); 130 interrupted. Errors are one line
on stderr; ``--verbose`` adds the traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import click
import rich
import typer
from rich.text import Text
from typer.core import TyperGroup

from wkpy.cli import convert, images, inspection, ops
from wkpy.cli._common import CliError, err, state
from wkpy.errors import WkError

__all__ = ["app", "main"]

_GLOBAL_FLAGS = frozenset({"-v", "--verbose", "-q", "--quiet"})


class _Group(TyperGroup):
    """A group whose global flags may also follow the command (``wkpy info DS --quiet``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        flags = [a for a in args[:end] if a in _GLOBAL_FLAGS]
        rest = [a for a in args[:end] if a not in _GLOBAL_FLAGS] + args[end:]
        return super().parse_args(ctx, flags + rest)


app = typer.Typer(
    name="wkpy",
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from wkpy import __version__

        typer.echo(f"wkpy {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks of errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or status lines.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Fast WKW and Zarr3 datasets for WEBKNOSSOS: convert, inspect, copy, downsample, check, export.

    Global options may also follow the command.
    """
    state.verbose, state.quiet = verbose, quiet
    if quiet:
        os.environ["WKPY_QUIET"] = "1"  # read by wkpy.progress, also in worker processes


_COMMANDS: list[tuple[str, Callable[..., None]]] = [
    ("info", inspection.info),
    ("convert", convert.convert),
    ("copy-dataset", ops.copy_dataset),
    ("compress", ops.compress),
    ("downsample", ops.downsample),
    ("upsample", ops.upsample),
    ("check-equality", inspection.check_equality),
    ("export-as-tiff", images.export_as_tiff),
    ("preview", images.preview),
]
for _name, _func in _COMMANDS:
    app.command(_name)(_func)  # type: ignore[type-var]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fail(message: str, code: int) -> NoReturn:
    err.print(Text.assemble(("wkpy: error: ", "bold red"), _one_line(message)))
    sys.exit(code)


def _show_warning(message: Any, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    if not state.quiet:
        err.print(Text.assemble(("wkpy: warning: ", "yellow"), _one_line(str(message))))


def main(argv: list[str] | None = None) -> NoReturn:
    """Run the command line (the ``wkpy`` console script) and exit with its status."""
    warnings.showwarning = _show_warning
    rich.reconfigure(stderr=True)  # progress bars (wkpy.progress) draw on stderr, never into piped output
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="wkpy", standalone_mode=False)
    except click.UsageError as error:
        where = error.ctx.command_path if error.ctx is not None else "wkpy"
        _fail(f"{error.format_message()} (see '{where} --help')", 2)
    except click.ClickException as error:
        _fail(error.format_message(), error.exit_code)
    except (click.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except BrokenPipeError:  # the reader of our output went away (e.g. `| head`): leave quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except CliError as error:
        _fail(str(error), 1)
    except Exception as error:  # everything else: one line, the traceback only if asked for
        if state.verbose:
            traceback.print_exc()
        if isinstance(error, (WkError, OSError)) and str(error):
            _fail(str(error), 1)
        if isinstance(error, TypeError) and "pickl" in str(error):
            _fail(f"a task cannot be sent to another process ({error}); use --executor threads", 1)
        hint = "" if state.verbose else " (--verbose shows the traceback)"
        _fail(f"{type(error).__name__}: {error}{hint}", 1)
    sys.exit(code or 0)
