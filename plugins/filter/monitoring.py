# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring role's scrape targets: previous_targets, endpoint_targets, replica_targets (docs: the .yml files
beside this)."""

from __future__ import annotations

from ansible_collections.embedops.embeddings.plugins.module_utils.monitoring_targets import (
    endpoint_targets,
    previous_targets,
    replica_targets,
)


class FilterModule:
    def filters(self):
        return {
            "previous_targets": previous_targets,
            "endpoint_targets": endpoint_targets,
            "replica_targets": replica_targets,
        }
