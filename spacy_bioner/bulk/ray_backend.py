"""The Ray backend of sharded bulk annotation (`annotate --backend ray`).

The same readers, the same `annotate_chunk` and the same shard layout as the
local runner (`shards.py`), on Ray Data: a dataset of the input files whose
shards are not finished is expanded into records by Ray tasks
(`flat_map`, skipping what a partial shard already holds), annotated by
`map_batches` over an actor pool in which each actor loads the pipeline once,
and streamed back in input order to be appended to the shards, each marked
complete once its last record is written. The output equals the local
runner's record for record.

On one machine `ray.init()` starts a local cluster; to use an existing one,
set `RAY_ADDRESS` (e.g. `ray://head-node:10001`) or pass `address`. The input
files and the model must be readable from every node (a shared file system
or a model package installed on the workers). Install with
`pip install "spacy-bioner[ray]"`.
"""
import json
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

from .readers import InputFile, Record
from .shards import ShardSummary, marker_path, plan_shards, shard_path, write_marker
from .writer import JsonlOutput, done_counts


def _records_of(row: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    """Ray task: the records of one input still missing from its shard."""
    from .runner import Summary, _todo

    source = InputFile(Path(row["path"]), row["fmt"], row["source"])
    done = done_counts(Path(row["shard"]))
    for record in _todo([source], done, Summary()):
        yield {"shard": row["shard"], "record": json.dumps(record.__dict__, ensure_ascii=False)}


class _Annotator:
    """Ray actor: loads the pipeline once, annotates batches of records."""

    def __init__(self, model: str, batch_size: int) -> None:
        import spacy

        from ..pipeline.sentences import replace_plain_sentencizer

        self.nlp = spacy.load(model)
        replace_plain_sentencizer(self.nlp)
        self.batch_size = batch_size

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        import numpy

        from .runner import annotate_chunk

        records = [Record(**json.loads(r)) for r in batch["record"]]
        out = [json.dumps(result, ensure_ascii=False) for _, result in annotate_chunk(self.nlp, records, self.batch_size, 1)]
        return {"shard": batch["shard"], "out": numpy.array(out, dtype=object)}


def annotate_ray(
    model: str,
    inputs: Iterable[Union[str, Path]],
    output_dir: Union[str, Path],
    *,
    fmt: str = "auto",
    batch_size: int = 64,
    actors: int = 2,
    address: Optional[str] = None,
    num_cpus: Optional[int] = None,
) -> ShardSummary:
    """Annotate each input file into its own shard, on Ray.

    model (str): Pipeline path or package name, loadable on every node.
    inputs (Iterable[Union[str, Path]]): Input files.
    output_dir (Union[str, Path]): Folder for the shards and markers.
    fmt (str): Input format, or "auto" per file.
    batch_size (int): Records per actor call.
    actors (int): Size of the actor pool (each holds one pipeline).
    address (Optional[str]): Ray cluster to join; default `RAY_ADDRESS` or a
        new local cluster.
    num_cpus (Optional[int]): CPUs of a new local cluster.
    RETURNS (ShardSummary): What was done.
    """
    try:
        import ray
    except ImportError as err:  # pragma: no cover - depends on the extra
        raise ImportError('The Ray backend needs Ray: pip install "spacy-bioner[ray]"') from err

    output_dir = Path(output_dir)
    planned = plan_shards(list(inputs), output_dir, fmt)
    output_dir.mkdir(parents=True, exist_ok=True)
    summary = ShardSummary()
    pending: List[Dict[str, str]] = []
    for source in planned:
        shard = shard_path(output_dir, source)
        if marker_path(shard).exists():
            summary.skipped.append(shard.name)
        else:
            pending.append({"path": str(source.path.resolve()), "fmt": source.fmt, "source": source.source,
                            "shard": str(shard.resolve())})
    if not pending:
        return summary
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # shards are appended in input order
        # Actors that claim every CPU would leave none for the tasks that
        # read the inputs, and the pipeline would wait forever: keep a tenth
        # of the cluster for reading.
        cpus = float(ray.cluster_resources().get("CPU", 1))
        actor_cpus = min(1.0, 0.9 * cpus / actors)
        dataset = (
            ray.data.from_items(pending)
            .flat_map(_records_of, num_cpus=min(0.1, 0.1 * cpus))
            .map_batches(_Annotator, fn_constructor_kwargs={"model": str(model), "batch_size": batch_size},
                         batch_size=batch_size, concurrency=actors, num_cpus=actor_cpus, batch_format="numpy")
        )
        counts: Dict[str, Counter] = {row["shard"]: Counter() for row in pending}
        inputs_of = {row["shard"]: row["path"] for row in pending}
        writer: Optional[JsonlOutput] = None
        current: Optional[str] = None
        for row in dataset.iter_rows():
            if row["shard"] != current:
                if writer is not None and current is not None:
                    # In input order, a new shard means the last one is whole.
                    writer.__exit__(None)
                    _finish(current, inputs_of[current], counts[current], summary)
                current = row["shard"]
                writer = JsonlOutput(Path(current), resume=True).__enter__()
            result = json.loads(row["out"])
            writer.write(result)
            counts[current]["errors" if "error" in result else "written"] += 1
            counts[current]["entities"] += len(result.get("entities", ()))
        if writer is not None and current is not None:
            writer.__exit__(None)
            _finish(current, inputs_of[current], counts[current], summary)
    finally:
        if started:
            ray.shutdown()
    for row in pending:  # inputs whose shard was already whole, or empty
        if not marker_path(Path(row["shard"])).exists():
            _finish(row["shard"], row["path"], counts[row["shard"]], summary)
    return summary


def _finish(shard: str, source: str, counts: Counter, summary: ShardSummary) -> None:
    write_marker(Path(shard), {"input": source, "written": counts["written"], "errors": counts["errors"],
                               "entities": counts["entities"], "backend": "ray"})
    summary.finished.append(Path(shard).name)
    summary.written += counts["written"]
    summary.errors += counts["errors"]
    summary.entities += counts["entities"]
