"""A bounded load test of `spacy-bioner serve` on 127.0.0.1.

Starts the service (uvicorn, one process) in a background thread, then sends
`--requests` requests from `--concurrency` client threads, for single
abstracts and for batches of 32, and reports requests/s, documents/s and
p50/p99 latency. Abstracts come from the unlabeled text (JSONL, gzip ok).

    python benchmarks/serve_load.py MODEL --texts ../shared/corpora/unlabeled/biomed_text.jsonl.gz \\
        --requests 200 --concurrency 4 --output docs/benchmarks/serve_load.json
"""
import datetime
import gzip
import json
import os
import platform
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional

import httpx
import typer
import uvicorn

from spacy_bioner.serve import create_app


def read_texts(path: Path, n: int) -> List[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    texts = []
    with opener(path, "rt", encoding="utf8") as f:
        for line in f:
            text = json.loads(line).get("text", "")
            if 200 < len(text) < 3000:  # abstract-sized
                texts.append(text)
            if len(texts) >= n:
                break
    return texts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(url: str, bodies: List[Dict], concurrency: int) -> Dict[str, float]:
    latencies: List[float] = []

    def one(body: Dict) -> None:
        start = time.perf_counter()
        response = client.post(url, json=body, timeout=300)
        response.raise_for_status()
        latencies.append(time.perf_counter() - start)

    with httpx.Client() as client:
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, bodies))
        wall = time.perf_counter() - start
    n_docs = sum(len(b.get("texts", [None])) for b in bodies)
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(bodies), "wall_s": round(wall, 2), "requests_per_s": round(len(bodies) / wall, 2),
            "docs_per_s": round(n_docs / wall, 2), "p50_ms": round(1000 * statistics.median(latencies), 1),
            "p99_ms": round(1000 * q[98], 1)}


def main(
    model: str = typer.Argument(...),
    texts: Path = typer.Option(Path("../shared/corpora/unlabeled/biomed_text.jsonl.gz"), "--texts"),
    requests: int = typer.Option(200, "--requests", min=2),
    concurrency: int = typer.Option(4, "--concurrency", min=1),
    output: Optional[Path] = typer.Option(None, "--output", "-o"),
) -> None:
    port = free_port()
    config = uvicorn.Config(create_app(model), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/annotate"
    pool = read_texts(texts, 32 * max(1, requests // 8))
    singles = [{"text": pool[i % len(pool)]} for i in range(requests)]
    batches = [{"texts": [pool[(32 * i + j) % len(pool)] for j in range(32)]} for i in range(max(2, requests // 8))]
    run(url, singles[:10], concurrency)  # warm-up
    result = {
        "command": f"python benchmarks/serve_load.py {model} --texts {texts} --requests {requests} --concurrency {concurrency}",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version()},
        "single_abstract": run(url, singles, concurrency),
        "batch_of_32": run(url, batches, concurrency),
    }
    server.should_exit = True
    thread.join(timeout=10)
    print(json.dumps(result, indent=2))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")


if __name__ == "__main__":
    typer.run(main)
