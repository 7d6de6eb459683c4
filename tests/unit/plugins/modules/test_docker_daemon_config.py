"""docker_daemon_config through main(): merges keys into daemon.json and keeps everyone else's."""

import fcntl
import io
import json
import os
import stat
import threading

import pytest
from ansible_collections.embedops.embeddings.plugins.modules import docker_daemon_config as ddc
from doubles.modules import run_module

NVIDIA = {"runtimes": {"nvidia": {"path": "nvidia-container-runtime", "args": []}}}
BY_HAND = {
    "log-driver": "json-file",
    "log-opts": {"max-size": "10m", "max-file": "3"},
    "registry-mirrors": ["https://mirror.example.internal"],
    "runtimes": {"crun": {"path": "/usr/bin/crun"}},
}


@pytest.fixture
def daemon_json(tmp_path):
    path = tmp_path / "docker" / "daemon.json"
    path.parent.mkdir()
    path.write_text(json.dumps(BY_HAND, indent=4))
    path.chmod(0o600)
    return path


def test_merge_keeps_keys_set_by_hand(capsys, daemon_json):
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(daemon_json), "settings": NVIDIA})
    assert rc == 0 and result["changed"] is True
    assert result["changed_keys"] == ["runtimes"]
    written = json.loads(daemon_json.read_text())
    assert written == dict(BY_HAND, runtimes={"crun": {"path": "/usr/bin/crun"},
                                              "nvidia": {"path": "nvidia-container-runtime", "args": []}})
    assert list(written) == ["log-driver", "log-opts", "registry-mirrors", "runtimes"]  # order kept
    assert stat.S_IMODE(daemon_json.stat().st_mode) == 0o600  # an existing file keeps its mode
    assert result["config"] == written


def test_second_run_changes_nothing_and_does_not_rewrite(capsys, daemon_json):
    run_module(capsys, ddc.main, {"path": str(daemon_json), "settings": NVIDIA})
    before = os.stat(str(daemon_json))
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(daemon_json), "settings": NVIDIA})
    assert rc == 0 and result["changed"] is False and result["changed_keys"] == []
    assert os.stat(str(daemon_json)).st_ino == before.st_ino


def test_formatting_alone_is_no_change(capsys, daemon_json):
    daemon_json.write_text(json.dumps(dict(BY_HAND, **NVIDIA), separators=(",", ":"), sort_keys=True))
    text = daemon_json.read_text()
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(daemon_json), "settings": NVIDIA})
    assert result["changed"] is False and daemon_json.read_text() == text


def test_check_mode_and_diff_write_nothing(capsys, daemon_json):
    text = daemon_json.read_text()
    rc, result, _output = run_module(
        capsys, ddc.main, {"path": str(daemon_json), "settings": {"default-runtime": "nvidia"}}, check=True, diff=True)
    assert rc == 0 and result["changed"] is True
    assert daemon_json.read_text() == text
    assert '"default-runtime": "nvidia"' in result["diff"]["after"]
    assert '"default-runtime"' not in result["diff"]["before"]
    assert result["diff"]["before_header"] == str(daemon_json)


def test_lists_are_replaced_not_appended(capsys, daemon_json):
    run_module(capsys, ddc.main, {"path": str(daemon_json), "settings": {"registry-mirrors": ["https://other.example"]}})
    assert json.loads(daemon_json.read_text())["registry-mirrors"] == ["https://other.example"]


def test_nested_dicts_merge_at_any_depth(capsys, daemon_json):
    run_module(capsys, ddc.main, {"path": str(daemon_json), "settings": {"log-opts": {"max-size": "50m"}}})
    assert json.loads(daemon_json.read_text())["log-opts"] == {"max-size": "50m", "max-file": "3"}


def test_remove_keys_dotted_and_list_forms(capsys, daemon_json):
    run_module(capsys, ddc.main, {"path": str(daemon_json), "settings": dict(NVIDIA, **{"default-runtime": "nvidia"})})
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(daemon_json),
                                     "remove_keys": ["default-runtime", ["runtimes", "crun"], "log-opts.max-file",
                                                     "not.there"]})
    assert rc == 0 and result["changed"] is True
    assert sorted(result["changed_keys"]) == ["default-runtime", "log-opts", "runtimes"]
    written = json.loads(daemon_json.read_text())
    assert "default-runtime" not in written and list(written["runtimes"]) == ["nvidia"]
    assert written["log-opts"] == {"max-size": "10m"}
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(daemon_json), "remove_keys": ["default-runtime"]})
    assert result["changed"] is False


def test_missing_file_and_directory_are_created(capsys, tmp_path):
    path = tmp_path / "etc" / "docker" / "daemon.json"
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(path), "settings": NVIDIA})
    assert rc == 0 and result["changed"] is True
    assert json.loads(path.read_text()) == NVIDIA
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text().endswith("}\n")


def test_read_only_call_returns_the_config(capsys, daemon_json, tmp_path):
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(daemon_json)}, check=True)
    assert rc == 0 and result["changed"] is False and result["config"] == BY_HAND
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(tmp_path / "none.json")})
    assert rc == 0 and result["changed"] is False and result["config"] == {}
    assert not (tmp_path / "none.json").exists()


def test_empty_file_counts_as_empty_object(capsys, daemon_json):
    daemon_json.write_text("\n")
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(daemon_json), "settings": NVIDIA})
    assert rc == 0 and json.loads(daemon_json.read_text()) == NVIDIA


def test_backup_keeps_the_old_file(capsys, daemon_json):
    old = daemon_json.read_text()
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(daemon_json), "settings": NVIDIA, "backup": True})
    assert rc == 0 and result["backup_file"].startswith(str(daemon_json) + ".")
    with open(result["backup_file"]) as f:
        assert f.read() == old


@pytest.mark.parametrize("text, words", [
    ('{"log-driver": "json-file",}', "is not valid JSON"),
    ("[1, 2]", "holds a JSON list, not an object"),
])
def test_broken_file_is_an_error_naming_it_and_nothing_is_written(capsys, daemon_json, text, words):
    daemon_json.write_text(text)
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(daemon_json), "settings": NVIDIA})
    assert rc == 1 and result["failed"] is True
    assert str(daemon_json) in result["msg"] and words in result["msg"]
    assert daemon_json.read_text() == text


def test_bad_remove_key_and_mode(capsys, daemon_json):
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(daemon_json), "remove_keys": ["runtimes..nvidia"]})
    assert rc == 1 and "remove_keys entry" in result["msg"]
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(daemon_json), "mode": "rw-r--r--"})
    assert rc == 1 and "mode" in result["msg"]


def test_symlink_is_written_through_and_kept(capsys, daemon_json, tmp_path):
    """/etc/docker/daemon.json -> a file elsewhere: the file is updated, the link stays a link."""
    etc = tmp_path / "etc"
    etc.mkdir()
    link = etc / "daemon.json"
    os.symlink(os.path.join("..", "docker", "daemon.json"), str(link))
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(link), "settings": NVIDIA})
    assert rc == 0 and result["changed"] is True and result["path"] == str(link)
    assert link.is_symlink() and os.readlink(str(link)) == os.path.join("..", "docker", "daemon.json")
    written = json.loads(daemon_json.read_text())
    assert written["runtimes"]["nvidia"] == NVIDIA["runtimes"]["nvidia"] and written["log-driver"] == "json-file"
    assert stat.S_IMODE(daemon_json.stat().st_mode) == 0o600  # the target keeps its mode
    assert os.listdir(str(etc)) == ["daemon.json"]  # nothing written beside the link
    assert sorted(os.listdir(str(daemon_json.parent))) == ["daemon.json", "daemon.json.lock"]  # no temporary file left
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(link), "settings": NVIDIA})
    assert rc == 0 and result["changed"] is False


def test_dangling_symlink_creates_its_target(capsys, tmp_path):
    link = tmp_path / "daemon.json"
    target = tmp_path / "srv" / "docker" / "daemon.json"
    link.symlink_to(target)
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(link), "settings": NVIDIA})
    assert rc == 0 and result["changed"] is True
    assert link.is_symlink() and json.loads(target.read_text()) == NVIDIA


def test_a_writer_holding_the_lock_does_not_lose_its_key(capsys, daemon_json):
    """Another run of the module (read, merge, write under the lock) while this one starts: both keys survive."""
    holding, release = threading.Event(), threading.Event()

    def other_writer():
        with open(str(daemon_json) + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            config = json.loads(daemon_json.read_text())
            holding.set()
            release.wait(10)
            config["default-runtime"] = "crun"
            daemon_json.write_text(json.dumps(config, indent=2))

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert holding.wait(10)
    timer = threading.Timer(0.5, release.set)  # the other writer finishes while this run waits for the lock
    timer.start()
    try:
        rc, result, _output = run_module(capsys, ddc.main, {"path": str(daemon_json), "settings": NVIDIA})
    finally:
        release.set()
        thread.join(10)
        timer.cancel()
    assert rc == 0 and result["changed"] is True
    written = json.loads(daemon_json.read_text())
    assert written["default-runtime"] == "crun"  # the other writer's key
    assert written["runtimes"]["nvidia"] == NVIDIA["runtimes"]["nvidia"]  # and ours
    assert result["config"] == written


@pytest.mark.parametrize("after_read", [1, 2])
def test_a_writer_between_read_and_write_does_not_lose_its_key(capsys, daemon_json, monkeypatch, after_read):
    """A tool that takes no lock (nvidia-ctk, an editor) writes daemon.json right after the module read it."""
    real_open, reads = open, []

    def open_then_other_writer(name, mode="r", *args, **kwargs):
        if mode != "rb" or os.path.realpath(name) != str(daemon_json):
            return real_open(name, mode, *args, **kwargs)
        with real_open(name, "rb") as f:
            data = f.read()
        reads.append(name)
        if len(reads) == after_read:
            config = json.loads(data)
            config["default-runtime"] = "crun"
            daemon_json.write_text(json.dumps(config))
        return io.BytesIO(data)

    monkeypatch.setattr(ddc, "open", open_then_other_writer, raising=False)
    rc, result, _output = run_module(capsys, ddc.main, {"path": str(daemon_json), "settings": NVIDIA})
    assert rc == 0 and result["changed"] is True
    written = json.loads(daemon_json.read_text())
    assert written.get("default-runtime") == "crun"  # the other writer's key
    assert written["runtimes"]["nvidia"] == NVIDIA["runtimes"]["nvidia"]  # and ours


@pytest.mark.parametrize("text", [
    "[" * 100000 + "]" * 100000,
    '{"log-opts": ' + "[" * 100000 + "]" * 100000 + "}",
    '{"x": ' * 900 + "1" + "}" * 900,
    '{"x": ' * 150 + "1" + "}" * 150,
], ids=["100000 arrays", "100000 arrays in an object", "900 objects", "150 objects"])
@pytest.mark.parametrize("check", [False, True])
def test_deep_json_is_an_error_naming_the_file(capsys, daemon_json, text, check):
    daemon_json.write_text(text)
    rc, result, _output = run_module(
        capsys, ddc.main, {"path": str(daemon_json), "settings": NVIDIA}, check=check, diff=True)
    assert rc == 1 and result["failed"] is True
    assert str(daemon_json) in result["msg"] and "fix or remove it" in result["msg"]
    assert "too deeply" in result["msg"] or "deeper than" in result["msg"]
    assert daemon_json.read_text() == text
