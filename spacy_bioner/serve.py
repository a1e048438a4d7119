"""A small HTTP service: `spacy-bioner serve MODEL` (FastAPI + uvicorn).

    POST /annotate  {"text": "..."} or {"texts": ["...", ...]}
                    -> {"model": ..., "documents": [{"entities": [...], "spans": {...}}]}
    GET  /health    -> {"status": "ok", "model": ..., "labels": [...]}

The pipeline is loaded once at start-up. Entities carry character offsets
into the text sent, the label, the confidence and, for multi-head models,
every head's span group (which head found what). Requests are bounded: a body
larger than `max_body_bytes` is refused with 413 before it is read whole, a
text longer than `max_chars` or a list longer than `max_texts` with 422.
The endpoint is a plain function, so FastAPI runs it in its thread pool:
one slow request does not hold up the others (torch releases the GIL in its
kernels).

Install with `pip install "spacy-bioner[serve]"`.
"""
from typing import Any, Dict, List, Optional, Union

from spacy.language import Language

DEFAULT_MAX_CHARS = 100_000
DEFAULT_MAX_TEXTS = 64


def _require():
    try:
        import fastapi  # noqa: F401
        import pydantic  # noqa: F401
    except ImportError as err:  # pragma: no cover - depends on the extra
        raise ImportError("The web service needs FastAPI: pip install \"spacy-bioner[serve]\"") from err


class BodyLimit:
    """ASGI middleware: answer 413 to a request body over `limit` bytes,
    by its declared length or, for a client that does not declare it (or
    lies), by counting what arrives, so the service never holds more.
    The body is read here and handed on whole (FastAPI reads it whole anyway)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        chunks: List[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._refuse(send)
                return
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any) -> None:
        import json

        body = json.dumps({"detail": f"request body over {self.limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def create_app(
    nlp: Union[str, Language],
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    max_texts: int = DEFAULT_MAX_TEXTS,
    max_body_bytes: Optional[int] = None,
    batch_size: int = 32,
) -> Any:
    """Build the FastAPI app around a pipeline.

    nlp (Union[str, Language]): A loaded pipeline or a path/name for `spacy.load`.
    max_chars (int): Longest text accepted.
    max_texts (int): Most texts in one request.
    max_body_bytes (Optional[int]): Largest request body; default about what
        `max_texts` texts of `max_chars` need.
    batch_size (int): `nlp.pipe` batch size within a request.
    RETURNS (FastAPI): The app; run it with uvicorn.
    """
    _require()
    import spacy
    from fastapi import FastAPI, HTTPException
    from pydantic import BaseModel, ConfigDict, Field, model_validator

    from .corpora.jsonl import doc_to_record

    pipeline = spacy.load(nlp) if isinstance(nlp, str) else nlp
    limit = max_body_bytes or (max_texts * max_chars * 4 + 4096)  # UTF-8: up to 4 bytes a character
    name = f"{pipeline.meta.get('lang', 'xx')}_{pipeline.meta.get('name', 'pipeline')}-{pipeline.meta.get('version', '0')}"

    class AnnotateRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        text: Optional[str] = Field(None, description="One text")
        texts: Optional[List[str]] = Field(None, description="Several texts, annotated as one batch")

        @model_validator(mode="after")
        def one_of(self) -> "AnnotateRequest":
            if (self.text is None) == (self.texts is None):
                raise ValueError("give exactly one of 'text' or 'texts'")
            items = [self.text] if self.text is not None else self.texts or []
            if len(items) > max_texts:
                raise ValueError(f"at most {max_texts} texts per request, got {len(items)}")
            for i, text in enumerate(items):
                if len(text) > max_chars:
                    raise ValueError(f"text {i} has {len(text)} characters; the limit is {max_chars}")
            return self

    app = FastAPI(title="spacy-bioner", description="Biomedical named-entity recognition", version=name)

    app.add_middleware(BodyLimit, limit=limit)

    @app.get("/health")
    def health() -> Dict[str, Any]:
        labels = sorted({label for _, pipe in pipeline.pipeline for label in getattr(pipe, "labels", ()) or ()})
        return {"status": "ok", "model": name, "pipeline": pipeline.pipe_names, "labels": labels}

    @app.post("/annotate")
    def annotate(request: AnnotateRequest) -> Dict[str, Any]:
        texts = [request.text] if request.text is not None else list(request.texts or [])
        try:
            docs = list(pipeline.pipe(texts, batch_size=batch_size))
        except Exception as err:  # one bad text must not take the service down
            raise HTTPException(status_code=500, detail=f"annotation failed: {type(err).__name__}: {err}")
        # The one record format of annotate and convert, without id and text
        # (the caller has the text; offsets index it).
        documents = []
        for doc in docs:
            record = doc_to_record(doc, "", span_groups=True, keep_text=False)
            del record["id"]
            documents.append(record)
        return {"model": name, "documents": documents}

    return app


def serve(model: str, host: str = "127.0.0.1", port: int = 8000, **limits: Any) -> None:
    """Load the model once and serve it with uvicorn until interrupted.
    One process answers requests from a thread pool; for more processes, run
    several behind a load balancer (each loads the model once)."""
    _require()
    import uvicorn

    uvicorn.run(create_app(model, **limits), host=host, port=port, log_level="info")
