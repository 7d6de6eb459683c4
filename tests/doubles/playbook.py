"""A playbook run on localhost with ansible-playbook against this working tree's collection, its results as JSON."""

import importlib
import json
import os
import subprocess
import sys


def collections_path():
    """The collections path the tests import embedops.embeddings from (.cache/collections: see tests/conftest.py)."""
    package = importlib.import_module("ansible_collections.embedops.embeddings")
    return next(iter(package.__path__)).split(os.sep + "ansible_collections" + os.sep, maxsplit=1)[0]


def ansible_env(**settings):
    """os.environ for ansible-playbook in a test, with `settings` on top: this tree's collection first on the
    collections path, then whatever the environment adds (scripts/version-matrix.sh: the collections the controller
    venv holds, for an ansible-core installed without them)."""
    paths = [collections_path()] + [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(dict.fromkeys(paths)), **settings)


def run_playbook(tmp_path, playbook, extra_vars, expect_rc=0):
    """Run `playbook` (its text) on localhost with `extra_vars`; the results of its first play's tasks, in order.

    ansible-playbook must exit with expect_rc; the json callback prints the results.
    """
    path = tmp_path / "playbook.yml"
    path.write_text(playbook)
    extra_file = tmp_path / "vars.json"
    extra_file.write_text(json.dumps(extra_vars))
    env = ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOCALHOST_WARNING="false",
                      ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    run = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", str(path),
         "-e", "@%s" % extra_file],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    assert run.returncode == expect_rc, run.stdout + run.stderr
    return [task["hosts"]["localhost"] for task in json.loads(run.stdout)["plays"][0]["tasks"]]
