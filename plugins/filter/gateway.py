# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the gateway's settings: gateway_applications, gateway_application_errors, gateway_pools,
gateway_vrrp (docs: gateway_*.yml beside this)."""

from __future__ import annotations

from ansible_collections.embedops.embeddings.plugins.filter.vllm import filter_errors
from ansible_collections.embedops.embeddings.plugins.module_utils.gateway_apps import application_errors, applications
from ansible_collections.embedops.embeddings.plugins.module_utils.gateway_pools import plan_pools
from ansible_collections.embedops.embeddings.plugins.module_utils.gateway_vip import vrrp_plan


class FilterModule:
    def filters(self):
        return {
            "gateway_applications": filter_errors(applications),
            "gateway_application_errors": filter_errors(application_errors),
            "gateway_pools": filter_errors(plan_pools),
            "gateway_vrrp": filter_errors(vrrp_plan),
        }
