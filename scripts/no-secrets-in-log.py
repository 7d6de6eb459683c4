"""Fail when a secret used by a Molecule scenario appears in that scenario's output.

Usage: python scripts/no-secrets-in-log.py LOG SCENARIO_DIR
The secrets are the values of variables named like a secret (…api_key, …api_keys, …token,
…password, …secret, …webhook_url, and the key of each application in gateway_api_keys) in the scenario's YAML files
(host_vars, group_vars, molecule.yml), and every value encrypted with ansible-vault there (`!vault`), decrypted with
the scenario's password file (vault-password), as its playbooks read them.
"""

import pathlib
import re
import sys

import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

SECRET_NAME = re.compile(r"(^key|api_keys?|token|password|secret|webhook_url)$")


def secrets(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and SECRET_NAME.search(key):
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str) and len(item) >= 8 and "{{" not in item:
                        yield item
            yield from secrets(value)
    elif isinstance(node, list):
        for item in node:
            yield from secrets(item)


def vault_loader(scenario_dir, values):
    """A YAML loader that decrypts `!vault` values with the scenario's password file and counts each as a secret."""
    password = pathlib.Path(scenario_dir) / "vault-password"

    class Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        pass

    vault = VaultLib([("default", VaultSecret(password.read_bytes().strip()))]) if password.exists() else None

    def decrypt(loader, node):
        if vault is None:
            sys.exit("%s holds ansible-vault values, and there is no %s to read them" % (scenario_dir, password))
        value = vault.decrypt(loader.construct_scalar(node)).decode()
        values.add(value)
        return value

    Loader.add_constructor("!vault", decrypt)
    return Loader


def main(log_path, scenario_dir):
    values = set()
    loader = vault_loader(scenario_dir, values)
    for path in pathlib.Path(scenario_dir).rglob("*.yml"):
        for doc in yaml.load_all(path.read_text(), Loader=loader):  # noqa: S506 - SafeLoader plus !vault
            values.update(secrets(doc))
    log = pathlib.Path(log_path).read_text(errors="replace")
    hits = {value: log.count(value) for value in values if value in log}
    print("secrets checked in %s: %d, found in the output: %d" % (log_path, len(values), sum(hits.values())))
    for value, count in hits.items():
        print("  a secret of %s (%s…) appears %d times" % (scenario_dir, value[:4], count))
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
