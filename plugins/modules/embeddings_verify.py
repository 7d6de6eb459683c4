#!/usr/bin/python
# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: embeddings_verify
short_description: Check that an OpenAI-compatible endpoint serves correct embeddings
description:
  - Calls C(GET /models) and C(POST /embeddings) on an OpenAI-compatible endpoint (vLLM, Ollama's C(/v1), OpenAI)
    and checks the answers.
  - Checks that the model is served (listed by C(/models)), that there is one vector per input in input order
    (C(data[i].index == i)), the dimension, that all values are finite, optionally that the vectors have unit norm,
    and that the base64 encoding (little-endian float32, which the official openai client asks for by default)
    decodes to the same vectors as the float encoding.
  - Reports the latency of the float request.
  - While a server starts or loads its model, retries until O(wait_timeout) on refused or dropped connections,
    timeouts and HTTP 502, 503 and 504; it never retries 400, 401 or 404.
  - On HTTP 429 (rate limited) it waits as long as the answer's C(Retry-After) header asks (seconds or an HTTP
    date) and tries again, as long as that wait ends within O(wait_timeout); without O(wait_timeout), or when the
    server asks for a longer wait, it fails at once with RV(error_kind=rate_limited).
  - Each failure has a machine-readable RV(error_kind) and a message that says what to do.
  - Read-only, so it runs in check mode too and never reports a change.
  - A server that does not list models (HTTP 404 on C(/models)) is checked without the model listing, with a warning.
  - With reference vectors (O(reference_file) or O(reference)) it also checks that the vectors are the right ones,
    not just well-formed; the reference's inputs are embedded and each vector's cosine with the reference vector of
    the same input must be at least O(min_cosine). A server that pools, truncates or loads the model differently
    than the reference passes every other check and fails this one, naming the input, the cosine and the likely
    causes. See C(docs/verification.md) and C(scripts/make-reference-vectors.py), which makes reference files.
  - To compare several endpoints of one model with each other, use M(embedops.embeddings.embeddings_agreement).
version_added: 0.1.0
author: embedops.embeddings contributors (@embedops)
options:
  api_base:
    description:
      - Base URL of the API, including C(/v1), for example V(http://127.0.0.1:8000/v1) (vLLM) or
        V(http://127.0.0.1:11434/v1) (Ollama).
      - Must start with V(http://) or V(https://).
    type: str
    required: true
  model:
    description:
      - Id of the model to check, as C(/models) lists it (vLLM's C(--served-model-name)).
      - For Ollama, V(name) also matches the listed V(name:latest).
    type: str
    required: true
  api_key:
    description:
      - API key, sent as a bearer token in the C(Authorization) header (vLLM's C(--api-key), OpenAI's key).
      - Never returned or shown in messages.
    type: str
  inputs:
    description:
      - Texts to embed in one request; at least one, none empty.
    type: list
    elements: str
    default:
      - The quick brown fox jumps over the lazy dog.
      - Embeddings map text to vectors of numbers.
      - Ansible checks that the service answers correctly.
  expected_dimension:
    description:
      - Number of values each vector must have.
      - Defaults to O(dimensions) when that is set; otherwise any dimension is accepted.
    type: int
  dimensions:
    description:
      - Sent as the request's C(dimensions) field, asking a model that supports it (Matryoshka) for shorter vectors.
    type: int
  check_base64:
    description:
      - Ask for the same embeddings a second time with C(encoding_format=base64) and check that they decode to the
        float vectors, with the same length and a cosine of at least 0.999 each. A server computes the second
        request anew, so its values may differ in the third digit, while a wrong encoding gives another vector.
      - A server that answers a base64 request with plain numbers passes with a warning and RV(base64_matches=null).
    type: bool
    default: true
  check_unit_norm:
    description:
      - Check that every vector has Euclidean norm 1 within 1e-3 (normalized embeddings).
    type: bool
    default: false
  expect_max_input_error:
    description:
      - Succeed only if the server refuses the O(inputs) as longer than the model's maximum context length.
      - Use it with an over-long input to check that the server rejects such input clearly instead of truncating it.
      - Only the float request is sent; the other checks are skipped.
    type: bool
    default: false
  reference_file:
    description:
      - Path of a reference vectors file (JSON, format 1) on the host the module runs on, as
        C(scripts/make-reference-vectors.py) writes it.
      - It holds the model's id, the dimension, fixed inputs and their vectors, and how they were made (generator,
        library versions, pooling, normalisation, dtype).
      - The file is checked before any request; a file that cannot be read, is not JSON, lacks a field, holds
        vectors of another dimension than it says, or was made for another model than O(reference_model) fails with
        RV(error_kind=reference_invalid), naming the file and what is wrong.
      - When the reference says C(normalized), the vectors of its inputs must have norm 1 as well.
    type: path
  reference:
    description:
      - The content of a reference vectors file, as a dictionary, instead of O(reference_file); for a file that is
        on the controller, read it with the P(ansible.builtin.file#lookup) lookup and the C(from_json) filter.
    type: dict
  reference_source:
    description:
      - Where O(reference) came from, for example the file's path on the controller; messages name the reference by
        it.
    type: str
  reference_model:
    description:
      - The model id the reference must have been made for, compared with the reference's C(model).
      - Defaults to O(model). Set it when the server serves the model under another name (vLLM's
        C(--served-model-name)), for example V(sentence-transformers/all-MiniLM-L6-v2) served as
        V(all-minilm-l6-v2).
    type: str
  min_cosine:
    description:
      - The lowest cosine similarity a served vector may have with its reference vector; between 0 and 1.
      - The default 0.99 passes the same weights served in float32, float16 or bfloat16 (cosines above 0.9999 with
        all-MiniLM-L6-v2) and fails every wrong configuration measured (another pooling gives 0.38 to 0.58).
    type: float
    default: 0.99
  probe_long_input:
    description:
      - After the other checks, send one input longer than the model's context, and report in RV(long_input) what the
        server does with it. It refuses it (V(refused)), or embeds what is left after cutting its end (V(end cut)) or
        its start (V(start cut)); V(accepted) when it embeds it and neither end dominates (the context is longer than
        stated).
      - The input is two unrelated texts of about 0.6 of the context each; which of the two the long input's vector
        resembles tells which end was kept. Applications that must not lose text chunk their inputs below
        the C(max_input_tokens) of RV(long_input).
      - The context comes from the server's model list (vLLM lists C(max_model_len)) or from O(max_input_tokens); with
        neither, the probe is skipped with a warning.
    type: bool
    default: false
  max_input_tokens:
    description:
      - The model's context in tokens, for O(probe_long_input) when the server does not list it (Ollama, OpenAI).
    type: int
  timeout:
    description:
      - Seconds each request may take in all (connecting, and the whole answer); must be greater than 0.
      - An answer is read up to 32 MiB; a larger one fails as V(invalid_response). A redirect is not followed, it
        fails as V(http) and names the address it points to.
    type: float
    default: 30
  wait_timeout:
    description:
      - Seconds to keep retrying while the server is not ready yet, or rate limited (HTTP 429); V(0) means a single
        try.
      - A rate-limited try is repeated only after the wait its C(Retry-After) header asks for, and only if that wait
        ends within O(wait_timeout).
      - The last try may run up to O(timeout) seconds past it.
    type: float
    default: 0
extends_documentation_fragment:
  - embedops.embeddings.attributes
  - embedops.embeddings.attributes.tls
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Needs only the Python standard library on the host it runs on.
  - Run it on the host that should reach the endpoint, often with C(delegate_to) or on localhost.
seealso:
  - module: embedops.embeddings.embeddings_agreement
  - name: OpenAI embeddings API
    description: The request and answer this module checks.
    link: https://platform.openai.com/docs/api-reference/embeddings
"""

EXAMPLES = r"""
- name: Wait up to 10 minutes for vLLM to load the model, then check it
  embedops.embeddings.embeddings_verify:
    api_base: http://127.0.0.1:8000/v1
    model: BAAI/bge-small-en-v1.5
    expected_dimension: 384
    check_unit_norm: true
    wait_timeout: 600

- name: Check Ollama's OpenAI-compatible endpoint
  embedops.embeddings.embeddings_verify:
    api_base: http://127.0.0.1:11434/v1
    model: nomic-embed-text
    expected_dimension: 768

- name: Check OpenAI with shortened vectors
  embedops.embeddings.embeddings_verify:
    api_base: https://api.openai.com/v1
    api_key: "{{ openai_api_key }}"
    model: text-embedding-3-small
    dimensions: 256

- name: Check OpenAI, waiting up to 2 minutes when rate limited, as Retry-After says
  embedops.embeddings.embeddings_verify:
    api_base: https://api.openai.com/v1
    api_key: "{{ openai_api_key }}"
    model: text-embedding-3-large
    expected_dimension: 3072
    wait_timeout: 120

- name: Check that vLLM serves the right vectors, against a reference made with sentence-transformers
  embedops.embeddings.embeddings_verify:
    api_base: http://127.0.0.1:8000/v1
    model: all-minilm-l6-v2
    reference_model: sentence-transformers/all-MiniLM-L6-v2
    reference_file: /etc/embedops/sentence-transformers--all-MiniLM-L6-v2.json

- name: The same with a reference file on the controller
  embedops.embeddings.embeddings_verify:
    api_base: http://127.0.0.1:8000/v1
    model: all-minilm-l6-v2
    reference_model: sentence-transformers/all-MiniLM-L6-v2
    reference: "{{ lookup('ansible.builtin.file', 'files/sentence-transformers--all-MiniLM-L6-v2.json') | from_json }}"
    reference_source: files/sentence-transformers--all-MiniLM-L6-v2.json (on the controller)
    min_cosine: 0.995

- name: Check that an over-long input is refused, not silently truncated
  embedops.embeddings.embeddings_verify:
    api_base: http://127.0.0.1:8000/v1
    model: BAAI/bge-small-en-v1.5
    inputs:
      - "{{ 'word ' * 5000 }}"
    expect_max_input_error: true
"""

RETURN = r"""
model:
  description: Model id the embeddings answer names (the requested id if the server names none).
  returned: success
  type: str
  sample: BAAI/bge-small-en-v1.5
dimension:
  description: Number of values in each vector.
  returned: success
  type: int
  sample: 384
count:
  description: Number of vectors returned, one per input.
  returned: success
  type: int
  sample: 3
latency_ms:
  description: Time of the float embeddings request, in milliseconds.
  returned: success
  type: float
  sample: 12.3
usage:
  description: Token counts the server reported; null where it reported none.
  returned: success
  type: dict
  contains:
    prompt_tokens:
      description: Tokens in the inputs.
      type: int
    total_tokens:
      description: Tokens counted in all.
      type: int
  sample: {"prompt_tokens": 27, "total_tokens": 27}
served_models:
  description: Model ids C(GET /models) lists; null when the server does not list models or before they were listed.
  returned: always
  type: list
  elements: str
  sample: ["BAAI/bge-small-en-v1.5"]
base64_matches:
  description:
    - Whether the base64-encoded vectors equal the float ones.
    - Null when O(check_base64=false), when the server answered the base64 request with plain numbers, or on failure.
  returned: always
  type: bool
  sample: true
norms:
  description: Euclidean norm of each vector, rounded to 4 digits.
  returned: success
  type: list
  elements: float
  sample: [1.0, 1.0, 1.0]
preview:
  description: The first five values of the first vector, rounded to 5 digits, for a human to look at.
  returned: success
  type: list
  elements: float
  sample: [0.03446, 0.03102, 0.00672, 0.02611, -0.03936]
attempts:
  description: Number of tries made, more than 1 when the server was not ready at first.
  returned: always
  type: int
  sample: 1
rate_limit_waits:
  description: Seconds waited after each HTTP 429 answer before trying again, as its C(Retry-After) asked.
  returned: always
  type: list
  elements: float
  sample: [1.0]
long_input:
  description:
    - What the server did with an input longer than the context (O(probe_long_input=true)).
    - C(outcome) is V(refused), V(end cut), V(start cut) or V(accepted); C(detail) says it in words (the server's
      error for V(refused)); C(max_input_tokens) the context used, and where it came from in C(max_input_tokens_from)
      (V(server) or V(option)); C(words_sent) the length of the input; C(cosine_to_start) and C(cosine_to_end) the
      similarity of its vector to each half alone, and C(prompt_tokens) what the server counted, when it embedded it.
  returned: with O(probe_long_input=true), when the context was known
  type: dict
  sample: {outcome: refused, max_input_tokens: 512, max_input_tokens_from: server, words_sent: 614,
           detail: "This model's maximum context length is 512 tokens..."}
reference_check:
  description: How the vectors of the reference's inputs compare with the reference.
  returned: when O(reference_file) or O(reference) is given and its inputs were embedded
  type: dict
  contains:
    model:
      description: The model the reference was made for.
      type: str
    file:
      description: O(reference_file), or null for O(reference).
      type: str
    inputs:
      description: Number of reference inputs embedded.
      type: int
    cosines:
      description: Cosine of each served vector with its reference vector, in input order, rounded to 6 digits.
      type: list
      elements: float
    lowest:
      description: The lowest of RV(reference_check.cosines).
      type: float
    min_cosine:
      description: The threshold, O(min_cosine).
      type: float
    passed:
      description: Whether every cosine is at least O(min_cosine).
      type: bool
  sample:
    model: sentence-transformers/all-MiniLM-L6-v2
    file: /etc/embedops/sentence-transformers--all-MiniLM-L6-v2.json
    inputs: 6
    cosines: [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    lowest: 1.0
    min_cosine: 0.99
    passed: true
rejection:
  description: The server's refusal of the over-long inputs.
  returned: success with O(expect_max_input_error=true)
  type: str
  sample: >-
    This model's maximum context length is 512 tokens. However, you requested 5002 tokens in the input for
    embedding generation. Please reduce the length of the input.
error_kind:
  description:
    - What went wrong, for a playbook to act on.
    - V(config) (an option is wrong), V(connection_refused), V(name_resolution), V(timeout), V(tls),
      V(connection) (connection dropped), V(not_ready) (HTTP 502, 503 or 504), V(unauthorized) (HTTP 401 or 403).
    - V(rate_limited) (HTTP 429 and no O(wait_timeout), or its C(Retry-After) asks for longer than O(wait_timeout)
      leaves), V(quota_exceeded) (HTTP 429 because the account's quota is used up, which no wait cures).
    - V(unknown_model), V(endpoint_not_found) (HTTP 404 for the API path, so O(api_base) lacks C(/v1) or the server
      does not serve embeddings), V(input_too_long), V(http) (any other HTTP error).
    - V(invalid_response), V(count_mismatch), V(order_mismatch), V(dimension_mismatch), V(non_finite),
      V(not_unit_norm), V(base64_mismatch).
    - V(input_accepted) (O(expect_max_input_error=true) but the server embedded the inputs).
    - V(reference_invalid) (the reference cannot be read, is malformed, or was made for another model),
      V(reference_mismatch) (a vector's cosine with its reference vector is below O(min_cosine)); a reference of
      another dimension than the served vectors is V(dimension_mismatch), unnormalized vectors against a normalized
      reference V(not_unit_norm).
  returned: failure
  type: str
  sample: connection_refused
"""

from urllib.parse import urlparse

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import (
    EndpointError,
    HttpClient,
    error_detail,
    public_url,
    url_secrets,
)
from ansible_collections.embedops.embeddings.plugins.module_utils.openai_embeddings import (
    RETRYABLE_KINDS,
    OpenAIEmbeddings,
    Retry,
    check_dimension,
    check_finite,
    check_served,
    check_unit_norm,
    compare_vectors,
    listed_max_input_tokens,
    vector_norms,
)
from ansible_collections.embedops.embeddings.plugins.module_utils.reference_vectors import (
    check_reference_dimension,
    check_reference_model,
    check_reference_norms,
    compare_with_reference,
    long_input_behaviour,
    parse_reference,
    read_reference_file,
)

DEFAULT_INPUTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Embeddings map text to vectors of numbers.",
    "Ansible checks that the service answers correctly.",
]


def option_errors(params):
    """What is wrong with the options, in the words of the options."""
    errors = []
    url = urlparse(params["api_base"])
    if url.scheme not in ("http", "https") or not url.netloc:
        errors.append(
            "api_base must be an http:// or https:// URL including /v1, such as http://127.0.0.1:8000/v1; got %r"
            % params["api_base"]
        )
    if not params["inputs"]:
        errors.append("inputs must hold at least one text")
    errors.extend(
        "inputs[%d] is empty: the OpenAI API refuses empty texts" % i
        for i, text in enumerate(params["inputs"])
        if not text
    )
    for name in ("expected_dimension", "dimensions", "max_input_tokens"):
        if params[name] is not None and params[name] < 1:
            errors.append("%s must be at least 1, got %s" % (name, params[name]))
    if params["timeout"] <= 0:
        errors.append("timeout must be greater than 0, got %s" % params["timeout"])
    if params["wait_timeout"] < 0:
        errors.append("wait_timeout must be 0 or more, got %s" % params["wait_timeout"])
    if not 0 < params["min_cosine"] <= 1:
        errors.append("min_cosine must be greater than 0 and at most 1, got %s" % params["min_cosine"])
    return errors


def load_reference(params):
    """The Reference the options give, checked against the model and the dimension; None without one."""
    if params["reference_file"]:
        reference = read_reference_file(params["reference_file"])
    elif params["reference"] is not None:
        label = "reference %s" % params["reference_source"] if params["reference_source"] else (
            "the reference given in option reference"
        )
        reference = parse_reference(params["reference"], label)
    else:
        return None
    check_reference_model(reference, params["reference_model"] or params["model"])
    expected = params["expected_dimension"] or params["dimensions"]
    if expected and expected != reference.dimension:
        raise EndpointError(
            "reference_invalid",
            "%s holds vectors of %d dimensions (model %s), but %s is %d: the reference and the options disagree"
            % (reference.label, reference.dimension, reference.model,
               "expected_dimension" if params["expected_dimension"] else "dimensions", expected),
        )
    return reference


def check_reference(api, params, reference, floats, result):
    """Embed the reference's inputs (reusing `floats` when they are the inputs) and compare with the reference."""
    model = params["model"]
    where = public_url(api.client.base_url)
    if reference.inputs != list(params["inputs"]):
        floats = api.embed(reference.inputs, model, "float", params["dimensions"])
        check_reference_dimension(reference, floats.dimension, model, where)
        check_finite(floats.vectors)
    check = dict(
        model=reference.model, file=params["reference_file"], inputs=len(reference.inputs), cosines=None,
        lowest=None, min_cosine=params["min_cosine"], passed=False,
    )
    result["reference_check"] = check
    usage = floats.usage or {}
    try:
        cosines = compare_with_reference(
            reference, floats.vectors, params["min_cosine"], model, where, usage.get("prompt_tokens"),
        )
    except EndpointError as err:
        cosines = getattr(err, "cosines", None)
        if cosines is not None:
            check.update(cosines=[round(value, 6) for value in cosines], lowest=round(min(cosines), 6))
        raise
    check.update(cosines=[round(value, 6) for value in cosines], lowest=round(min(cosines), 6), passed=True)
    check_reference_norms(reference, vector_norms(floats.vectors), model, where)


def verify(api, params, result, warnings, reference=None):
    """One try of all checks; fills `result` as it goes and raises EndpointError on the first failure."""
    model = params["model"]
    entries = []
    try:
        entries = api.list_model_entries()
        served = [str(item["id"]) for item in entries]
    except EndpointError as err:
        if err.kind != "endpoint_not_found":
            raise
        served = None
        warnings.append(
            "%s does not list models (GET /models answered 404): the model was not checked against a list"
            % api.client.base_url
        )
    result["served_models"] = served
    if served is not None:
        check_served(model, served, api.client.base_url)

    floats = api.embed(params["inputs"], model, "float", params["dimensions"])
    if params["expect_max_input_error"]:
        raise EndpointError(
            "input_accepted",
            "model %s embedded the inputs (%d dimensions) although expect_max_input_error says the server should "
            "refuse them as too long: the inputs are not too long, or the server truncates them silently"
            % (model, floats.dimension),
        )
    norms = vector_norms(floats.vectors)
    result.update(
        model=floats.model or model,
        dimension=floats.dimension,
        count=len(floats.vectors),
        latency_ms=round(floats.elapsed * 1000, 1),
        usage=floats.usage,
        norms=[round(norm, 4) for norm in norms],
        preview=[round(value, 5) for value in floats.vectors[0][:5]] if floats.vectors else [],
    )
    expected = params["expected_dimension"] or params["dimensions"]
    if expected:
        check_dimension(floats.vectors, expected, model)
    check_finite(floats.vectors)
    if params["check_unit_norm"]:
        check_unit_norm(norms)

    if params["check_base64"]:
        encoded = api.embed(params["inputs"], model, "base64", params["dimensions"])
        if encoded.base64_encoded:
            compare_vectors(floats.vectors, encoded.vectors)
            result["base64_matches"] = True
        else:
            warnings.append(
                "%s answered encoding_format=base64 with plain numbers: the base64 encoding was not checked"
                % api.client.base_url
            )

    if reference is not None:
        check_reference(api, params, reference, floats, result)

    if params["probe_long_input"]:
        listed = listed_max_input_tokens(entries, model)
        context = listed or params["max_input_tokens"]
        if context is None:
            warnings.append(
                "%s does not list the context of model %s and max_input_tokens is not set: the long input was not "
                "sent" % (api.client.base_url, model)
            )
        else:
            result["long_input"] = dict(long_input_behaviour(api, model, context),
                                        max_input_tokens_from="server" if listed else "option")


def failure_message(err, wait_timeout, attempts):
    if err.kind == "rate_limited":
        if getattr(err, "wait_exceeds_deadline", False):
            if getattr(err, "retry_after", None) is not None:
                where = "%s, longer than wait_timeout=%ss leaves after %d attempts" % (
                    err.message, wait_timeout, attempts,
                )
            else:
                where = "%s (still after %d attempts in wait_timeout=%ss)" % (err.message, attempts, wait_timeout)
            return "%s: retry later, raise the rate limits of the account or key, or raise wait_timeout" % where
        return (
            "%s: retry later or raise the rate limits of the account or key; set wait_timeout to wait as the "
            "server's Retry-After says" % err.message
        )
    if err.kind not in RETRYABLE_KINDS:
        return err.message
    if wait_timeout:
        return "%s (still failing after %d attempts in wait_timeout=%ss)" % (err.message, attempts, wait_timeout)
    return "%s (if the server is still starting, set wait_timeout to wait for it)" % err.message


def main():
    module = AnsibleModule(
        argument_spec=dict(
            api_base=dict(type="str", required=True),
            model=dict(type="str", required=True),
            api_key=dict(type="str", no_log=True),
            inputs=dict(type="list", elements="str", default=DEFAULT_INPUTS),
            expected_dimension=dict(type="int"),
            dimensions=dict(type="int"),
            check_base64=dict(type="bool", default=True),
            check_unit_norm=dict(type="bool", default=False),
            expect_max_input_error=dict(type="bool", default=False),
            timeout=dict(type="float", default=30),
            wait_timeout=dict(type="float", default=0),
            validate_certs=dict(type="bool", default=True),
            reference_file=dict(type="path"),
            reference=dict(type="dict"),
            reference_source=dict(type="str"),
            reference_model=dict(type="str"),
            min_cosine=dict(type="float", default=0.99),
            probe_long_input=dict(type="bool", default=False),
            max_input_tokens=dict(type="int", no_log=False),  # a count of tokens, not a secret
        ),
        mutually_exclusive=[("reference_file", "reference")],
        supports_check_mode=True,
    )
    # A password in a URL's user:password@ part is masked in every result, the module's invocation included.
    module.no_log_values.update(url_secrets(module.params["api_base"]))
    params = module.params
    errors = option_errors(params)
    if errors:
        module.fail_json(msg="; ".join(errors), error_kind="config", attempts=0)
    try:
        reference = load_reference(params)
    except EndpointError as err:
        module.fail_json(msg=err.message, error_kind=err.kind, attempts=0)

    client = HttpClient(
        params["api_base"],
        api_key=params["api_key"],
        timeout=params["timeout"],
        validate_certs=params["validate_certs"],
        follow_redirects=False,
    )
    api = OpenAIEmbeddings(client)
    retry = Retry(params["wait_timeout"])
    result = dict(changed=False, served_models=None, base64_matches=None)
    warnings = []
    try:
        retry.run(lambda: verify(api, params, result, warnings, reference))
        error = None
    except EndpointError as err:
        error = err
    result["attempts"] = retry.attempts
    result["rate_limit_waits"] = retry.rate_limit_waits
    for warning in dict.fromkeys(warnings):
        module.warn(warning)
    if error is None:
        module.exit_json(**result)
    if params["expect_max_input_error"] and error.kind == "input_too_long":
        module.exit_json(
            msg="the server refused the inputs as too long, as expected", rejection=error_detail(error.body), **result
        )
    message = failure_message(error, params["wait_timeout"], retry.attempts)
    module.fail_json(msg=message, error_kind=error.kind, **result)


if __name__ == "__main__":
    main()
