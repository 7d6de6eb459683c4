#!/usr/bin/python
# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: embeddings_agreement
short_description: Check that several endpoints serving one model answer with the same vectors
description:
  - Sends the same inputs with C(POST /embeddings) to two or more OpenAI-compatible endpoints that serve the same
    model (every replica of a deployment, a replica and its gateway, an old and a new server) and compares the
    vectors of every pair of endpoints on every input.
  - Fails when any pair's cosine similarity on any input is below O(min_cosine), naming the two endpoints, the input
    (its index and first words) and the cosine. Replicas that pool, normalise, truncate or load the model
    differently pass every shape check of M(embedops.embeddings.embeddings_verify), and fail this one.
  - Each answer is checked as M(embedops.embeddings.embeddings_verify) checks its float answer (one vector per input,
    in input order, one dimension, finite values); endpoints that answer different dimensions fail as
    RV(error_kind=dimension_mismatch).
  - Agreement does not say which endpoint is right; a reference
    (O(embedops.embeddings.embeddings_verify#module:reference_file)) does.
  - The endpoints are asked one after another with the same HTTP client, retries and error kinds as
    M(embedops.embeddings.embeddings_verify).
  - Read-only, so it runs in check mode too and never reports a change.
version_added: 0.1.0
author: embedops.embeddings contributors (@embedops)
options:
  endpoints:
    description:
      - Base URLs of the endpoints, including C(/v1), for example V(http://127.0.0.1:8000/v1) and
        V(http://127.0.0.1:8001/v1); at least two, each once.
    type: list
    elements: str
    required: true
  model:
    description:
      - Id of the model to request from every endpoint.
    type: str
    required: true
  api_key:
    description:
      - API key, sent as a bearer token in the C(Authorization) header to every endpoint.
      - Never returned or shown in messages.
    type: str
  inputs:
    description:
      - Texts to embed in one request per endpoint; at least one, none empty.
      - Short ordinary sentences of different lengths show pooling and truncation differences best.
    type: list
    elements: str
    default:
      - Hello world.
      - The quick brown fox jumps over the lazy dog.
      - How do I reset my password if I no longer have access to my email?
      - Please restart the payment service after the database migration has finished and the replicas have caught
        up with the primary.
  dimensions:
    description:
      - Sent as the request's C(dimensions) field (Matryoshka models).
    type: int
  min_cosine:
    description:
      - The lowest cosine similarity two endpoints' vectors of one input may have; between 0 and 1.
      - Replicas of one deployment run the same weights, flags and kernels, so their vectors differ by rounding
        only (cosines above 0.9999); the default 0.999 still passes endpoints that compute in different precisions
        and fails another pooling (0.38 to 0.58 for all-MiniLM-L6-v2).
    type: float
    default: 0.999
  timeout:
    description:
      - Seconds each request may take in all (connecting, and the whole answer); must be greater than 0.
    type: float
    default: 30
  wait_timeout:
    description:
      - Seconds to keep retrying each endpoint while it is not ready yet (refused or dropped connections, timeouts,
        HTTP 502, 503 and 504) or rate limited as its C(Retry-After) says; V(0) means a single try.
    type: float
    default: 0
  validate_certs:
    description:
      - Verify the servers' TLS certificates for V(https://) endpoints.
    type: bool
    default: true
extends_documentation_fragment:
  - embedops.embeddings.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Needs only the Python standard library on the host it runs on.
  - Run it on a host that reaches every endpoint.
seealso:
  - module: embedops.embeddings.embeddings_verify
"""

EXAMPLES = r"""
- name: Every replica of the model answers with the same vectors
  embedops.embeddings.embeddings_agreement:
    endpoints:
      - http://127.0.0.1:8000/v1
      - http://127.0.0.1:8001/v1
    model: all-minilm-l6-v2

- name: A new server agrees with the one it replaces, behind keys
  embedops.embeddings.embeddings_agreement:
    endpoints:
      - https://embeddings-old.example.com/v1
      - https://embeddings-new.example.com/v1
    model: bge-m3
    api_key: "{{ vault_embedding_api_key }}"
    min_cosine: 0.995
    wait_timeout: 120
"""

RETURN = r"""
endpoints:
  description: The endpoints compared, without any user:password part.
  returned: always
  type: list
  elements: str
  sample: ["http://127.0.0.1:8000/v1", "http://127.0.0.1:8001/v1"]
dimension:
  description: Number of values in each vector.
  returned: success
  type: int
  sample: 384
count:
  description: Number of inputs compared.
  returned: always
  type: int
  sample: 4
pairs:
  description:
    - One item per pair of endpoints, with the cosine of their vectors on each input.
    - Returned on success and on RV(error_kind=endpoints_disagree).
  returned: when every endpoint answered
  type: list
  elements: dict
  contains:
    endpoints:
      description: The two endpoints.
      type: list
      elements: str
    cosines:
      description: Cosine of their vectors on each input, in input order, rounded to 6 digits.
      type: list
      elements: float
    lowest:
      description: The lowest of RV(pairs[].cosines).
      type: float
  sample:
    - endpoints: ["http://127.0.0.1:8000/v1", "http://127.0.0.1:8001/v1"]
      cosines: [1.0, 1.0, 1.0, 1.0]
      lowest: 1.0
lowest:
  description: The lowest cosine of all pairs and inputs.
  returned: when every endpoint answered
  type: float
  sample: 0.999998
attempts:
  description: Tries made for each endpoint, in the order of RV(endpoints); more than 1 when one was not ready.
  returned: always
  type: list
  elements: int
  sample: [1, 1]
error_kind:
  description:
    - What went wrong, for a playbook to act on.
    - V(config) (an option is wrong), V(endpoints_disagree) (a cosine below O(min_cosine)), V(dimension_mismatch)
      (the endpoints answer different dimensions), and the kinds of
      M(embedops.embeddings.embeddings_verify)'s RV(embedops.embeddings.embeddings_verify#module:error_kind) for an
      endpoint that does not answer properly (V(connection_refused), V(unauthorized), V(unknown_model), ...).
  returned: failure
  type: str
  sample: endpoints_disagree
"""

from urllib.parse import urlparse

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import (
    EndpointError,
    HttpClient,
    public_url,
    url_secrets,
)
from ansible_collections.embedops.embeddings.plugins.module_utils.openai_embeddings import (
    RETRYABLE_KINDS,
    OpenAIEmbeddings,
    Retry,
    check_finite,
)
from ansible_collections.embedops.embeddings.plugins.module_utils.reference_vectors import compare_endpoints

DEFAULT_INPUTS = [
    "Hello world.",
    "The quick brown fox jumps over the lazy dog.",
    "How do I reset my password if I no longer have access to my email?",
    "Please restart the payment service after the database migration has finished and the replicas have caught "
    "up with the primary.",
]


def option_errors(params):
    """What is wrong with the options, in the words of the options."""
    errors = []
    endpoints = params["endpoints"]
    for url in endpoints:
        parts = urlparse(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(
                "endpoints must be http:// or https:// URLs including /v1, such as http://127.0.0.1:8000/v1; got %r"
                % public_url(url)
            )
    distinct = list(dict.fromkeys(url.rstrip("/") for url in endpoints))
    if len(distinct) < 2:
        errors.append("endpoints must name at least two different endpoints to compare, got %d" % len(distinct))
    elif len(distinct) < len(endpoints):
        errors.append("endpoints names an endpoint more than once: each must be there once")
    if not params["inputs"]:
        errors.append("inputs must hold at least one text")
    errors.extend(
        "inputs[%d] is empty: the OpenAI API refuses empty texts" % i
        for i, text in enumerate(params["inputs"])
        if not text
    )
    if params["dimensions"] is not None and params["dimensions"] < 1:
        errors.append("dimensions must be at least 1, got %s" % params["dimensions"])
    if not 0 < params["min_cosine"] <= 1:
        errors.append("min_cosine must be greater than 0 and at most 1, got %s" % params["min_cosine"])
    if params["timeout"] <= 0:
        errors.append("timeout must be greater than 0, got %s" % params["timeout"])
    if params["wait_timeout"] < 0:
        errors.append("wait_timeout must be 0 or more, got %s" % params["wait_timeout"])
    return errors


def embed(url, params):
    """The vectors `url` answers for the inputs, and the tries it took."""
    client = HttpClient(
        url, api_key=params["api_key"], timeout=params["timeout"], validate_certs=params["validate_certs"],
        follow_redirects=False,
    )
    api = OpenAIEmbeddings(client)
    retry = Retry(params["wait_timeout"])

    def once():
        answer = api.embed(params["inputs"], params["model"], "float", params["dimensions"])
        check_finite(answer.vectors)
        return answer.vectors

    try:
        return retry.run(once), retry.attempts
    except EndpointError as err:
        err.attempts = retry.attempts
        raise


def main():
    module = AnsibleModule(
        argument_spec=dict(
            endpoints=dict(type="list", elements="str", required=True),
            model=dict(type="str", required=True),
            api_key=dict(type="str", no_log=True),
            inputs=dict(type="list", elements="str", default=DEFAULT_INPUTS),
            dimensions=dict(type="int"),
            min_cosine=dict(type="float", default=0.999),
            timeout=dict(type="float", default=30),
            wait_timeout=dict(type="float", default=0),
            validate_certs=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    # A password in a URL's user:password@ part is masked in every result, the module's invocation included.
    module.no_log_values.update(url_secrets(*module.params["endpoints"]))
    params = module.params
    result = dict(
        changed=False, endpoints=[public_url(url) for url in params["endpoints"]], count=len(params["inputs"]),
        attempts=[],
    )
    errors = option_errors(params)
    if errors:
        module.fail_json(msg="; ".join(errors), error_kind="config", **result)

    answers = []
    for url in params["endpoints"]:
        try:
            vectors, attempts = embed(url, params)
        except EndpointError as err:
            result["attempts"].append(err.attempts)
            message = err.message
            if public_url(url).rstrip("/") not in message:
                message = "%s: %s" % (public_url(url), message)
            if err.kind in RETRYABLE_KINDS and not params["wait_timeout"]:
                message += " (if the server is still starting, set wait_timeout to wait for it)"
            module.fail_json(msg=message, error_kind=err.kind, **result)
        result["attempts"].append(attempts)
        answers.append((url, vectors))

    try:
        pairs = compare_endpoints(answers, params["inputs"], params["min_cosine"], params["model"])
    except EndpointError as err:
        pairs = getattr(err, "pairs", None)
        if pairs is not None:
            result.update(pairs=pairs, lowest=min(pair["lowest"] for pair in pairs))
        module.fail_json(msg=err.message, error_kind=err.kind, **result)
    result.update(dimension=len(answers[0][1][0]), pairs=pairs, lowest=min(pair["lowest"] for pair in pairs))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
