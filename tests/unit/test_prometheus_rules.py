"""The monitoring role's Prometheus files, checked with Debian's real promtool (2.42).

The role itself renders prometheus.yml and the rule files (its `config` entry point, no container) from a
small inventory that publishes what the vllm and gateway roles publish (the service contract
`embedops_service`), with the role's defaults. Then:
`promtool check config` (which checks the rule files too), `promtool check rules`, and
`promtool test rules` on every unit test in tests/unit/prometheus/ (one per alert, plus the recording
rules). Every alert must be tested both firing and not firing, and a test must fail when a threshold moves.

promtool comes from scripts/setup-promtool.sh (run by scripts/setup-controller.sh) or $PROMTOOL.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS = os.path.join(ROOT, "tests", "unit", "prometheus")
TEST_FILES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(TESTS, "*.test.yml")))

INVENTORY = """
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  children:
    embedding_hosts:
      hosts:
        emb1:
          embedops_service:
            version: 1
            backend: vllm
            model: all-minilm-l6-v2
            replicas:
              - {name: embedops-vllm-0, port: 8000, published_address: "10.0.0.1:8000"}
              - {name: embedops-vllm-1, port: 8001, published_address: "10.0.0.1:8001"}
          monitoring_node_exporter_endpoint: http://10.0.0.1:9100/metrics
        emb2:
          embedops_service:
            version: 1
            backend: vllm
            model: bge-m3
            replicas:
              - {name: embedops-vllm-0, port: 8000, published_address: "10.0.0.2:8000"}
          monitoring_dcgm_exporter_endpoint: http://10.0.0.2:9400/metrics
        ollama1:
          embedops_service:
            version: 1
            backend: ollama
            model: all-minilm
            replicas:
              - {name: embedops-ollama-0, port: 11434, published_address: "10.0.0.3:11434"}
    gateway_hosts:
      hosts:
        gw1:
          gateway_metrics_endpoint: http://10.0.0.9:8405/metrics
        gw2:
          gateway_metrics_endpoint: ""
        gw3:  # the gateway role did not run here in this run (site.yml --limit)
    monitoring_hosts:
      hosts:
        mon1:
"""

PLAY = """
- name: Render the monitoring role's files
  hosts: monitoring_hosts
  gather_facts: false
  tasks:
    - name: Prometheus configuration and rules, no container
      ansible.builtin.include_role:
        name: embedops.embeddings.monitoring
        tasks_from: config
      vars:
        monitoring_config_dir: "%(config_dir)s"
        monitoring_extra_targets:
          - {job: embedops-vllm, targets: ["10.0.0.7:8000"], labels: {model: bge-m3, replica: outside, host: gpu7}}
          - {job: blackbox, targets: ["127.0.0.1:9115"], metrics_path: /probe}
"""


def promtool():
    path = os.environ.get("PROMTOOL") or os.path.join(ROOT, ".cache", "prometheus", "usr", "bin", "promtool")
    if not os.access(path, os.X_OK):
        pytest.fail("no promtool at %s: run `bash scripts/setup-promtool.sh` (Debian's, unpacked into .cache), "
                    "or set PROMTOOL to a promtool 2.42" % path)
    return path


def run_promtool(*args, cwd):
    return subprocess.run([promtool(), *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False)


def render(work, *extra_vars):
    """The role's config entry point into work/config, with these -e arguments: the finished run."""
    (work / "hosts.yml").write_text(INVENTORY)
    (work / "render.yml").write_text(PLAY % {"config_dir": work / "config"})
    extra = [arg for value in extra_vars for arg in ("-e", value)]
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(work / "hosts.yml"),
         str(work / "render.yml"), *extra],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
        env=dict(os.environ, ANSIBLE_NOCOLOR="1"))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The folder the role rendered: prometheus.yml and rules/."""
    work = tmp_path_factory.mktemp("monitoring")
    run = render(work)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-3000:]
    assert not (work / "config" / "alertmanager.yml").exists()  # Alertmanager is off by default
    return work / "config"


WEBHOOK = "https://alerts.example.internal/hooks/unit-webhook-token-41c7"


def test_alertmanager_on_gets_the_alerts_and_keeps_its_webhook_url_to_root(tmp_path):
    run = render(tmp_path, "monitoring_alertmanager=true", "monitoring_alertmanager_webhook_url=" + WEBHOOK,
                 "monitoring_alertmanager_port=9193")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-3000:]
    config = load(tmp_path / "config" / "prometheus.yml")
    assert config["alerting"] == {"alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:9193"]}]}]}
    manager = tmp_path / "config" / "alertmanager.yml"
    assert oct(manager.stat().st_mode & 0o777) == "0o600" and manager.stat().st_uid == 0
    receivers = load(manager)["receivers"]
    assert receivers == [{"name": "webhook", "webhook_configs": [{"url": WEBHOOK, "send_resolved": True}]}]
    assert WEBHOOK not in run.stdout + run.stderr  # no_log in the argument spec: masked wherever it would show
    check = run_promtool("check", "config", str(tmp_path / "config" / "prometheus.yml"), cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr


def test_alertmanager_on_without_a_webhook_url_is_refused_before_any_file(tmp_path):
    run = render(tmp_path, "monitoring_alertmanager=true")
    assert run.returncode != 0
    assert "monitoring_alertmanager_webhook_url is empty" in run.stdout, run.stdout[-3000:]
    assert not (tmp_path / "config").exists()


def load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def test_targets_come_from_the_published_facts(rendered):
    config = load(rendered / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "embedops-vllm", "embedops-gateway", "node", "dcgm", "blackbox"}
    vllm = [(c["targets"], c["labels"]) for c in jobs["embedops-vllm"]["static_configs"]]
    assert vllm == [
        (["10.0.0.1:8000"], {"model": "all-minilm-l6-v2", "replica": "embedops-vllm-0", "host": "emb1"}),
        (["10.0.0.1:8001"], {"model": "all-minilm-l6-v2", "replica": "embedops-vllm-1", "host": "emb1"}),
        (["10.0.0.2:8000"], {"model": "bge-m3", "replica": "embedops-vllm-0", "host": "emb2"}),
        (["10.0.0.7:8000"], {"model": "bge-m3", "replica": "outside", "host": "gpu7"}),
    ]
    # gw2 has its metrics off; Ollama has no /metrics.
    assert [c["targets"] for c in jobs["embedops-gateway"]["static_configs"]] == [["10.0.0.9:8405"]]
    assert [c["targets"] for c in jobs["node"]["static_configs"]] == [["10.0.0.1:9100"]]
    # The GPU host's DCGM exporter (its dcgm_exporter entry point), labelled with the host as the GPU rules read it.
    dcgm = [(c["targets"], c["labels"]) for c in jobs["dcgm"]["static_configs"]]
    assert dcgm == [(["10.0.0.2:9400"], {"host": "emb2"})]
    assert jobs["blackbox"]["metrics_path"] == "/probe"
    assert jobs["prometheus"]["static_configs"] == [{"targets": ["127.0.0.1:9090"]}]
    assert config["rule_files"] == [str(rendered / "rules" / name)
                                    for name in ("embeddings-recording.yml", "embeddings-alerts.yml")]


def test_a_host_this_run_does_not_know_keeps_the_targets_the_last_run_gave_it(tmp_path):
    """A rolling update with --limit must not stop the scraping of the other hosts: gw3 published nothing in this
    run, so it keeps its target from the prometheus.yml already there; a host gone from the inventory is dropped."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "prometheus.yml").write_text(yaml.safe_dump({"scrape_configs": [
        {"job_name": "embedops-gateway", "static_configs": [
            {"targets": ["10.0.0.9:8405"], "labels": {"host": "gw1"}},
            {"targets": ["10.0.0.13:8405"], "labels": {"host": "gw3"}},
            {"targets": ["10.0.0.99:8405"], "labels": {"host": "gone9"}}]}]}))
    run = render(tmp_path)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-3000:]
    jobs = {job["job_name"]: job for job in load(tmp_path / "config" / "prometheus.yml")["scrape_configs"]}
    assert [(c["targets"], c["labels"]) for c in jobs["embedops-gateway"]["static_configs"]] == [
        (["10.0.0.9:8405"], {"host": "gw1"}), (["10.0.0.13:8405"], {"host": "gw3"})]
    assert "No endpoints published in this run by gw3" in run.stdout, run.stdout[-3000:]


def test_promtool_checks_the_config_and_its_rule_files(rendered):
    run = run_promtool("check", "config", str(rendered / "prometheus.yml"), cwd=rendered)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS: 2 rule files found" in run.stdout + run.stderr, run.stdout + run.stderr


def test_promtool_checks_the_rules(rendered):
    rules = sorted(glob.glob(str(rendered / "rules" / "*.yml")))
    run = run_promtool("check", "rules", *rules, cwd=rendered)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("test_file", TEST_FILES)
def test_promtool_unit_test(rendered, test_file):
    shutil.copy(os.path.join(TESTS, test_file), rendered / test_file)
    run = run_promtool("test", "rules", test_file, cwd=rendered)
    assert run.returncode == 0, run.stdout + run.stderr


def alert_rules(rendered):
    return [rule for group in load(rendered / "rules" / "embeddings-alerts.yml")["groups"] for rule in group["rules"]]


def test_every_alert_rule_is_tested_firing_and_quiet(rendered):
    """Each alert rule (name, source, burn) fires in some test, and each alert name is checked quiet somewhere."""
    firing, quiet = set(), set()
    for test_file in TEST_FILES:
        for case in load(os.path.join(TESTS, test_file))["tests"]:
            for check in case.get("alert_rule_test", []):
                if not check.get("exp_alerts"):
                    quiet.add(check["alertname"])
                for alert in check.get("exp_alerts") or []:
                    labels = alert["exp_labels"]
                    firing.add((check["alertname"], labels.get("source"), labels.get("burn")))
    rules = {(r["alert"], r["labels"].get("source"), r["labels"].get("burn")) for r in alert_rules(rendered)}
    names = {rule[0] for rule in rules}
    assert rules - firing == set(), "alert rules no test sees firing"
    assert names - quiet == set(), "alerts no test checks quiet"
    assert len(TEST_FILES) >= len(names) + 2  # a file per alert, and two for the recording rules (GPU's apart)


def test_a_moved_threshold_fails_its_test(rendered, tmp_path):
    """The unit tests bite: with the 5xx threshold at 50% instead of 5%, the error-ratio test fails."""
    shutil.copytree(rendered / "rules", tmp_path / "rules")
    alerts = tmp_path / "rules" / "embeddings-alerts.yml"
    text = alerts.read_text()
    assert text.count("errors:ratio_rate5m > 0.05") == 2
    alerts.write_text(text.replace("errors:ratio_rate5m > 0.05", "errors:ratio_rate5m > 0.5"))
    shutil.copy(os.path.join(TESTS, "error_ratio.test.yml"), tmp_path)
    run = run_promtool("test", "rules", "error_ratio.test.yml", cwd=tmp_path)
    assert run.returncode != 0, run.stdout + run.stderr
    assert "EmbeddingErrorRatioHigh" in run.stdout + run.stderr


def test_the_dashboard_reads_only_what_the_rules_record(rendered):
    """Every recorded name (level:metric:operation) a dashboard panel asks for is one the role records; the
    dashboard file is what scripts/make-dashboard.py writes. (Molecule runs each query against live data.)"""
    recorded = {rule["record"] for group in load(rendered / "rules" / "embeddings-recording.yml")["groups"]
                for rule in group["rules"] if "record" in rule}
    with open(os.path.join(ROOT, "roles", "monitoring", "files", "dashboards", "embeddings.json")) as handle:
        dashboard = json.load(handle)
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(exprs) >= 10
    used = {name for expr in exprs for name in re.findall(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", expr)}
    assert used and used - recorded == set(), "panels ask for names no rule records"
    check = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make-dashboard.py"), "--check"],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
