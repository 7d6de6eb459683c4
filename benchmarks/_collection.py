"""Make `ansible_collections.embedops.embeddings` importable from this working tree (as tests/conftest.py does).

The benchmark scripts import the collection's module_utils by their real names, exactly as Ansible does.
Run them with the controller venv's Python (.venv/bin/python): they need ansible-core and aiohttp.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.environ.get("EMBEDOPS_COLLECTIONS", os.path.join(ROOT, ".cache", "collections"))
_link = os.path.join(COLLECTIONS, "ansible_collections", "embedops", "embeddings")
if not os.path.exists(_link):
    os.makedirs(os.path.dirname(_link), exist_ok=True)
    os.symlink(ROOT, _link)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
