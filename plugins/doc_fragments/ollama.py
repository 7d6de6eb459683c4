# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The option every module that talks to Ollama's own API shares."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  api_base:
    description:
      - Root URL of the Ollama server's API, without C(/v1).
      - Must start with V(http://) or V(https://).
    type: str
    default: http://127.0.0.1:11434
"""
