"""Helpers shared by CLI commands: loading a pipeline with one-line failures
(through the package's one failure path, `spacy_bioner.cli.fail`)."""
from pathlib import Path
from typing import TYPE_CHECKING

from . import fail

if TYPE_CHECKING:
    from spacy.language import Language


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
