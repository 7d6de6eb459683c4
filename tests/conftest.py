"""Make `ansible_collections.embedops.embeddings` importable from this working tree.

scripts/setup-controller.sh links the tree into .cache/collections; tests import the
collection's code by its real name, exactly as Ansible does.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
link = os.path.join(COLLECTIONS, "ansible_collections", "embedops", "embeddings")
if os.path.realpath(link) != os.path.realpath(ROOT):  # missing, or left pointing at another checkout
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.islink(link):
        os.unlink(link)
    os.symlink(ROOT, link)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
