"""A small trained pipeline, in memory and saved, for the bulk tests."""
import pytest

from tests.pipeline.conftest import make_examples, tiny_nlp, train


@pytest.fixture(scope="session")
def trained_nlp():
    nlp = tiny_nlp()
    return train(nlp, make_examples(nlp))


@pytest.fixture(scope="session")
def model_dir(trained_nlp, tmp_path_factory):
    path = tmp_path_factory.mktemp("bulk") / "model"
    trained_nlp.to_disk(path)
    return path


def run_cli(*args):
    """Run `spacy-bioner ARGS...` in-process: (exit code, stdout + stderr)."""
    from typer.testing import CliRunner

    from spacy_bioner.cli import _register_commands, app

    _register_commands()
    result = CliRunner().invoke(app, [str(a) for a in args])
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"raw exception {result.exception!r}:\n{output}")
    assert "Traceback" not in output, output
    return result.exit_code, output


def fail_line(output):
    """The one failure line ("✘ ..."); asserts there is exactly one."""
    lines = [line for line in output.splitlines() if line.startswith("✘")]
    assert len(lines) == 1, output
    return lines[0]


def snapshot(*paths):
    """The bytes of every file under `paths`, to check that nothing changed."""
    from pathlib import Path

    files = {}
    for path in map(Path, paths):
        for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            files[str(file)] = file.read_bytes()
    return files


def read_output(path):
    """The records of an annotate output, read as our resume reader does."""
    import json

    return [json.loads(line) for line in path.read_bytes().split(b"\n") if line.strip()]


def assert_one_line_per_record(output, expected_ids):
    """Every input record has exactly one output or error record, in order."""
    records = read_output(output)
    assert [r["id"] for r in records] == list(expected_ids)
    for r in records:
        assert ("entities" in r) != ("error" in r), r
    return records
