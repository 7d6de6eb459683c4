"""The load generator's local double, shared by the loadgen and embeddings_benchmark tests."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "module_utils"))
from loadgen_double import Double, start  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def double():
    """A running Double, its api_base set; stopped after the test."""
    fake = Double()
    fake.api_base, stop = start(fake)
    yield fake
    stop()
