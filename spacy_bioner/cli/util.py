"""Helpers shared by CLI commands: one-line failures and loading a pipeline."""
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from spacy.language import Language


def fail(message: str) -> NoReturn:
    """Print `message`'s first line on stderr ("file:line: problem", so that it
    can be grepped) and exit with status 1."""
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    typer.echo(f"✘ {first}", err=True)
    raise typer.Exit(1)


def load_pipeline(model: str) -> "Language":
    """`spacy.load`, with every way it can fail turned into one line naming
    the model (and the damaged file where there is one), exit 1.

    model (str): Pipeline folder or installed package name.
    RETURNS (Language): The pipeline.
    """
    import spacy

    from ..integrity import ModelIntegrityError

    path = Path(model)
    if not path.exists() and ("/" in model or "\\" in model or model.startswith(".")):
        fail(f"{model}: model not found (no such folder)")
    try:
        return spacy.load(model)
    except ModelIntegrityError as err:
        fail(str(err))
    except OSError as err:
        if not path.exists():
            fail(f"{model}: model not found (neither a folder nor an installed package)")
        fail(f"{model}: cannot load the pipeline ({type(err).__name__}: {err})")
    except Exception as err:  # noqa: BLE001 - any failure becomes one line
        fail(f"{model}: cannot load the pipeline ({type(err).__name__}: {err})")
