# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway's applications: names, keys and limits as the role and app_env read them; every refusal in words
that name the entry, never its key."""

from __future__ import annotations

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils.gateway_apps import application_errors, applications


def test_applications_get_every_field_and_plain_keys_stay_accepted():
    apps = applications([
        {"name": "search", "key": "k-search-0001", "requests_per_second": "20", "max_concurrent": 4},
        "k-legacy-0002",
        {"name": "batch", "key": "k-batch-0003", "requests_per_second": 5.0},
    ])
    assert apps == [
        {"name": "search", "key": "k-search-0001", "requests_per_second": 20, "max_concurrent": 4},
        {"name": "key-2", "key": "k-legacy-0002", "requests_per_second": 0, "max_concurrent": 0},
        {"name": "batch", "key": "k-batch-0003", "requests_per_second": 5, "max_concurrent": 0},
    ]


@pytest.mark.parametrize("keys", [[], None, ""])
def test_no_application_is_no_error(keys):
    assert application_errors(keys) == []
    assert applications(keys) == []


@pytest.mark.parametrize("keys, expected", [
    ([{"name": "a", "key": "CHANGE_ME"}], "gateway_api_keys holds a placeholder or an empty key"),
    ([{"name": "a"}], "gateway_api_keys holds a placeholder or an empty key"),
    (["ok-key-1", "bad key"], "gateway_api_keys: key 2 (of 2) holds characters a bearer token may not have."),
    (["k%[env(HOME)]"], "key 1 (of 1) holds characters"),
    ([{"name": "a", "key": "same-key-1"}, {"name": "b", "key": "same-key-1"}],
     "gateway_api_keys: application a and application b have the same key"),
    ([{"name": "a", "key": "k-1"}, {"name": "a", "key": "k-2"}],
     "gateway_api_keys: entries 1 and 2 are both named a"),
    ([{"name": "Search App", "key": "k-1"}], "entry 1 (of 1) has the name 'Search App'"),
    ([{"name": "a\nb", "key": "k-1"}], "entry 1 (of 1) has the name"),
    ([{"key": "k-1"}], "entry 1 (of 1) has the name missing or not a string"),
    ([{"name": "a", "key": "k-1", "rps": 3}], "entry 1 (of 1) has rps, which the gateway does not know"),
    ([{"name": "a", "key": "k-1", "requests_per_second": -1}],
     "application a: requests_per_second must be a whole number, 0 or more (0: no limit), not -1."),
    ([{"name": "a", "key": "k-1", "max_concurrent": 2.5}], "application a: max_concurrent must be a whole number"),
    ([{"name": "a", "key": "k-1", "max_concurrent": True}], "application a: max_concurrent must be a whole number"),
    ([42], "entry 1 (of 1) is a int"),
    ({"search": "k-1"}, "gateway_api_keys must be a list of applications"),
])
def test_what_cannot_work_is_refused_in_words_without_the_key(keys, expected):
    errors = application_errors(keys)
    assert any(expected in error for error in errors), errors
    secrets = [entry if isinstance(entry, str) else entry.get("key")
               for entry in keys if isinstance(entry, (str, dict))]
    for secret in secrets:
        if secret and secret != "CHANGE_ME":
            assert not any(secret in error for error in errors), errors
    with pytest.raises(ValueError):
        applications(keys)
