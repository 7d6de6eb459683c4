# The two commands of the README, and their parts.
SHELL := /bin/bash
.PHONY: deploy test setup lint unit clean

deploy:  ## set up everything and deploy the local inventory on this machine
	bash scripts/deploy-local.sh

test:    ## run every test: lint, build, unit, Molecule
	bash scripts/test.sh

setup:   ## the controller venv only
	bash scripts/setup-controller.sh

lint: setup
	. scripts/lib.sh && activate_venv && yamllint --strict . && ruff check . && mypy && ansible-lint --offline
	bash scripts/sanity.sh pep8 pylint  # the style rules ruff does not check

unit: setup
	. scripts/lib.sh && activate_venv && pytest -n 2 tests/unit tests/integration

clean:   ## remove what the tests and benchmarks left in .cache (the venv, images and the deployment stay)
	rm -rf .cache/sanity .cache/bench-results .cache/benchmark .pytest_cache
