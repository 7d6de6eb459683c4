"""Shared by the plugin tests: the load generator's local double, and running a module's main()."""

import json
import os
import sys

import pytest
from ansible.module_utils.testing import patch_module_args

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "module_utils"))
from loadgen_double import Double, start  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def double():
    """A running Double, its api_base set; stopped after the test."""
    fake = Double()
    fake.api_base, stop = start(fake)
    yield fake
    stop()


@pytest.fixture
def run_main(capsys):
    """run_main(main, args, check=False, diff=False) -> (exit code, the module's JSON result), as Ansible runs it."""
    def run(main, args=None, check=False, diff=False):
        args = dict(args or {})
        if check:
            args["_ansible_check_mode"] = True
        if diff:
            args["_ansible_diff"] = True
        capsys.readouterr()
        with patch_module_args(args), pytest.raises(SystemExit) as exc:
            main()
        return exc.value.code, json.loads(capsys.readouterr().out)
    return run
