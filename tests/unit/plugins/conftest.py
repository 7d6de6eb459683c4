"""Shared by the plugin tests: the load generator's local double, and running a module's main()."""

import json
import os
import sys

import pytest
from ansible.module_utils.testing import patch_module_args

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "module_utils"))
sys.path.insert(0, os.path.join(HERE, "..", ".."))  # tests/: the test doubles as the package `doubles`
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


@pytest.fixture
def no_proxy(monkeypatch):
    """Requests to 127.0.0.1 go straight to a double, whatever proxy this machine sets."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
