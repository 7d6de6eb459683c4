"""The Ollama test double run in a thread of the test process.

The double itself is tests/ollama_double/ollama_double.py, one standalone file because the embedops/ollama-double
image runs it as `ollama serve`; tests import it as `from ollama_double import ollama_double`.
"""

from ollama_double.ollama_double import OllamaDoubleServer

from doubles.server_thread import LOCALHOST, running


def serve_ollama(models_dir, registry_dir=None, host=LOCALHOST, port=0, **options):
    """The double serving models_dir (pulls from registry_dir) for the duration of a `with` block; yields the server
    (server.url). options: those of OllamaDoubleServer (pull_step_delay, embed_delay, ...)."""
    return running(OllamaDoubleServer((host, port), models_dir, registry_dir, **options))
