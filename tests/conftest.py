"""Make `ansible_collections.embedops.embeddings` and the test-support package `doubles` importable.

scripts/setup-controller.sh links the tree into .cache/collections; tests import the
collection's code by its real name, exactly as Ansible does. tests/ itself goes on the path
too, once, here: the test doubles and helpers are the package `doubles` (tests/doubles/),
the Ollama double's program is `ollama_double.ollama_double`.
"""

import os
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
link = os.path.join(COLLECTIONS, "ansible_collections", "embedops", "embeddings")
if os.path.realpath(link) != os.path.realpath(ROOT):  # missing, or left pointing at another checkout
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.islink(link):
        os.unlink(link)
    os.symlink(ROOT, link)
for path in (TESTS, COLLECTIONS):
    if path not in sys.path:
        sys.path.insert(0, path)


@pytest.fixture
def no_proxy(monkeypatch):
    """Requests to 127.0.0.1 go straight to a double, whatever proxy this machine sets."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
