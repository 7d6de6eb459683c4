# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that build endpoint URLs and listen addresses: endpoint_url, advertise_host, url_host, listen_address
(docs: the .yml files beside this)."""

from __future__ import annotations

from ansible_collections.embedops.embeddings.plugins.filter.vllm import filter_errors
from ansible_collections.embedops.embeddings.plugins.module_utils.endpoints import (
    advertise_host,
    endpoint_url,
    listen_address,
    url_host,
)


class FilterModule:
    def filters(self):
        return {
            "endpoint_url": filter_errors(endpoint_url),
            "advertise_host": filter_errors(advertise_host),
            "url_host": url_host,
            "listen_address": filter_errors(listen_address),
        }
