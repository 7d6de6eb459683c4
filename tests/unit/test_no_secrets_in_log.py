"""scripts/no-secrets-in-log.py, the search of each Molecule scenario's verbose output for its secrets: it counts the
values of secret-named variables and every ansible-vault encrypted value (decrypted with the scenario's password
file), and fails when any of them appears in the log."""

import os
import subprocess
import sys

from ansible.parsing.vault import VaultLib, VaultSecret

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "scripts",
                      "no-secrets-in-log.py")
PASSWORD = b"unit-vault-password"


def scenario(tmp_path):
    """A scenario folder with a vault password file, a vaulted key and a plain one named like a secret."""
    encrypted = VaultLib([("default", VaultSecret(PASSWORD))]).encrypt("vaulted-app-key-93f1").decode()
    (tmp_path / "vault-password").write_bytes(PASSWORD + b"\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text(
        "---\nvault_app_keys:\n  search: !vault |\n" + "".join("    %s\n" % line for line in encrypted.splitlines())
        + "gateway_backend_api_key: plain-replica-key-11aa\nreference: \"{{ vault_app_keys['search'] }}\"\n")
    return tmp_path


def scan(log_text, tmp_path):
    log = tmp_path / "scenario.log"
    log.write_text(log_text)
    return subprocess.run([sys.executable, SCRIPT, str(log), str(scenario(tmp_path))], capture_output=True, text=True,
                          check=False)


def test_a_clean_log_passes_with_every_secret_counted(tmp_path):
    done = scan("TASK [gateway] ok: key=******** app=search\n", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ": 2, found in the output: 0" in done.stdout


def test_a_vaulted_value_in_the_log_fails(tmp_path):
    done = scan("Authorization: Bearer vaulted-app-key-93f1\n", tmp_path)
    assert done.returncode == 1 and "appears 1 times" in done.stdout, done.stdout + done.stderr


def test_a_plain_secret_in_the_log_fails(tmp_path):
    done = scan("--api-key plain-replica-key-11aa\n", tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
