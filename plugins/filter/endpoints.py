# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that build endpoint URLs: endpoint_url, advertise_host, url_host (docs: the .yml files beside this)."""

from __future__ import annotations

import functools

from ansible.errors import AnsibleFilterError
from ansible_collections.embedops.embeddings.plugins.module_utils.endpoints import (
    advertise_host,
    endpoint_url,
    url_host,
)


def _filter(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ValueError as exc:
            raise AnsibleFilterError(str(exc)) from exc

    return wrapper


class FilterModule:
    def filters(self):
        return {"endpoint_url": _filter(endpoint_url), "advertise_host": _filter(advertise_host), "url_host": url_host}
