"""The `spacy-bioner` command line: a typer app whose commands are thin
wrappers over plain, tested functions elsewhere in the package."""
from typing import NoReturn, Optional, Union

import typer
from wasabi import msg

app = typer.Typer(name="spacy-bioner", no_args_is_help=True, add_completion=False, rich_markup_mode="markdown",
                  help="Biomedical NER for spaCy: convert, vectors, evaluate, annotate.")


def _print_version(value: bool) -> None:
    if value:
        from ..about import __version__

        typer.echo(f"spacy-bioner {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Optional[bool] = typer.Option(None, "--version", callback=_print_version, is_eager=True,
                                           help="Print the version and exit."),
) -> None:
    # The callback also keeps every command a subcommand (`spacy-bioner evaluate ...`).
    pass


def fail(problem: Union[str, BaseException]) -> NoReturn:
    """The one failure path of every command: one line `✘ problem` on stderr
    (the first line of a longer message; name the file or field in it), exit
    1. Unlike `msg.fail`, it never wraps the line: "file:line: problem" stays
    one line that can be grepped from a log."""
    text = str(problem).strip() or type(problem).__name__
    typer.echo(f"✘ {text.splitlines()[0]}", err=True)
    raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    _register_commands()
    app()


def _register_commands() -> None:
    # Importing a command module registers its commands on `app`. Each
    # module imports only what its commands need, so `--help` stays fast.
    from . import commands  # noqa: F401
