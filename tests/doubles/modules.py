"""The collection's modules run in the test process, as Ansible runs them: written once, for every module test."""

import collections
import json

import pytest
from ansible.module_utils.common.parameters import PASS_VARS
from ansible.module_utils.testing import patch_module_args

ModuleRun = collections.namedtuple("ModuleRun", "rc result output")
ModuleRun.__doc__ = "rc: the exit code; result: the module's JSON result; output: all it wrote, stdout then stderr."


def run_module(capsys, main, args=None, check=False, diff=False):
    """Run a module's main() with `args` as Ansible passes them (check and diff mode on request); returns ModuleRun.

    exit_json and fail_json end main() with SystemExit: its code must say what the result says (failed or not), and
    stdout must be the result and nothing else.
    """
    args = dict(args or {})
    # ansible-core 2.21 adds a result's `invocation` (the arguments, no_log values masked) only when asked; before
    # it, every result had one and the option did not exist.
    if "inject_invocation" not in PASS_VARS:
        args.pop("_ansible_inject_invocation", None)
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    capsys.readouterr()
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert bool(exit_info.value.code) == bool(result.get("failed")), out
    return ModuleRun(exit_info.value.code, result, out + err)
