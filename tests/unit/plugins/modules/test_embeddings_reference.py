"""Right vectors, not just vectors: embeddings_verify with a reference, and embeddings_agreement, run through main().

The servers are tests/doubles/hostile_server.py answering well-formed embeddings (its `embeddings` scenario) with
real all-MiniLM-L6-v2 vectors: mean-pooled as sentence-transformers computes them (the committed reference), or
CLS-pooled (tests/unit/fixtures/reference_vectors/), as a vLLM replica started with
--pooler-config.seq_pooling_type CLS serves them. Both pass every shape check; only the reference tells them apart.
"""

import json

import pytest
from ansible_collections.embedops.embeddings.plugins.modules import embeddings_agreement, embeddings_verify
from doubles import hostile_server as hs
from doubles.modules import run_module
from doubles.reference_files import CLS_FILE, MEAN_FILE, MODEL, SERVED, load

pytestmark = pytest.mark.usefixtures("no_proxy", "quick_retries")

KEY = "sk-reference-test-7d1e44"
MEAN = load(MEAN_FILE)
CLS = load(CLS_FILE)
MEAN_TABLE = dict(zip(MEAN["inputs"], MEAN["vectors"]))
CLS_TABLE = dict(zip(CLS["inputs"], CLS["vectors"]))


def serving(table, key=None):
    """A server of model all-minilm-l6-v2 answering `table`'s vectors (others: one fixed vector)."""
    server = hs.HostileServer()
    server.on("GET /v1/models", "json", body=hs.models_list(SERVED))
    server.on("POST /v1/embeddings", "embeddings", vectors=table)
    return server


@pytest.fixture
def mean_server():
    with serving(MEAN_TABLE) as server:
        yield server


@pytest.fixture
def cls_server():
    with serving(CLS_TABLE) as server:
        yield server


def verify(capsys, server, **args):
    args = dict({"api_base": server.url("/v1"), "model": SERVED, "reference_model": MODEL,
                 "reference_file": MEAN_FILE}, **args)
    rc, result, _output = run_module(capsys, embeddings_verify.main, args)
    assert bool(rc) == bool(result.get("failed")), result
    return result


def embedding_requests(server):
    return len([request for request in server.requests if request[1] == "/v1/embeddings"])


def test_the_right_vectors_pass(capsys, mean_server):
    result = verify(capsys, mean_server, expected_dimension=384)

    assert not result.get("failed"), result["msg"]
    check = result["reference_check"]
    assert check == {"model": MODEL, "file": MEAN_FILE, "inputs": 6, "cosines": [1.0] * 6, "lowest": 1.0,
                     "min_cosine": 0.99, "passed": True}
    # The default inputs are checked as before (float and base64), the reference's in one more float request.
    assert embedding_requests(mean_server) == 3


def test_cls_pooled_vectors_pass_the_shape_checks_and_fail_the_reference(capsys, cls_server):
    plain = verify(capsys, cls_server, reference_file=None, reference_model=None, expected_dimension=384,
                   check_unit_norm=True)
    assert not plain.get("failed"), plain["msg"]

    result = verify(capsys, cls_server, expected_dimension=384)

    assert result["failed"] and result["error_kind"] == "reference_mismatch"
    cosines = result["reference_check"]["cosines"]
    assert min(cosines) > 0.3 and max(cosines) < 0.6 and result["reference_check"]["passed"] is False
    assert result["reference_check"]["lowest"] == min(cosines)
    assert ('model all-minilm-l6-v2 at %s: input 5 ("Embedding models turn each sentence into...") has cosine %.4f '
            "with its reference vector in reference_file %s" % (cls_server.url("/v1"), min(cosines), MEAN_FILE)
            ) in result["msg"]
    assert "below min_cosine 0.99; 6 of 6 inputs below" in result["msg"]
    assert "Likely causes: the pooling" in result["msg"]
    assert result["dimension"] == 384 and result["base64_matches"] is True


def test_the_reference_inputs_as_inputs_take_one_request(capsys, cls_server):
    result = verify(capsys, cls_server, inputs=MEAN["inputs"], check_base64=False)

    assert result["error_kind"] == "reference_mismatch"
    assert embedding_requests(cls_server) == 1


def test_reference_as_a_dict_and_in_check_mode(capsys, mean_server):
    rc, result, _output = run_module(capsys, embeddings_verify.main, {
        "api_base": mean_server.url("/v1"), "model": SERVED, "reference_model": MODEL, "reference": MEAN,
    }, check=True)

    assert rc == 0, result["msg"]
    assert result["reference_check"]["file"] is None and result["reference_check"]["passed"] is True


def test_reference_as_a_dict_is_named_by_its_source(capsys, mean_server):
    rc, result, _output = run_module(capsys, embeddings_verify.main, {
        "api_base": mean_server.url("/v1"), "model": SERVED, "reference": dict(MEAN, dimension=768),
        "reference_source": "files/minilm.json (on the controller)",
    })

    assert rc == 1 and result["error_kind"] == "reference_invalid"
    assert result["msg"].startswith(
        "reference files/minilm.json (on the controller) is not a usable reference: vectors[0] has 384 values, but "
        "dimension says 768"
    )


def test_a_threshold_above_what_the_server_reaches(capsys, cls_server):
    result = verify(capsys, cls_server, min_cosine=0.3)

    assert not result.get("failed"), result["msg"]
    assert result["reference_check"]["passed"] is True


def test_reference_of_another_model_fails_before_any_request(capsys, mean_server):
    result = verify(capsys, mean_server, reference_model="BAAI/bge-m3")

    assert result["error_kind"] == "reference_invalid"
    assert result["msg"].startswith("reference_file %s was made for model %s, not for BAAI/bge-m3" % (MEAN_FILE, MODEL))
    assert result["attempts"] == 0 and mean_server.requests == []


def test_reference_model_defaults_to_model(capsys, mean_server):
    result = verify(capsys, mean_server, reference_model=None)

    assert result["error_kind"] == "reference_invalid"
    assert "was made for model %s, not for %s: " % (MODEL, SERVED) in result["msg"]
    assert "set reference_model" in result["msg"]


def test_reference_of_another_dimension_than_expected(capsys, mean_server):
    result = verify(capsys, mean_server, expected_dimension=1024)

    assert result["error_kind"] == "reference_invalid"
    assert result["msg"] == (
        "reference_file %s holds vectors of 384 dimensions (model %s), but expected_dimension is 1024: the reference "
        "and the options disagree" % (MEAN_FILE, MODEL)
    )


def test_served_dimension_other_than_the_reference(capsys):
    with serving({text: vector[:128] for text, vector in MEAN_TABLE.items()}) as server:
        result = verify(capsys, server)

    assert result["error_kind"] == "dimension_mismatch"
    assert "answers 128 dimensions, but reference_file %s holds vectors of 384" % MEAN_FILE in result["msg"]


def test_unnormalized_vectors_fail_a_normalized_reference(capsys):
    with serving({text: [2 * value for value in vector] for text, vector in MEAN_TABLE.items()}) as server:
        result = verify(capsys, server)

    assert result["error_kind"] == "not_unit_norm"
    assert result["reference_check"]["passed"] is True  # the cosines are right; the norms are not
    assert "has norm 2, but reference_file %s is normalized" % MEAN_FILE in result["msg"]


def test_a_broken_reference_file_is_named(capsys, mean_server, tmp_path):
    doc = dict(MEAN, vectors=MEAN["vectors"][:4])
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))

    result = verify(capsys, mean_server, reference_file=str(path))

    assert result["error_kind"] == "reference_invalid"
    assert result["msg"].startswith("reference_file %s is not a usable reference: it holds 4 vectors for 6 inputs"
                                    % path)
    assert mean_server.requests == []


def test_reference_file_and_reference_exclude_each_other(capsys, mean_server):
    result = verify(capsys, mean_server, reference=MEAN)

    assert result["failed"]
    assert "mutually exclusive: reference_file|reference" in result["msg"]


@pytest.mark.parametrize("value", [0, 1.5])
def test_min_cosine_range(capsys, mean_server, value):
    result = verify(capsys, mean_server, min_cosine=value)

    assert result["error_kind"] == "config"
    assert result["msg"] == "min_cosine must be greater than 0 and at most 1, got %s" % float(value)


# ---- embeddings_agreement


def agree(capsys, servers, **args):
    args = dict({"endpoints": [server.url("/v1") for server in servers], "model": SERVED, "api_key": KEY}, **args)
    rc, result, _output = run_module(capsys, embeddings_agreement.main, args)
    assert bool(rc) == bool(result.get("failed")), result
    assert KEY not in json.dumps(result)
    return result


def test_replicas_that_agree(capsys):
    with serving(MEAN_TABLE) as first, serving(MEAN_TABLE) as second:
        result = agree(capsys, [first, second], inputs=MEAN["inputs"])

        assert not result.get("failed"), result["msg"]
        assert (result["dimension"], result["count"], result["lowest"], result["attempts"]) == (384, 6, 1.0, [1, 1])
        assert result["pairs"] == [{"endpoints": [first.url("/v1"), second.url("/v1")], "cosines": [1.0] * 6,
                                    "lowest": 1.0}]
        for server in (first, second):
            assert server.headers_of("/v1/embeddings")[0]["Authorization"] == "Bearer %s" % KEY


def test_the_diverging_replica_is_named(capsys):
    with serving(MEAN_TABLE) as first, serving(MEAN_TABLE) as second, serving(CLS_TABLE) as third:
        result = agree(capsys, [first, second, third], inputs=MEAN["inputs"])
        output = capsys.readouterr()

        assert result["error_kind"] == "endpoints_disagree"
        assert result["msg"].startswith(
            'endpoints %s and %s disagree on input 5 ("Embedding models turn each sentence into...") for model %s: '
            "cosine 0.378" % (first.url("/v1"), third.url("/v1"), SERVED)
        )
        assert "the endpoint that disagrees with all others (see pairs) is the odd one" in result["msg"]
        assert [pair["lowest"] == 1.0 for pair in result["pairs"]] == [True, False, False]
        assert result["lowest"] < 0.4
        assert KEY not in output.out + output.err


def test_default_inputs_against_a_cls_replica(capsys):
    with serving(MEAN_TABLE) as first, serving(CLS_TABLE) as second:
        result = agree(capsys, [first, second])

    assert result["error_kind"] == "endpoints_disagree"
    assert result["count"] == 4
    assert "a reference (embeddings_verify reference_file) tells which one is right" in result["msg"]


def test_an_endpoint_that_does_not_answer_is_named(capsys):
    with serving(MEAN_TABLE) as gone:
        down = gone.url("/v1")
    with serving(MEAN_TABLE) as first:
        result = agree(capsys, [first], endpoints=[first.url("/v1"), down])

    assert result["error_kind"] == "connection_refused"
    assert down in result["msg"]
    assert result["msg"].endswith("(if the server is still starting, set wait_timeout to wait for it)")
    assert result["attempts"] == [1, 1]


def test_an_endpoint_that_refuses_the_key(capsys):
    with serving(MEAN_TABLE) as first, hs.HostileServer() as second:
        second.on("POST /v1/embeddings", "json", status=401,
                  body={"error": {"message": "Incorrect API key provided: %s" % KEY, "code": 401}})
        result = agree(capsys, [first, second])

    assert result["error_kind"] == "unauthorized"
    assert "the endpoint refused the API key: check api_key" in result["msg"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"endpoints": ["http://127.0.0.1:8000/v1"]}, "endpoints must name at least two different endpoints"),
        ({"endpoints": ["http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/"]},
         "endpoints must name at least two different endpoints to compare, got 1"),
        ({"endpoints": ["http://a/v1", "http://b/v1", "http://a/v1"]}, "endpoints names an endpoint more than once"),
        ({"endpoints": ["http://a/v1", "ftp://user:pw@b/v1"]}, "got 'ftp://b/v1'"),
        ({"min_cosine": 2.0}, "min_cosine must be greater than 0 and at most 1, got 2.0"),
        ({"inputs": ["a", ""]}, "inputs[1] is empty"),
    ],
)
def test_agreement_options(capsys, args, message):
    args = dict({"endpoints": ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"], "model": SERVED}, **args)
    rc, result, _output = run_module(capsys, embeddings_agreement.main, args)

    assert rc == 1 and result["error_kind"] == "config"
    assert message in result["msg"]
    assert "pw" not in json.dumps(result)
