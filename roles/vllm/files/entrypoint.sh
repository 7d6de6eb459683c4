#!/bin/sh
# Mounted read-only into every vLLM container by embedops.embeddings.vllm.
# Secrets reach the server from files, so they appear neither in `ps` nor in `docker inspect`:
# vLLM reads its API key from VLLM_API_KEY, exported here from the mounted file.
# (The Hugging Face token needs nothing here: huggingface_hub reads HF_TOKEN_PATH itself.)
set -eu
if [ -n "${EMBEDOPS_API_KEY_FILE:-}" ]; then
  VLLM_API_KEY="$(cat "$EMBEDOPS_API_KEY_FILE")"
  export VLLM_API_KEY
fi
exec "$@"
