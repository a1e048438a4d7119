"""The `spacy-bioner` command line: a typer app whose commands are thin
wrappers over plain, tested functions elsewhere in the package."""
import typer

app = typer.Typer(name="spacy-bioner", no_args_is_help=True, add_completion=False,
                  help="Biomedical NER for spaCy: convert, vectors, evaluate, annotate.")


def main() -> None:
    """Console-script entry point."""
    _register_commands()
    app()


def _register_commands() -> None:
    # Importing a command module registers its commands on `app`. Each
    # module imports only what its commands need, so `--help` stays fast.
    from . import commands  # noqa: F401
