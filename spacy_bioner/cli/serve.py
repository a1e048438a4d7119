"""CLI: `spacy-bioner serve MODEL` runs the HTTP service (needs the [serve] extra)."""
import typer
from wasabi import msg

from . import app


@app.command("serve")
def serve_cli(
    model: str = typer.Argument(..., help="Pipeline path or package name"),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 for all)"),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    max_chars: int = typer.Option(100_000, "--max-chars", min=1, help="Longest text accepted"),
    max_texts: int = typer.Option(64, "--max-texts", min=1, help="Most texts per request"),
) -> None:
    """Serve a pipeline over HTTP: POST /annotate, GET /health."""
    try:
        from ..serve import serve
    except ImportError as err:
        msg.fail(str(err), exits=1)
    try:
        serve(model, host=host, port=port, max_chars=max_chars, max_texts=max_texts)
    except (OSError, ImportError, ValueError) as err:
        msg.fail(f"{model}: {err}", exits=1)
