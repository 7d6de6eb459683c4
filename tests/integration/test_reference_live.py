"""The committed reference against the real served vectors: the local vLLM that `make deploy` starts.

It serves sentence-transformers/all-MiniLM-L6-v2 as all-minilm-l6-v2 on 127.0.0.1:8000 (inventories/local). Its
vectors must be the reference's (measured: cosine 1.000000000 on every input), and the CLS-pooled fixture must
fail against them. Skipped, with the reason, where that server is not running (EMBEDOPS_LIVE_API_BASE points the
test at another one).
"""

import json
import os
import urllib.error
import urllib.request

import pytest
from ansible_collections.embedops.embeddings.plugins.modules import embeddings_verify
from doubles.modules import run_module
from doubles.reference_files import CLS_FILE, MEAN_FILE, MODEL, SERVED

API_BASE = os.environ.get("EMBEDOPS_LIVE_API_BASE", "http://127.0.0.1:8000/v1")

pytestmark = pytest.mark.usefixtures("no_proxy")


@pytest.fixture(scope="module")
def live():
    """Skip unless API_BASE serves all-minilm-l6-v2."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 directly, whatever the proxy
    try:
        with opener.open(API_BASE + "/models", timeout=5) as answer:
            served = [model["id"] for model in json.load(answer)["data"]]
    except (OSError, ValueError, KeyError, TypeError, urllib.error.URLError) as exc:
        pytest.skip("no vLLM at %s (make deploy starts one): %s" % (API_BASE, exc))
    if SERVED not in served:
        pytest.skip("%s serves %s, not %s" % (API_BASE, ", ".join(served) or "no model", SERVED))
    return API_BASE


def test_the_served_vectors_are_the_reference(live, capsys):
    result = run_module(capsys, embeddings_verify.main, dict(
        api_base=live, model=SERVED, reference_model=MODEL, reference_file=MEAN_FILE, expected_dimension=384,
        wait_timeout=30)).result

    assert not result.get("failed"), result["msg"]
    assert result["reference_check"]["passed"] is True
    assert result["reference_check"]["lowest"] >= 0.9999, result["reference_check"]


def test_cls_pooled_vectors_are_not_what_is_served(live, capsys):
    result = run_module(capsys, embeddings_verify.main, dict(
        api_base=live, model=SERVED, reference_model=MODEL, reference_file=CLS_FILE, check_base64=False,
        wait_timeout=30)).result

    assert result["error_kind"] == "reference_mismatch"
    assert max(result["reference_check"]["cosines"]) < 0.6
    assert "has cosine 0.3" in result["msg"] and "Likely causes: the pooling" in result["msg"]
