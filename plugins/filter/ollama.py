# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the Ollama settings: ollama_config_errors, ollama_replicas (docs: ollama_*.yml beside this)."""

from __future__ import annotations

from ansible_collections.embedops.embeddings.plugins.filter.vllm import filter_errors
from ansible_collections.embedops.embeddings.plugins.module_utils.ollama_config import config_errors, plan_replicas


class FilterModule:
    def filters(self):
        return {
            "ollama_config_errors": filter_errors(config_errors),
            "ollama_replicas": filter_errors(plan_replicas),
        }
