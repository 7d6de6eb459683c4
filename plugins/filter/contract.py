# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the service contract: service_contract (docs: the .yml files beside this)."""

from __future__ import annotations

from ansible_collections.embedops.embeddings.plugins.filter.vllm import filter_errors
from ansible_collections.embedops.embeddings.plugins.module_utils.contract import service_contract


class FilterModule:
    def filters(self):
        return {
            "service_contract": filter_errors(service_contract),
        }
