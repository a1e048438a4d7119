"""The web service, through FastAPI's test client, on a tiny trained model."""
import pytest

pytest.importorskip("fastapi", reason="the [serve] extra is not installed")
pytest.importorskip("httpx", reason="the [serve] extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from spacy_bioner.serve import create_app  # noqa: E402

from ..pipeline.conftest import make_examples, tiny_nlp, train  # noqa: E402

TEXT = "Mutations in BRCA1 cause hereditary breast cancer ."


@pytest.fixture(scope="module")
def client():
    nlp = tiny_nlp()
    train(nlp, make_examples(nlp), steps=150)
    return TestClient(create_app(nlp, max_chars=2000, max_texts=4))


def test_health(client):
    data = client.get("/health").json()
    assert data["status"] == "ok" and data["labels"] == ["Disease", "Gene"]


def test_one_text_offsets_labels_scores(client):
    response = client.post("/annotate", json={"text": TEXT})
    assert response.status_code == 200
    (doc,) = response.json()["documents"]
    found = {(TEXT[e["start"]:e["end"]], e["label"]) for e in doc["entities"]}
    assert found == {("BRCA1", "Gene"), ("hereditary breast cancer", "Disease")}
    assert all(e["text"] == TEXT[e["start"]:e["end"]] and 0 < e["score"] <= 1 for e in doc["entities"])
    assert "bilstm_crf_ner_default" in doc["spans"]  # which head found it


def test_batch_equals_single(client):
    texts = [TEXT, "Cystic fibrosis is caused by defects in CFTR .", ""]
    batch = client.post("/annotate", json={"texts": texts}).json()["documents"]
    singles = [client.post("/annotate", json={"text": t}).json()["documents"][0] for t in texts]
    assert batch == singles and batch[2]["entities"] == []


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ({"texts": ["a"] * 5}, 422, "at most 4 texts"),
        ({"text": "x" * 2001}, 422, "limit is 2000"),
        ({"text": "a", "texts": ["b"]}, 422, "exactly one"),
        ({}, 422, "exactly one"),
        ({"text": 5}, 422, "string"),
        ({"text": "a", "extra": 1}, 422, "extra"),
    ],
)
def test_bad_requests_are_4xx(client, body, status, fragment):
    response = client.post("/annotate", json=body)
    assert response.status_code == status
    assert fragment in response.text


def test_oversized_and_malformed_bodies(client):
    big = b'{"text": "' + b"a" * 40_000 + b'"}'
    assert client.post("/annotate", content=big, headers={"content-type": "application/json"}).status_code == 413

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"text": "'
        for _ in range(100):
            yield b"a" * 1000
        yield b'"}'

    response = client.post("/annotate", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    response = client.post("/annotate", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
