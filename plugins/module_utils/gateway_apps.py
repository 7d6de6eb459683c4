# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway's applications: who may call it, with which key, and how much each may take.

Pure Python (stdlib only); plugins/filter/gateway.py exposes it to the gateway and app_env roles as the filters
gateway_applications and gateway_application_errors.

``gateway_api_keys`` is a list. Each entry is an application:

  field                    default   meaning
  name                     required  the application's name: in the access log, in the limits' stick table and
                                     in the 429's message, never the key (1-64 of a-z 0-9 - _ ., from a letter
                                     or digit)
  key                      required  its bearer token (RFC 6750 characters only)
  requests_per_second      0         requests admitted per second, over a sliding second (0: no limit); over
                                     it the application gets 429 with Retry-After: 1
  max_concurrent           0         requests in flight at once (0: no limit); over it, 429 with Retry-After: 1

A plain string is still accepted: an application named ``key-<n>`` (its position, from 1) without limits, as
the collection's first releases took the list. Messages name positions and names, never a key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

FIELDS = ("name", "key", "requests_per_second", "max_concurrent")
LIMITS = ("requests_per_second", "max_concurrent")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}\Z")
# RFC 6750 b64token: what may follow "Bearer ", and nothing HAProxy's files or log-format strings interpret.
TOKEN_RE = re.compile(r"[A-Za-z0-9._~+/-]+=*\Z")
# What a vault example or a forgotten template leaves in place of a key.
PLACEHOLDER_RE = re.compile(r"(?i)(change_?me|<.*>|placeholder|todo|)\Z")
KEY_CHARACTERS_HELP = (
    "Keys may hold only letters, digits and - . _ ~ + / (then = at the end, as RFC 6750 says): no blank, line break, "
    "quote, comma or %. Generate them with `openssl rand -hex 32` (or -base64 32) and put them in the vault.")


def _entry(position: int, raw: Any) -> dict[str, Any]:
    """One entry as a dict with every field (limits as given, checked later)."""
    if isinstance(raw, str):
        return {"name": f"key-{position}", "key": raw, "requests_per_second": 0, "max_concurrent": 0}
    if isinstance(raw, Mapping):
        entry = {"requests_per_second": 0, "max_concurrent": 0}
        entry.update(raw)
        return entry
    return {}


def _limit(value: Any) -> int | None:
    """A limit as a whole number of 0 or more (an integral string or float too), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def application_errors(keys: Any) -> list[str]:
    """What is wrong with gateway_api_keys, one sentence each, naming positions and names, never a key."""
    if keys in (None, ""):
        return []
    if not isinstance(keys, list):
        return ["gateway_api_keys must be a list of applications ({name, key, requests_per_second, max_concurrent}), "
                f"not a {type(keys).__name__}."]
    errors: list[str] = []
    placeholders, bad_tokens = [], []
    names: dict[str, int] = {}
    keys_seen: dict[str, str] = {}
    count = len(keys)
    for position, raw in enumerate(keys, start=1):
        entry = _entry(position, raw)
        if not entry:
            errors.append(f"gateway_api_keys: entry {position} (of {count}) is a {type(raw).__name__}: give each "
                          "application as {name: ..., key: ...} (limits optional), or its key alone.")
            continue
        unknown = sorted(str(field) for field in entry if field not in FIELDS)
        if unknown:
            errors.append(f"gateway_api_keys: entry {position} (of {count}) has {', '.join(unknown)}, which the "
                          f"gateway does not know: an application has {', '.join(FIELDS)}. A misspelt limit "
                          "would leave the application without one.")
        name = entry.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            shown = repr(name) if isinstance(name, str) and len(name) <= 80 else "missing or not a string"
            errors.append(f"gateway_api_keys: entry {position} (of {count}) has the name {shown}: a name is 1 to 64 "
                          "of a-z 0-9 - _ . starting with a letter or digit (it appears in the access log and in "
                          "HAProxy's configuration).")
            label = f"entry {position}"
        else:
            label = f"application {name}"
            if name in names:
                errors.append(f"gateway_api_keys: entries {names[name]} and {position} are both named {name}: "
                              "give each application its own name.")
            names.setdefault(name, position)
        key = entry.get("key")
        if not isinstance(key, str) or PLACEHOLDER_RE.match(key):
            placeholders.append(position)
        elif not TOKEN_RE.match(key):
            bad_tokens.append(position)
        elif key in keys_seen:
            errors.append(f"gateway_api_keys: {keys_seen[key]} and {label} have the same key: give each "
                          "application its own (`openssl rand -hex 32`), so that the gateway can tell them apart.")
        else:
            keys_seen[key] = label
        for field in LIMITS:
            if _limit(entry.get(field)) is None:
                errors.append(f"gateway_api_keys: {label}: {field} must be a whole number, 0 or more "
                              f"(0: no limit), not {entry.get(field)!r}.")
    if placeholders:
        errors.insert(0, "gateway_api_keys holds a placeholder or an empty key: put the real keys in the vault.")
    if bad_tokens:
        errors.append(f"gateway_api_keys: key {' and '.join(map(str, bad_tokens))} (of {count}) holds characters a "
                      f"bearer token may not have. {KEY_CHARACTERS_HELP}")
    return errors


def applications(keys: Any) -> list[dict[str, Any]]:
    """gateway_api_keys as a list of {name, key, requests_per_second, max_concurrent}, limits as integers.

    Raises ValueError (the first error, never a key) when application_errors finds any."""
    errors = application_errors(keys)
    if errors:
        raise ValueError(errors[0])
    result = []
    for position, raw in enumerate(keys or [], start=1):
        entry = _entry(position, raw)
        result.append({"name": entry["name"], "key": entry["key"],
                       **{field: _limit(entry[field]) for field in LIMITS}})
    return result
