# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter vllm_tune: vLLM engine flags from the host's hardware and the model's size (docs: vllm_tune.yml beside it)."""

from __future__ import annotations

from ansible_collections.embedops.embeddings.plugins.module_utils.vllm_tuning import tune


def vllm_tune(settings, gpus=None, model_params=None, model_weight_bytes=None, model_hidden_size=None,
              model_context=None, model_kv_bytes_per_token=None, cpu=None, typical_input_tokens=None,
              multi_api_server=False):
    return tune(
        settings, gpus, model_params=model_params, model_weight_bytes=model_weight_bytes,
        model_hidden_size=model_hidden_size, model_context=model_context,
        model_kv_bytes_per_token=model_kv_bytes_per_token, cpu=cpu, typical_input_tokens=typical_input_tokens,
        multi_api_server=multi_api_server,
    )


class FilterModule:
    def filters(self):
        return {"vllm_tune": vllm_tune}
