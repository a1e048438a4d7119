"""Bulk annotation: a corpus of documents in, one JSON line per document out.

Input is JSON Lines (`{"id", "text"}`, or `{"pmid", "title", "abstract"}`),
PubTator (title and abstract lines) or plain text (one document per line),
gzip allowed. Every input record yields exactly one output line: its
entities with character offsets into the record's text, labels and
confidences, or an error record `{"id", "file", "line", "error"}`. The
output is appended to and flushed as it goes; re-running the same command
resumes. See docs/reliability.md for what a user can rely on.

Modules: `readers` (inputs to records), `writer` (the resumable output),
`runner` (the single-machine loop), `workers` (worker processes that die
with their parent).
"""
from .readers import FORMATS, InputFile, Record, detect_format, plan_inputs, read_records
from .runner import Summary, annotate, annotate_chunk, doc_to_record, error_record
from .writer import JsonlOutput, OutputFileError, done_counts, encode_record

__all__ = [
    "FORMATS", "InputFile", "Record", "detect_format", "plan_inputs", "read_records",
    "Summary", "annotate", "annotate_chunk", "doc_to_record", "error_record",
    "JsonlOutput", "OutputFileError", "done_counts", "encode_record",
]
