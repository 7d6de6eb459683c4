"""The reference-vector files the tests read: the committed mean-pooled reference and the CLS-pooled fixture.

Both are real all-MiniLM-L6-v2 vectors from scripts/make-reference-vectors.py (not a double; kept here, in the
package the tests already import, so that the paths and names are written once).
"""

import json
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MEAN_FILE = os.path.join(ROOT, "roles", "vllm", "files", "reference_vectors",
                         "sentence-transformers--all-MiniLM-L6-v2.json")
CLS_FILE = os.path.join(ROOT, "tests", "unit", "fixtures", "reference_vectors", "all-MiniLM-L6-v2-cls.json")
MODEL = "sentence-transformers/all-MiniLM-L6-v2"  # what the reference was made from
SERVED = "all-minilm-l6-v2"  # the name the local deployment serves it under


def load(path):
    with open(path) as handle:
        return json.load(handle)
