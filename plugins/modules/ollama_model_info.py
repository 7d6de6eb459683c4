#!/usr/bin/python
# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ollama_model_info
short_description: List the models on an Ollama server with their facts
description:
  - Lists the models an Ollama server has (C(GET /api/tags)) with the facts C(POST /api/show) gives for each, such as
    the embedding length, the context length and the capabilities, and says which are loaded (C(GET /api/ps)).
  - Optionally only the models that match O(name).
  - Read-only, so it runs in check mode too and never reports a change.
version_added: 0.1.0
author: embedops.embeddings contributors (@embedops)
options:
  name:
    description:
      - Report only this model, as C([registry/][namespace/]model[:tag]).
      - A name without a tag matches every tag of the model (V(bge-m3) matches V(bge-m3:latest) and V(bge-m3:567m)).
      - A model the server does not have gives an empty RV(models) list, not a failure.
    type: str
    aliases: [model]
  details:
    description:
      - Ask C(/api/show) for each model's facts (embedding length, context length, capabilities...). With V(false)
        only what C(/api/tags) lists is returned, and those facts are null.
    type: bool
    default: true
  timeout:
    description:
      - Seconds each request may take in all (connecting, and the whole answer); must be greater than 0.
      - An answer is read up to 32 MiB; a larger one fails as V(invalid_response). A redirect is not followed, it
        fails as V(http) and names the address it points to.
    type: float
    default: 30
extends_documentation_fragment:
  - embedops.embeddings.attributes
  - embedops.embeddings.ollama
  - embedops.embeddings.attributes.tls
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Needs only the Python standard library on the host it runs on.
seealso:
  - module: embedops.embeddings.ollama_model
"""

EXAMPLES = r"""
- name: List what the Ollama server has
  embedops.embeddings.ollama_model_info:
  register: ollama

- name: Show each model's vector length
  ansible.builtin.debug:
    msg: "{{ ollama.models | items2dict(key_name='name', value_name='embedding_length') }}"

- name: Facts of every tag of bge-m3
  embedops.embeddings.ollama_model_info:
    api_base: http://ollama.internal:11434
    name: bge-m3
  register: bge
"""

RETURN = r"""
version:
  description: The Ollama server's version (C(GET /api/version)).
  returned: success
  type: str
  sample: 0.34.2
models:
  description:
    - The models, most recently modified first, with the facts the module M(embedops.embeddings.ollama_model)
      returns for one model, plus whether each is loaded.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Name as listed, with its tag.
      type: str
    digest:
      description: Digest of the model's manifest.
      type: str
    size:
      description: Size in bytes.
      type: int
    modified_at:
      description: When the model was last pulled or created.
      type: str
    family:
      description: Model family.
      type: str
    parameter_size:
      description: Parameter count as Ollama writes it.
      type: str
    quantization_level:
      description: Quantization of the weights.
      type: str
    embedding_length:
      description: Length of the model's vectors; null with O(details=false).
      type: int
    context_length:
      description: Context length in tokens; null with O(details=false).
      type: int
    capabilities:
      description: What the model can do, V(embedding) for embedding models; empty with O(details=false).
      type: list
      elements: str
    embedding:
      description: Whether it is an embedding model; null with O(details=false).
      type: bool
    weights_digest:
      description: Digest of the weights blob; null with O(details=false).
      type: str
    loaded:
      description: Whether the server holds the model in memory now.
      type: bool
    expires_at:
      description: When a loaded model will be unloaded (its keep_alive); null when not loaded.
      type: str
  sample:
    - name: bge-m3:latest
      digest: 790764642607e2c8e1f2ec6a10f5f0e1b6d3d0ad4c5ad6b1c2b2e6c1d0d8f8a1
      size: 1157672605
      family: bert
      parameter_size: 567M
      quantization_level: F16
      embedding_length: 1024
      context_length: 8192
      capabilities: [embedding]
      embedding: true
      loaded: false
      expires_at: null
names:
  description: The names of RV(models), for quick checks.
  returned: success
  type: list
  elements: str
  sample: [bge-m3:latest, all-minilm:latest]
error_kind:
  description:
    - What went wrong, for a playbook to act on.
    - V(config), V(connection_refused) (the server does not run), V(name_resolution), V(timeout), V(tls),
      V(connection), V(endpoint_not_found) (O(api_base) is not an Ollama server's root), V(http),
      V(invalid_response).
  returned: failure
  type: str
  sample: connection_refused
"""


from ansible.module_utils.basic import AnsibleModule
from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import (
    EndpointError,
    HttpClient,
    url_secrets,
)
from ansible_collections.embedops.embeddings.plugins.module_utils.ollama_api import (
    DEFAULT_API_BASE,
    ModelName,
    OllamaAPI,
    api_base_errors,
    model_facts,
    parse_model_name,
)


def option_errors(params):
    errors = api_base_errors(params["api_base"])
    if params["name"] is not None:
        try:
            parse_model_name(params["name"])
        except ValueError as exc:
            errors.append(str(exc))
    if params["timeout"] <= 0:
        errors.append("timeout must be greater than 0, got %s" % params["timeout"])
    return errors


def matches(wanted, listed):
    try:
        name = ModelName.parse(listed)
    except ValueError:
        return False
    return name == wanted if wanted.explicit_tag else name.same_model(wanted)


def gather(api, params):
    wanted = parse_model_name(params["name"]) if params["name"] is not None else None
    version = api.version()
    entries = [
        entry for entry in api.list_models() if wanted is None or matches(wanted, entry.get("name") or "")
    ]
    loaded = {}
    for running in api.running():
        try:
            loaded[ModelName.parse(running.get("name") or running.get("model"))] = running.get("expires_at")
        except ValueError:
            continue
    models = []
    for entry in entries:
        name = ModelName.parse(entry["name"])
        show = api.show(name) if params["details"] else None
        facts = model_facts(entry, show)
        if not params["details"]:
            facts["capabilities"] = []
        facts["loaded"] = name in loaded
        facts["expires_at"] = loaded.get(name)
        models.append(facts)
    return {"version": version, "models": models, "names": [facts["name"] for facts in models]}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            api_base=dict(type="str", default=DEFAULT_API_BASE),
            name=dict(type="str", aliases=["model"]),
            details=dict(type="bool", default=True),
            timeout=dict(type="float", default=30),
            validate_certs=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    # A password in a URL's user:password@ part is masked in every result, the module's invocation included.
    module.no_log_values.update(url_secrets(module.params["api_base"]))
    params = module.params
    errors = option_errors(params)
    if errors:
        module.fail_json(msg="; ".join(errors), error_kind="config")
    client = HttpClient(
        params["api_base"], timeout=params["timeout"], validate_certs=params["validate_certs"], follow_redirects=False
    )
    try:
        result = gather(OllamaAPI(client), params)
    except EndpointError as err:
        module.fail_json(msg=err.message, error_kind=err.kind)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
