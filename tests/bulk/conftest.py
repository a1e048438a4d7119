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
