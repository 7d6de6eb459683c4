#!/usr/bin/python
# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: embeddings_benchmark
short_description: Load an OpenAI-compatible embeddings endpoint and report throughput and latency
description:
  - Sends C(POST /embeddings) requests to an OpenAI-compatible endpoint (vLLM, Ollama's C(/v1), OpenAI, a gateway)
    from the host the module runs on, and reports requests per second, latency percentiles, errors by kind,
    input tokens per second and the CPU the load generator itself used.
  - Closed loop (O(concurrency)) keeps that many requests in flight, each sent when the previous one was answered;
    this is how the usual comparison tables are made, and it hides server stalls (coordinated omission).
  - Open loop (O(rates)) sends requests at a fixed rate whatever the server does and measures latency from the
    B(intended) send time, so a stall shows in the latency of every request that was due during it.
  - Each run starts with O(warmup) seconds of the same load that are not counted, then measures for O(duration)
    seconds or O(requests) requests, whichever ends first. Runs are made one after another, closed loop first.
  - Inputs are generated deterministically from O(seed); O(input_tokens) is approximate (common English words that
    tokenizers hold as one token each, plus the two special tokens). RV(runs[].prompt_tokens_avg) reports the
    server's own count.
  - Before the load, one request checks that the endpoint answers and accepts the input (O(preflight)), so that an
    input longer than the model takes, an unknown model or a wrong URL fails at once with its RV(error_kind).
  - A benchmark puts load on a service, so it is not run in check mode unless O(run_in_check_mode=true).
version_added: 0.1.0
author: embedops.embeddings contributors (@embedops)
options:
  api_base:
    description:
      - Base URL of the API, including C(/v1), for example V(http://127.0.0.1:8000/v1).
    type: str
    required: true
  model:
    description:
      - Id of the model to request, as C(/models) lists it.
    type: str
    required: true
  api_key:
    description:
      - API key, sent as a bearer token in the C(Authorization) header.
      - Never returned or shown in messages.
    type: str
  name:
    description:
      - Name of the endpoint in the report and the table, for example V(vllm-cpu). Defaults to O(api_base).
    type: str
  concurrency:
    description:
      - Closed-loop runs, one per value, each value the number of requests kept in flight.
      - The comparison table uses V(100).
      - Set to V([]) for open-loop runs only.
    type: list
    elements: int
    default: [100]
  rates:
    description:
      - Open-loop runs, one per value, each value the requests sent per second.
      - Latency is measured from the intended send time.
    type: list
    elements: float
    default: []
  duration:
    description:
      - Measured seconds per run, after the warm-up. V(0) means no time bound (then O(requests) must be set).
    type: float
    default: 30
  requests:
    description:
      - Measured requests per run; the run ends at this count or after O(duration), whichever comes first.
    type: int
  warmup:
    description:
      - Seconds of load before each run's measurement; their requests are not counted.
    type: float
    default: 5
  input_tokens:
    description:
      - Approximate tokens per input. The comparison table uses V(512); the input must fit the model's maximum length
        (all-MiniLM-L6-v2 served by vLLM takes 512 tokens including the two special ones).
    type: int
    default: 512
  inputs_per_request:
    description:
      - Texts per request (the C(input) list); RV(runs[].qps) counts requests, RV(runs[].inputs_per_s) texts.
    type: int
    default: 1
  distinct_inputs:
    description:
      - Number of different requests prepared and sent in turn, so that a cache keyed on the text does not serve them.
    type: int
    default: 128
  seed:
    description:
      - Seed of the generated inputs; the same seed gives the same texts on every host.
    type: int
    default: 0
  encoding_format:
    description:
      - C(encoding_format) of the requests. The official openai client asks for V(base64) by default.
    type: str
    choices: [float, base64]
    default: float
  timeout:
    description:
      - Seconds each request may take in all before it counts as a V(timeout) error.
    type: float
    default: 60
  max_connections:
    description:
      - Open loop only, the most connections opened to the endpoint; requests beyond wait for one, and that wait
        counts in their latency.
    type: int
    default: 1000
  preflight:
    description:
      - Send one request with one generated input before the load and fail with its RV(error_kind) if it fails.
    type: bool
    default: true
  run_in_check_mode:
    description:
      - Run the benchmark in check mode too. By default check mode sends nothing and says so.
    type: bool
    default: false
extends_documentation_fragment:
  - embedops.embeddings.attributes
  - embedops.embeddings.attributes.tls
attributes:
  check_mode:
    support: full
    details:
      - In check mode no request is sent (the result says so and RV(runs) is empty) unless O(run_in_check_mode=true).
  diff_mode:
    support: none
requirements:
  - aiohttp (on the host the module runs on)
notes:
  - The host that runs the module generates the load, so run it where the clients of the service would be, often on
    localhost or with C(delegate_to). Its CPU use is reported in RV(runs[].client_cpu_percent); near 100 the figures
    describe the load generator, not the server.
  - The module never reports a change. It fails when a run had no successful request, or when O(preflight) fails.
  - Latency percentiles are over successful requests; errors are counted by kind and HTTP status.
seealso:
  - module: embedops.embeddings.embeddings_verify
  - name: Coordinated omission
    description: Why closed-loop latency hides stalls, and why the open loop measures from the intended send time.
    link: https://www.scylladb.com/2021/04/22/on-coordinated-omission/
"""

EXAMPLES = r"""
- name: Closed loop at the comparison table's 100 requests in flight, 512-token inputs
  embedops.embeddings.embeddings_benchmark:
    api_base: http://127.0.0.1:8000/v1
    model: all-minilm-l6-v2
    name: vllm-cpu
    concurrency: [100]
    duration: 30
  register: bench

- name: Latency against load, closed and open loop, short inputs
  embedops.embeddings.embeddings_benchmark:
    api_base: http://127.0.0.1:8000/v1
    model: all-minilm-l6-v2
    concurrency: [1, 8, 32]
    rates: [5, 10, 20]
    input_tokens: 128
    duration: 20
    warmup: 3

- name: A fixed number of requests against OpenAI, key from the vault
  embedops.embeddings.embeddings_benchmark:
    api_base: https://api.openai.com/v1
    api_key: "{{ openai_api_key }}"
    model: text-embedding-3-small
    concurrency: [4]
    requests: 200
    duration: 0
"""

RETURN = r"""
runs:
  description: One report per run, closed-loop runs first, in the order of O(concurrency) and O(rates).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: O(name) or O(api_base).
      type: str
    mode:
      description: V(closed) or V(open).
      type: str
    label:
      description: The load in words, such as V(closed c=100) or V(open 20 req/s).
      type: str
    concurrency:
      description: Requests in flight (closed loop); null in open loop.
      type: int
    rate:
      description: Requests sent per second (open loop); null in closed loop.
      type: float
    measured_s:
      description: Length of the measurement window in seconds.
      type: float
    requests:
      description: Requests sent in the measurement (C(sent)), answered correctly (C(ok)), failed, and sent in the
        warm-up.
      type: dict
    qps:
      description: Successful answers per second in the measurement window.
      type: float
    inputs_per_s:
      description: Texts embedded per second (O(inputs_per_request) times RV(runs[].qps)).
      type: float
    latency_ms:
      description: min, mean, p50, p90, p99 and max latency of the successful requests, in milliseconds.
      type: dict
    latency_from:
      description: V(actual send time) (closed loop) or V(intended send time) (open loop).
      type: str
    send_lag_ms:
      description: Open loop, how late the client sent compared with the schedule (its own saturation); null in
        closed loop.
      type: dict
    errors:
      description: Failed requests by kind (V(connection_refused), V(timeout), V(connection), V(http),
        V(not_ready), V(unauthorized), V(rate_limited), V(quota_exceeded), V(input_too_long), V(invalid_response),
        V(count_mismatch), ...), the kinds of M(embedops.embeddings.embeddings_verify). Nothing is retried.
      type: dict
    http_statuses:
      description: Failed requests by HTTP status (a string), with their counts, such as V(429) and V(500).
      type: dict
    error_samples:
      description: One message per error kind.
      type: dict
    prompt_tokens_avg:
      description: The server's C(usage.prompt_tokens) per request, averaged; null if it reports none.
      type: float
    input_tokens_per_s:
      description: Input tokens (the server's count) embedded per second.
      type: float
    client_cpu_percent:
      description: CPU time the load generator used during the measurement, in percent of one core.
      type: float
    client_cpu_ms_per_request:
      description: CPU milliseconds the load generator spent per request; 1000 divided by it is what one core can
        drive.
      type: float
    loadavg_before:
      description: Load average of the host running the module before the run.
      type: list
      elements: float
    loadavg_after:
      description: Load average after the run.
      type: list
      elements: float
    cpu_count:
      description: CPUs of the host running the module.
      type: int
  sample:
    - name: vllm-cpu
      mode: closed
      label: closed c=100
      qps: 14.2
      latency_ms: {"min": 812.0, "mean": 6950.1, "p50": 6990.3, "p90": 7210.4, "p99": 7420.9, "max": 7511.0}
      errors: {}
      prompt_tokens_avg: 512.0
      input_tokens_per_s: 7270.4
      client_cpu_percent: 1.2
markdown:
  description: The runs as a Markdown table, one column per run.
  returned: always
  type: str
preflight:
  description: What the preflight request got back.
  returned: when O(preflight=true) and the load ran
  type: dict
  sample: {"dimension": 384, "prompt_tokens": 512, "latency_ms": 81.2}
error_kind:
  description:
    - What went wrong, for a playbook to act on; the kinds of RV(runs[].errors) and V(config) (an option is wrong).
  returned: failure
  type: str
  sample: connection_refused
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.embedops.embeddings.plugins.module_utils import loadgen
from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import (
    EndpointError,
    HttpClient,
    url_secrets,
)
from ansible_collections.embedops.embeddings.plugins.module_utils.openai_embeddings import OpenAIEmbeddings

SPEC_OPTIONS = (
    "duration", "requests", "warmup", "input_tokens", "inputs_per_request", "distinct_inputs", "seed",
    "encoding_format", "timeout", "max_connections", "validate_certs",
)


def option_errors(params):
    errors = []
    if not params["api_base"].startswith(("http://", "https://")):
        errors.append("api_base must be an http:// or https:// URL including /v1, such as http://127.0.0.1:8000/v1; "
                      "got %r" % params["api_base"])
    if not params["concurrency"] and not params["rates"]:
        errors.append("set concurrency or rates: there is no run to make")
    errors.extend("concurrency values must be at least 1, got %s" % c for c in params["concurrency"] if c < 1)
    errors.extend("rates must be greater than 0, got %s" % r for r in params["rates"] if r <= 0)
    common = dict((name, params[name]) for name in SPEC_OPTIONS)
    try:
        loadgen.normalize_spec(dict(common, concurrency=1))
    except ValueError as exc:
        errors.append(str(exc))
    return errors


def preflight(params):
    """One request with one generated input through the shared client: fail fast on what would fail every request."""
    client = HttpClient(params["api_base"], api_key=params["api_key"], timeout=params["timeout"],
                        validate_certs=params["validate_certs"], follow_redirects=False)
    text = loadgen.make_inputs(params["input_tokens"], 1, params["seed"])[0]
    answer = OpenAIEmbeddings(client).embed([text], params["model"], params["encoding_format"])
    return {
        "dimension": answer.dimension,
        "prompt_tokens": answer.usage.get("prompt_tokens"),
        "latency_ms": round(answer.elapsed * 1000, 1),
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            api_base=dict(type="str", required=True),
            model=dict(type="str", required=True),
            api_key=dict(type="str", no_log=True),
            name=dict(type="str"),
            concurrency=dict(type="list", elements="int", default=[100]),
            rates=dict(type="list", elements="float", default=[]),
            duration=dict(type="float", default=30),
            requests=dict(type="int"),
            warmup=dict(type="float", default=5),
            input_tokens=dict(type="int", default=512, no_log=False),
            inputs_per_request=dict(type="int", default=1),
            distinct_inputs=dict(type="int", default=128),
            seed=dict(type="int", default=0),
            encoding_format=dict(type="str", choices=["float", "base64"], default="float"),
            timeout=dict(type="float", default=60),
            max_connections=dict(type="int", default=1000),
            preflight=dict(type="bool", default=True),
            run_in_check_mode=dict(type="bool", default=False),
            validate_certs=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    # A password in a URL's user:password@ part is masked in every result, the module's invocation included.
    module.no_log_values.update(url_secrets(module.params["api_base"]))
    params = module.params
    if not loadgen.HAS_AIOHTTP:
        module.fail_json(msg=missing_required_lib("aiohttp"), exception=loadgen.AIOHTTP_IMPORT_ERROR,
                         error_kind="config")
    errors = option_errors(params)
    if errors:
        module.fail_json(msg="; ".join(errors), error_kind="config", runs=[], markdown="")
    if module.check_mode and not params["run_in_check_mode"]:
        module.exit_json(
            changed=False, skipped=True, runs=[], markdown="",
            msg="check mode: no request sent; a benchmark loads the service (set run_in_check_mode=true to run it)",
        )

    result = dict(changed=False, runs=[], markdown="")
    if params["preflight"]:
        try:
            result["preflight"] = preflight(params)
        except EndpointError as err:
            module.fail_json(msg="preflight request failed, no load sent: %s" % err.message, error_kind=err.kind,
                             **result)

    common = dict((name, params[name]) for name in SPEC_OPTIONS)
    specs = loadgen.load_specs(params["concurrency"], params["rates"], **common)
    try:
        runs = loadgen.run_load(params["api_base"], params["model"], specs, api_key=params["api_key"],
                                name=params["name"])
    except EndpointError as err:
        module.fail_json(msg=err.message, error_kind=err.kind, **result)
    except Exception as exc:  # an unexpected failure of the event loop: report it, not a bare traceback
        module.fail_json(msg="the load generator failed: %s" % exc, exception=traceback.format_exc(),
                         error_kind="loadgen", **result)
    result.update(runs=runs, markdown=loadgen.markdown_table(runs))
    dead = [run for run in runs if run["requests"]["ok"] == 0]
    if dead:
        run = dead[0]
        kind = max(run["errors"], key=run["errors"].get) if run["errors"] else "no_requests"
        message = run["error_samples"].get(kind, "no request was sent in the measurement window")
        module.fail_json(
            msg="%s: no successful request in %s (%s)" % (run["label"], run["name"], message), error_kind=kind, **result
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
