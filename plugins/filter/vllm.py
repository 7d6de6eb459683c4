# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the vLLM settings: vllm_args, vllm_config_errors, vllm_replicas (docs: vllm_*.yml beside this)."""

from __future__ import annotations

import functools

from ansible.errors import AnsibleFilterError
from ansible_collections.embedops.embeddings.plugins.module_utils.vllm_config import (
    config_errors,
    plan_replicas,
    render_args,
)


def filter_errors(func):
    """The filter, with a ValueError from module_utils raised as AnsibleFilterError (shared by this collection's
    filter plugins)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ValueError as exc:
            raise AnsibleFilterError(str(exc)) from exc

    return wrapper


class FilterModule:
    def filters(self):
        return {
            "vllm_args": filter_errors(render_args),
            "vllm_config_errors": filter_errors(config_errors),
            "vllm_replicas": filter_errors(plan_replicas),
        }
