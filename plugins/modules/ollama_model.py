#!/usr/bin/python
# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ollama_model
short_description: Pull, import or remove a model on an Ollama server
description:
  - Manages one model on an Ollama server through its REST API (C(/api/tags), C(/api/pull), C(/api/delete),
    C(/api/show), C(/api/blobs), C(/api/create)).
  - O(state=present) pulls the model when C(/api/tags) does not list it, and does nothing when it does.
  - O(state=latest) always asks the server to pull, and reports a change only when the model's digest changed, that
    is when the registry holds a newer version.
  - O(state=absent) deletes the model when the server has it.
  - With O(gguf), the model is built from a GGUF file on the host the module runs on, for air-gapped hosts. The
    file's sha256 is computed, the blob is uploaded only when the server lacks it (C(HEAD /api/blobs/sha256:...)),
    then C(/api/create) makes the model from it. Idempotent by that digest. The file can be checked against
    O(gguf_sha256) first.
  - Pulls are made by the Ollama server, not by Ansible. A proxy for the server goes in the server's environment
    (C(HTTPS_PROXY) in the container), not in Ansible's.
  - Returns the model's facts from C(/api/show), such as its embedding length and context length, and a summary
    of the pull's progress.
  - Each failure has a machine-readable RV(error_kind) and a message that says what to do.
version_added: 0.1.0
author: embedops.embeddings contributors (@embedops)
options:
  name:
    description:
      - The model, as C([registry/][namespace/]model[:tag]), for example V(bge-m3), V(all-minilm:22m),
        V(myteam/bge-m3:q8_0) or V(registry.example.com:5000/myteam/bge-m3:v1).
      - The tag defaults to V(latest), the namespace to V(library) and the registry to V(registry.ollama.ai), as
        Ollama does. Names are compared case-insensitively.
      - With O(gguf), the name the imported model gets.
    type: str
    required: true
    aliases: [model]
  state:
    description:
      - V(present) pulls the model when the server does not have it.
      - V(latest) pulls it on every run and reports a change only when its digest changed.
      - V(absent) deletes it.
    type: str
    choices: [present, absent, latest]
    default: present
  gguf:
    description:
      - Path of a GGUF file on the host the module runs on. The model O(name) is created from it instead of pulled.
      - The model is created again when it exists but was built from another file.
      - Needs O(state=present).
    type: path
  gguf_sha256:
    description:
      - Expected sha256 of the O(gguf) file, as 64 hexadecimal digits, optionally after V(sha256:).
      - The module fails with RV(error_kind=digest_mismatch) before uploading anything when the file differs.
    type: str
  insecure:
    description:
      - Let the server pull from a registry over plain HTTP or with an unverified certificate (the pull's C(insecure)
        field). For private registries only.
    type: bool
    default: false
  timeout:
    description:
      - Seconds each request may take in all (connecting, and the whole answer), or between two whole progress lines of
        a pull; must be greater than 0. The upload of a GGUF file is limited per network operation while it is sent.
      - A pull of a large model can take much longer in all; it is cut only when no progress line arrives this long.
      - A redirect is not followed, it fails as V(http) and names the address it points to.
    type: float
    default: 300
extends_documentation_fragment:
  - embedops.embeddings.attributes
  - embedops.embeddings.ollama
  - embedops.embeddings.attributes.tls
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
notes:
  - Needs only the Python standard library on the host it runs on.
  - In check mode nothing is pulled, uploaded, created or deleted. O(state=latest) cannot tell in check mode whether
    the registry holds a newer version (Ollama has no way to ask without pulling), so it reports no change for a
    model the server has, with a warning.
  - A pull that is cut (timeout, lost connection, no disk space) resumes where it stopped when the task runs again.
  - The diff shows the model's digest (the C(/api/tags) digest) before and after.
seealso:
  - module: embedops.embeddings.ollama_model_info
  - name: Ollama API
    description: The routes this module calls.
    link: https://github.com/ollama/ollama/blob/main/docs/api.md
"""

EXAMPLES = r"""
- name: Make sure the embedding model is on the server
  embedops.embeddings.ollama_model:
    name: bge-m3
  register: bge

- name: Use the dimension the model reports
  ansible.builtin.debug:
    msg: "bge-m3 makes {{ bge.model.embedding_length }}-dimensional vectors, context {{ bge.model.context_length }}"

- name: Follow the registry's newest version of a tag
  embedops.embeddings.ollama_model:
    api_base: http://127.0.0.1:11434
    name: nomic-embed-text:v1.5
    state: latest

- name: Import a GGUF file copied to an air-gapped host
  embedops.embeddings.ollama_model:
    name: bge-m3:f16-offline
    gguf: /srv/models/bge-m3-F16.gguf
    gguf_sha256: "{{ bge_m3_gguf_sha256 }}"

- name: Remove a model no longer used
  embedops.embeddings.ollama_model:
    name: all-minilm
    state: absent
"""

RETURN = r"""
name:
  description: The model's name as the server lists it (shortest form, with its tag).
  returned: always
  type: str
  sample: bge-m3:latest
model:
  description:
    - The model's facts from C(/api/tags) and C(/api/show); null when the model is absent, and in check mode when it
      would be pulled or created.
  returned: always
  type: dict
  contains:
    name:
      description: Name as listed.
      type: str
    digest:
      description: Digest of the model's manifest, as C(/api/tags) shows it; changes when any layer changes.
      type: str
    size:
      description: Size of the model's layers in bytes.
      type: int
    modified_at:
      description: When the model was last pulled or created.
      type: str
    format:
      description: File format of the weights, V(gguf).
      type: str
    family:
      description: Model family, for example V(bert) or V(nomic-bert).
      type: str
    families:
      description: Model families.
      type: list
      elements: str
    parameter_size:
      description: Parameter count as Ollama writes it, for example V(567M).
      type: str
    quantization_level:
      description: Quantization of the weights, for example V(F16) or V(Q8_0).
      type: str
    architecture:
      description: The GGUF C(general.architecture).
      type: str
    embedding_length:
      description: Length of the model's vectors (C(<architecture>.embedding_length)).
      type: int
    context_length:
      description: The model's context length in tokens (C(<architecture>.context_length)).
      type: int
    capabilities:
      description: What the model can do; embedding models list V(embedding).
      type: list
      elements: str
    embedding:
      description: Whether the model is an embedding model.
      type: bool
    parameters:
      description: The model's default parameters, one per line, as C(/api/show) gives them.
      type: str
    weights_digest:
      description: Digest of the weights blob (the GGUF file's sha256 for an imported model).
      type: str
  sample:
    name: bge-m3:latest
    digest: 790764642607e2c8e1f2ec6a10f5f0e1b6d3d0ad4c5ad6b1c2b2e6c1d0d8f8a1
    size: 1157672605
    format: gguf
    family: bert
    parameter_size: 567M
    quantization_level: F16
    architecture: bert
    embedding_length: 1024
    context_length: 8192
    capabilities: [embedding]
    embedding: true
pull:
  description: What the pull streamed; null when nothing was pulled.
  returned: always
  type: dict
  contains:
    steps:
      description: The last few steps, a layer's progress shown once with its final percentage.
      type: list
      elements: str
    bytes_pulled:
      description: Bytes downloaded by this pull (layers already on the server count 0).
      type: int
    bytes_resumed:
      description: Bytes an earlier, cut pull had already downloaded.
      type: int
    bytes_total:
      description: Size of all layers of the model.
      type: int
    layers:
      description: Number of layers the pull went through.
      type: int
  sample:
    steps: ["pulling manifest", "pulling 797b70c4edf8: 100% of 46.0 MB", "verifying sha256 digest",
            "writing manifest", "success"]
    bytes_pulled: 45949216
    bytes_resumed: 0
    bytes_total: 45960996
    layers: 4
gguf_sha256:
  description: The sha256 of the O(gguf) file.
  returned: when O(gguf) is set
  type: str
  sample: 0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9
uploaded:
  description: Whether the GGUF file was uploaded (false when the server already had the blob).
  returned: when O(gguf) is set
  type: bool
  sample: true
error_kind:
  description:
    - What went wrong, for a playbook to act on.
    - V(config) (an option is wrong, or the name is not a valid model name), V(connection_refused) (the server does
      not run), V(name_resolution), V(timeout), V(tls), V(connection), V(endpoint_not_found) (O(api_base) is not an
      Ollama server's root).
    - V(unknown_model) (the registry has no such model or tag), V(registry_unreachable) (the server could not reach
      the registry; see the proxy hint in the message), V(no_space) (the server ran out of disk space),
      V(server_too_old), V(pull_failed), V(invalid_name).
    - V(digest_mismatch) (the GGUF file is not the one O(gguf_sha256) names, or it changed while uploaded),
      V(invalid_gguf) (the file is not GGUF), V(create_failed).
    - V(http) (another HTTP error), V(invalid_response).
  returned: failure
  type: str
  sample: unknown_model
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import (
    EndpointError,
    HttpClient,
    url_secrets,
)
from ansible_collections.embedops.embeddings.plugins.module_utils.ollama_api import (
    DEFAULT_API_BASE,
    GGUF_MAGIC,
    OllamaAPI,
    Progress,
    api_base_errors,
    file_sha256,
    model_facts,
    normalize_sha256,
    parse_model_name,
)

UNKNOWN_DIGEST = "(known after the pull)"


def option_errors(params):
    """What is wrong with the options, in the words of the options."""
    errors = api_base_errors(params["api_base"])
    try:
        parse_model_name(params["name"])
    except ValueError as exc:
        errors.append(str(exc))
    if params["gguf"]:
        if params["state"] != "present":
            errors.append(
                "gguf needs state=present: a model imported from a file is not pulled, so state=%s does not apply"
                % params["state"]
            )
    elif params["gguf_sha256"]:
        errors.append("gguf_sha256 checks the gguf file: set gguf too")
    if params["gguf_sha256"]:
        try:
            normalize_sha256(params["gguf_sha256"])
        except ValueError as exc:
            errors.append("gguf_sha256: %s" % exc)
    if params["timeout"] <= 0:
        errors.append("timeout must be greater than 0, got %s" % params["timeout"])
    return errors


class ModelTask:
    def __init__(self, module, api, name):
        self.module = module
        self.api = api
        self.name = name
        self.params = module.params
        self.result = dict(changed=False, name=name.display(), model=None, pull=None)
        self.warnings = []

    def state_of(self, entry):
        return {"name": self.name.display(), "state": "present" if entry else "absent",
                "digest": entry.get("digest") if entry else None}

    def finish(self, before, after):
        if self.module._diff:
            self.result["diff"] = {"before": before, "after": after}
        return self.result

    def facts(self, entry):
        return model_facts(entry, self.api.show(self.name)) if entry else None

    def absent(self):
        entry = self.api.find(self.name)
        before = self.state_of(entry)
        if entry is None:
            return self.finish(before, before)
        self.result["changed"] = True
        if not self.module.check_mode and not self.api.delete(self.name):
            self.result["changed"] = False  # gone in the meantime
        return self.finish(before, self.state_of(None))

    def pulled(self, latest):
        entry = self.api.find(self.name)
        before = self.state_of(entry)
        if entry is not None and not latest:
            self.result["model"] = self.facts(entry)
            return self.finish(before, before)
        if self.module.check_mode:
            if entry is None:
                self.result["changed"] = True
                return self.finish(before, dict(before, state="present", digest=UNKNOWN_DIGEST))
            self.warnings.append(
                "check mode cannot tell whether the registry holds a newer %s: Ollama has no way to ask without "
                "pulling, so no change is reported" % self.name.display()
            )
            self.result["model"] = self.facts(entry)
            return self.finish(before, before)
        progress = Progress()
        self.result["pull"] = progress.summary()
        try:
            self.api.pull(self.name, insecure=self.params["insecure"], progress=progress)
        finally:
            self.result["pull"] = progress.summary()
        after_entry = self.api.find(self.name)
        if after_entry is None:
            raise EndpointError(
                "invalid_response",
                "the pull of %s reported success but %s/api/tags does not list it" % (self.name, self.api.base_url),
            )
        self.result["changed"] = entry is None or entry.get("digest") != after_entry.get("digest")
        self.result["model"] = self.facts(after_entry)
        return self.finish(before, self.state_of(after_entry))

    def imported(self):
        path = self.params["gguf"]
        if not os.path.isfile(path):
            raise EndpointError(
                "config", "gguf %s is not a file on this host: copy the GGUF file there first" % path
            )
        try:
            with open(path, "rb") as handle:
                magic = handle.read(4)
        except OSError as exc:
            raise EndpointError("config", "cannot read gguf %s: %s" % (path, exc)) from exc
        if magic != GGUF_MAGIC:
            raise EndpointError(
                "invalid_gguf",
                "%s is not a GGUF file (it starts with %r, not %r): Ollama imports GGUF; convert other formats with "
                "llama.cpp's convert_hf_to_gguf.py first" % (path, magic, GGUF_MAGIC),
            )
        try:
            sha = file_sha256(path)
        except OSError as exc:
            raise EndpointError("config", "cannot read gguf %s: %s" % (path, exc)) from exc
        self.result["gguf_sha256"] = sha
        self.result["uploaded"] = False
        if self.params["gguf_sha256"] and normalize_sha256(self.params["gguf_sha256"]) != sha:
            raise EndpointError(
                "digest_mismatch",
                "%s has sha256 %s, but gguf_sha256 says %s: the file is damaged or not the one expected; copy it "
                "again" % (path, sha, normalize_sha256(self.params["gguf_sha256"])),
            )
        digest = "sha256:" + sha
        entry = self.api.find(self.name)
        before = self.state_of(entry)
        before["weights_digest"] = None
        if entry is not None:
            show = self.api.show(self.name)
            before["weights_digest"] = model_facts(entry, show)["weights_digest"]
            if before["weights_digest"] == digest:
                self.result["model"] = model_facts(entry, show)
                return self.finish(before, before)
        self.result["changed"] = True
        if self.module.check_mode:
            return self.finish(before, dict(before, state="present", digest=UNKNOWN_DIGEST, weights_digest=digest))
        if not self.api.blob_exists(digest):
            self.result["uploaded"] = self.api.upload_blob(digest, path)
        filename = os.path.basename(path)
        if not filename.lower().endswith(".gguf"):
            filename = "model.gguf"
        self.api.create(self.name, files={filename: digest})
        after_entry = self.api.find(self.name)
        if after_entry is None:
            raise EndpointError(
                "invalid_response",
                "creating %s reported success but %s/api/tags does not list it" % (self.name, self.api.base_url),
            )
        self.result["model"] = self.facts(after_entry)
        after = self.state_of(after_entry)
        after["weights_digest"] = digest
        return self.finish(before, after)

    def run(self):
        if self.params["gguf"]:
            return self.imported()
        if self.params["state"] == "absent":
            return self.absent()
        return self.pulled(latest=self.params["state"] == "latest")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            api_base=dict(type="str", default=DEFAULT_API_BASE),
            name=dict(type="str", required=True, aliases=["model"]),
            state=dict(type="str", default="present", choices=["present", "absent", "latest"]),
            gguf=dict(type="path"),
            gguf_sha256=dict(type="str"),
            insecure=dict(type="bool", default=False),
            timeout=dict(type="float", default=300),
            validate_certs=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    # A password in a URL's user:password@ part is masked in every result, the module's invocation included.
    module.no_log_values.update(url_secrets(module.params["api_base"]))
    params = module.params
    errors = option_errors(params)
    if errors:
        module.fail_json(msg="; ".join(errors), error_kind="config", name=params["name"], model=None, pull=None)

    name = parse_model_name(params["name"])
    client = HttpClient(
        params["api_base"], timeout=params["timeout"], validate_certs=params["validate_certs"], follow_redirects=False
    )
    task = ModelTask(module, OllamaAPI(client), name)
    try:
        result = task.run()
        error = None
    except EndpointError as err:
        result, error = task.result, err
    for warning in task.warnings:
        module.warn(warning)
    if error is None:
        module.exit_json(**result)
    result.pop("diff", None)
    module.fail_json(msg=error.message, error_kind=error.kind, **result)


if __name__ == "__main__":
    main()
