#!/usr/bin/python
# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_daemon_config
short_description: Merge settings into Docker's daemon.json, keeping everything others set
description:
  - Deep-merges O(settings) into the Docker daemon configuration file and removes O(remove_keys), keeping every other
    key as it is. Several tools configure the Docker engine (a Docker role, the NVIDIA Container Toolkit's
    C(nvidia-ctk), an operator by hand); each writing the whole file undoes the others (nvidia-docker#490,
    ansible-role-docker#84). This module changes only the keys it is given.
  - Dicts merge key by key, at any depth; any other value (a list, a string, a number) replaces the old value as a
    whole, so a C(registry-mirrors) list in O(settings) is the full new list.
  - Reports a change, and writes the file, only when the merged configuration differs from the file's as data;
    a file that differs only in formatting or key order is left alone. A written file is JSON indented by 2 spaces
    with keys in their existing order, new keys last.
  - Does not restart Docker; notify a handler when it reports C(changed). dockerd reads the file only when it starts.
  - An existing file that is not valid JSON, not a JSON object, or nested deeper than 100 levels, is an error naming
    the file and the position; nothing is written. An empty file counts as C({}).
  - A O(path) that is a symlink is written through and the link kept; the file it points to is replaced,
    atomically, keeping its mode and owner.
  - Read, merge and write happen under an exclusive lock (C(flock)) on a lock file next to the file, C(<file>.lock),
    so two runs of this module on one host (parallel plays, forks with C(delegate_to)) never undo each other. A
    writer that takes no lock and changes the file meanwhile is seen before the rename, and the merge is done again
    on its version.
version_added: 0.1.0
author: embedops.embeddings contributors (@embedops)
options:
  path:
    description:
      - The daemon configuration file. Created with its directory when missing.
      - A symlink is followed; the link stays and the file it points to is written.
    type: path
    default: /etc/docker/daemon.json
  settings:
    description:
      - Keys to set, deep-merged into the file.
    type: dict
    default: {}
  remove_keys:
    description:
      - Keys to remove. A nested key is a list of its path (V(["runtimes", "nvidia"])) or a string with the parts joined
        by dots (V(runtimes.nvidia)); use the list form for a key that itself contains a dot.
      - A key that is not there is no change. Removed after O(settings) is merged.
    type: list
    elements: raw
    default: []
  backup:
    description:
      - Keep a copy of the old file, with a timestamp in its name, before writing a new one.
    type: bool
    default: false
  mode:
    description:
      - Permissions of a file the module creates. An existing file keeps its own.
    type: raw
    default: "0644"
extends_documentation_fragment:
  - embedops.embeddings.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
notes:
  - Needs only the Python standard library on the host.
  - With O(settings={}) and O(remove_keys=[]) it only reads the file and returns it as RV(config), also in check mode.
  - The lock file is created only when the module writes; it stays, empty, beside the configuration file.
seealso:
  - name: Docker daemon configuration file
    description: The keys daemon.json accepts.
    link: https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file
"""

EXAMPLES = r"""
- name: Register the NVIDIA runtime and make it the default, keeping the other keys
  embedops.embeddings.docker_daemon_config:
    settings:
      runtimes:
        nvidia:
          path: nvidia-container-runtime
          args: []
      default-runtime: nvidia
    backup: true
  notify: Restart docker

- name: Log rotation for every container
  embedops.embeddings.docker_daemon_config:
    settings:
      log-driver: json-file
      log-opts:
        max-size: 10m
        max-file: "3"
  notify: Restart docker

- name: Stop making NVIDIA the default runtime
  embedops.embeddings.docker_daemon_config:
    remove_keys:
      - default-runtime
  notify: Restart docker

- name: Read the current configuration
  embedops.embeddings.docker_daemon_config:
  register: daemon_json
"""

RETURN = r"""
config:
  description: The configuration after the merge (in check mode, what it would be).
  returned: success
  type: dict
  sample: {"log-driver": "json-file", "runtimes": {"nvidia": {"path": "nvidia-container-runtime", "args": []}}}
changed_keys:
  description: Top-level keys whose value was added, changed or removed.
  returned: success
  type: list
  elements: str
  sample: ["runtimes", "default-runtime"]
path:
  description: The file, as given (a symlink stays one; the file it points to is the one written).
  returned: always
  type: str
  sample: /etc/docker/daemon.json
backup_file:
  description: The copy of the old file, when O(backup=true) and the file was changed.
  returned: changed and backup
  type: str
  sample: /etc/docker/daemon.json.12345.2026-11-26@10:00:00~
"""

import contextlib
import copy
import fcntl
import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

# daemon.json is a few levels deep; anything near Python's recursion limit is not a Docker configuration.
MAX_DEPTH = 100
# Times the merge is done again when a writer that takes no lock changed the file while it was merged.
MAX_ATTEMPTS = 5


class ConcurrentChange(Exception):
    """The file changed between reading it and replacing it."""


def deep_merge(base, changes):
    """base with changes merged in: dicts key by key at any depth, anything else replaced. Neither is modified."""
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def depth(value):
    """How deeply lists and dicts nest in value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def key_path(key):
    """A remove_keys entry as a list of parts."""
    parts = [to_native(part) for part in key] if isinstance(key, (list, tuple)) else to_native(key).split(".")
    if not parts or any(part == "" for part in parts):
        raise ValueError("remove_keys entry %r is empty or has an empty part" % (key,))
    return parts


def remove_key(config, parts):
    """Remove the key at parts from config in place; True if it was there."""
    node = config
    for part in parts[:-1]:
        node = node.get(part)
        if not isinstance(node, dict):
            return False
    if parts[-1] in node:
        del node[parts[-1]]
        return True
    return False


def read_raw(path):
    """The file's bytes; None when there is none."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def parse_config(path, raw):
    """(config dict, text) of raw, the bytes of path; ({}, None) for no file. Raises ValueError with the reason."""
    if raw is None:
        return {}, None
    text = raw.decode("utf-8")
    if not text.strip():
        return {}, text
    try:
        config = json.loads(text)
    except RecursionError:
        raise ValueError(
            "%s nests JSON arrays or objects too deeply to read (daemon.json needs a few levels): fix or remove it"
            % path
        ) from None
    except ValueError as exc:
        raise ValueError(
            "%s is not valid JSON (%s): fix or remove it; dockerd refuses to start with it too" % (path, exc)
        ) from None
    if not isinstance(config, dict):
        raise ValueError("%s holds a JSON %s, not an object of settings: fix or remove it"
                         % (path, type(config).__name__))
    if depth(config) > MAX_DEPTH:
        raise ValueError("%s nests JSON deeper than %d levels (daemon.json needs a few): fix or remove it"
                         % (path, MAX_DEPTH))
    return config, text


def read_config(path):
    """(config dict, text) of the file; ({}, None) when there is none. Raises ValueError with the reason."""
    return parse_config(path, read_raw(path))


def render(config):
    return json.dumps(config, indent=2) + "\n"


@contextlib.contextmanager
def locked(target):
    """An exclusive flock on <target>.lock, held until the block ends. Creates the directory when missing."""
    directory = os.path.dirname(target) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd = os.open(target + ".lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def write_atomically(module, target, text, mode, expected_raw, backup=False):
    """Replace target (no symlink) with text through a temporary file beside it and a rename, keeping its mode and
    owner; with backup, keep a copy of the old file first and return its name. Raises ConcurrentChange, and writes
    nothing, if target no longer holds expected_raw (None: no file)."""
    backup_file = None
    directory = os.path.dirname(target) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(prefix=".daemon.json.", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(target):
            st = os.stat(target)
            os.chmod(tmp, st.st_mode & 0o7777)
            with contextlib.suppress(OSError):  # not root: the file stays ours
                os.chown(tmp, st.st_uid, st.st_gid)
        else:
            os.chmod(tmp, mode)
        # A writer that takes no lock (nvidia-ctk, an editor) may have written since the read: merge again.
        if read_raw(target) != expected_raw:
            raise ConcurrentChange()
        if backup and expected_raw is not None:
            backup_file = module.backup_local(target)
        module.atomic_move(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return backup_file


def parse_mode(value):
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 8)
    except ValueError:
        raise ValueError("mode %r is not an octal permission such as \"0644\"" % (value,)) from None


def plan(module, path, target, paths):
    """Read target and merge: (before, old text, raw bytes, after, changed keys). Raises ValueError."""
    raw = read_raw(target)
    before, old_text = parse_config(path, raw)
    after = deep_merge(before, module.params["settings"] or {})
    for parts in paths:
        remove_key(after, parts)
    missing = object()
    changed_keys = sorted(
        key for key in set(before) | set(after) if before.get(key, missing) != after.get(key, missing)
    )
    return before, old_text, raw, after, changed_keys


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/docker/daemon.json"),
            settings=dict(type="dict", default={}),
            remove_keys=dict(type="list", elements="raw", default=[], no_log=False),
            backup=dict(type="bool", default=False),
            mode=dict(type="raw", default="0644"),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    # A symlink is written through: the file it points to is read, locked and replaced; the link stays.
    target = os.path.realpath(path)
    result = dict(changed=False, path=path)

    def attempt():
        try:
            return plan(module, path, target, paths)
        except (ValueError, UnicodeDecodeError) as exc:
            module.fail_json(msg=to_native(exc), **result)
        except OSError as exc:
            module.fail_json(msg="cannot read %s: %s" % (path, to_native(exc)), **result)
        return None  # not reached

    try:
        mode = parse_mode(module.params["mode"])
        paths = [key_path(key) for key in module.params["remove_keys"]]
        if depth(module.params["settings"] or {}) > MAX_DEPTH:
            raise ValueError("settings nest deeper than %d levels: daemon.json needs a few" % MAX_DEPTH)
    except ValueError as exc:
        module.fail_json(msg=to_native(exc), **result)

    # Read without the lock first: check mode, and a run that changes nothing, leave no lock file behind.
    before, old_text, raw, after, changed_keys = attempt()
    if before != after and not module.check_mode:
        try:
            with locked(target):
                for _attempt in range(MAX_ATTEMPTS):
                    before, old_text, raw, after, changed_keys = attempt()
                    if before == after:
                        break
                    try:
                        backup_file = write_atomically(module, target, render(after), mode, raw,
                                                       module.params["backup"])
                        if backup_file:
                            result["backup_file"] = backup_file
                        break
                    except ConcurrentChange:
                        continue
                else:
                    module.fail_json(
                        msg="%s kept changing while it was merged (%d tries): another tool is rewriting it; stop it "
                            "or run again" % (path, MAX_ATTEMPTS), **result)
        except OSError as exc:
            module.fail_json(msg="cannot write %s: %s" % (path, to_native(exc)), **result)

    changed = before != after
    result.update(config=after, changed_keys=changed_keys, changed=changed)
    if changed and module._diff:
        result["diff"] = dict(
            before=render(before) if old_text is not None else "",
            after=render(after),
            before_header=path,
            after_header=path,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
