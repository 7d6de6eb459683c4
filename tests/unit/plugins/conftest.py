"""Shared by the plugin tests: the load generator's local double, and quick retries."""

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils import openai_embeddings
from doubles.loadgen_double import Double, start


@pytest.fixture
def double():
    """A running Double, its api_base set; stopped after the test."""
    fake = Double()
    fake.api_base, stop = start(fake)
    yield fake
    stop()


@pytest.fixture
def quick_retries(monkeypatch):
    """openai_embeddings.Retry pauses 0.01 s before its first retry (0.5 s otherwise), doubling from there."""
    monkeypatch.setattr(openai_embeddings.Retry, "first_delay", 0.01)
