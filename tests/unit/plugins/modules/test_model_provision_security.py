# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a hostile package index, a password in a URL, or a link in src can make model_provision do.

The index is tests/doubles/hostile_index.py (a PEP 503 test double on 127.0.0.1); every test runs the
module's main() as Ansible does (capsys) and checks what the user sees: failed or not, the message,
that no secret and no file content is in the output, and what was (not) written.
"""

import base64
import json
import os

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils import model_provision as mpu
from ansible_collections.embedops.embeddings.plugins.modules import model_provision as mp
from doubles.hostile_index import HostileIndex
from doubles.modules import run_module
from test_model_provision import (  # this folder: on sys.path as pytest imports the tests
    make_wheel,
    model_files,
    tree,
    write_files,
)

WHEEL = "tiny_model-1.0.0-py3-none-any.whl"
SECRET = "TOP-SECRET root-only content 7f3a9c"
PASSWORD = "S3cretPw"
PROXY_PASSWORD = "Pr0xyPw9"


@pytest.fixture(autouse=True)
def host_env(monkeypatch, tmp_path):
    """No proxy or pip settings of this machine leak in: an empty HOME, no PIP_*, no pip.conf in /etc."""
    for name in list(os.environ):
        if name.lower() in ("https_proxy", "http_proxy", "all_proxy", "no_proxy") or name.startswith("PIP_") \
                or name in ("XDG_CONFIG_HOME", "XDG_CONFIG_DIRS"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(mpu, "PIP_GLOBAL_CONFIG_FILES", (str(tmp_path / "etc" / "pip.conf"),), raising=False)
    yield
    for name in ("https_proxy", "http_proxy", "HTTPS_PROXY", "HTTP_PROXY"):
        os.environ.pop(name, None)  # set by the module's proxy option


@pytest.fixture
def index():
    double = HostileIndex()
    yield double
    double.close()


@pytest.fixture
def elsewhere():
    """A second server on another port: an internal service, or the file host of an index."""
    double = HostileIndex()
    yield double
    double.close()


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "private" / "secret.txt"
    path.parent.mkdir()
    path.write_text(SECRET * 20)
    os.chmod(str(path), 0o600)
    os.chmod(str(path.parent), 0o700)
    return path


def package_args(index_url, dest, **extra):
    args = {"source": "package", "package": "tiny-model", "package_version": "1.0.0", "index_url": index_url,
            "dest": str(dest), "timeout": 10}
    args.update(extra)
    return args


def everything_under(root):
    found = []
    for dirpath, dirs, files in os.walk(str(root)):
        found += [os.path.join(dirpath, n) for n in dirs + files]
    return found


# ---------------------------------------------------------------------------------------------
# M1: the files an index links to


@pytest.mark.parametrize("check", [False, True], ids=["run", "check_mode"])
def test_index_linking_a_local_file_is_refused_and_the_file_never_read(index, secret_file, tmp_path, capsys,
                                                                       check):
    index.add_link("tiny-model", WHEEL, secret_file.as_uri())
    dest = tmp_path / "models" / "tiny"
    rc, result, _output = run_module(capsys, mp.main, package_args(index.url, dest), check=check)
    assert rc == 1 and result["failed"] is True
    msg = result["msg"]
    assert msg.startswith("the package index %s links %s to %s, which is not an http:// or https:// URL: refused"
                          % (index.url, WHEEL, secret_file.as_uri())), msg
    assert "check index_url" in msg
    assert "TOP-SECRET" not in json.dumps(result)
    assert not os.path.exists(str(dest.parent)), "nothing is written, not even a download directory"


def test_index_linking_another_host_is_refused_before_any_request(index, elsewhere, tmp_path, capsys):
    """An index on 127.0.0.1 points the host at an internal http service: nothing is fetched from it."""
    internal = elsewhere.add_file(WHEEL, b"internal data, not for the index's eyes")
    index.add_link("tiny-model", WHEEL, internal)
    dest = tmp_path / "models" / "tiny"
    rc, result, _output = run_module(capsys, mp.main, package_args(index.url, dest))
    assert rc == 1
    assert result["msg"] == (
        "the package index %s links %s to %s, outside the origins allowed to serve its files (%s): refused, nothing "
        "was fetched from it. If that host really serves this index's files, add %s to index_allowed_origins; else "
        "check index_url" % (index.url, WHEEL, internal, index.origin, elsewhere.origin))
    assert result["url"] == internal
    assert elsewhere.requests == [], "the other host must not be contacted"
    assert not os.path.exists(str(dest.parent))


def test_index_allowed_origins_lets_a_file_host_serve_without_the_index_password(index, elsewhere, tmp_path,
                                                                                 capsys):
    data = make_wheel()
    index.credentials = ("alice", PASSWORD)
    index.add_link("tiny-model", WHEEL, elsewhere.add_file(WHEEL, data))
    dest = tmp_path / "models" / "tiny"
    rc, result, _output = run_module(capsys, mp.main, package_args(
        index.url_with("alice", PASSWORD), dest, index_allowed_origins=[elsewhere.origin]))
    assert rc == 0, result["msg"]
    assert tree(dest) == model_files()
    assert [r["path"] for r in elsewhere.requests] == ["/files/" + WHEEL]
    assert "Authorization" not in elsewhere.requests[0]["headers"], "the index's credentials go to the index only"
    assert result["index_url"] == index.url and PASSWORD not in json.dumps(result)


@pytest.mark.parametrize("entry", ["file:///", "https://files.example.com/path", "files.example.com",
                                   "https://user:pw@files.example.com"])
def test_index_allowed_origins_takes_origins_only(index, tmp_path, capsys, entry):
    rc, result, _output = run_module(
        capsys, mp.main, package_args(index.url, tmp_path / "m", index_allowed_origins=[entry]))
    assert rc == 1
    assert result["msg"].startswith("index_allowed_origins: ")
    assert "is not an origin: write scheme://host[:port], such as https://files.example.com" in result["msg"]
    assert "pw@" not in result["msg"]
    assert index.requests == []


# ---------------------------------------------------------------------------------------------
# M2: passwords of the index and of the proxy


def test_index_password_not_in_connection_refused_message(index, tmp_path, capsys):
    url, shown = index.url_with("alice", PASSWORD), index.url
    index.close()
    rc, result, _output = run_module(capsys, mp.main,
                                     dict(package_args(url, tmp_path / "m"), _ansible_inject_invocation=True))
    assert rc == 1 and result["kind"] == "connection_refused"
    assert result["msg"].startswith("could not read the package index %s for tiny-model: connection refused by %s"
                                    % (shown, shown + "/tiny-model/")), result["msg"]
    assert PASSWORD not in json.dumps(result)


def test_index_password_not_in_http_error_message(index, tmp_path, capsys):
    index.fail_status = 500  # its error page echoes the request, Authorization header included
    rc, result, _output = run_module(capsys, mp.main, package_args(index.url_with("alice", PASSWORD), tmp_path / "m"))
    assert rc == 1 and result["kind"] == "http"
    assert result["msg"].startswith("could not read the package index %s for tiny-model: " % index.url)
    assert "answered HTTP 500" in result["msg"]
    out = json.dumps(result)
    assert PASSWORD not in out
    assert base64.b64encode(("alice:" + PASSWORD).encode()).decode() not in out


def test_index_and_proxy_passwords_not_in_the_verbose_output(index, tmp_path, capsys):
    """What -vvv shows (the module's arguments, as it returns them) holds neither password."""
    index.credentials = ("alice", PASSWORD)
    index.add_wheel("tiny-model", WHEEL, make_wheel())
    proxy = "http://bob:%s@127.0.0.1:%d" % (PROXY_PASSWORD, index.server.server_address[1])  # the index proxies
    dest = tmp_path / "models" / "tiny"
    rc, result, _output = run_module(capsys, mp.main, dict(
        package_args(index.url_with("alice", PASSWORD), dest, proxy=proxy), _ansible_inject_invocation=True))
    assert rc == 0, result["msg"]
    assert tree(dest) == model_files()
    out = json.dumps(result)
    assert PASSWORD not in out and PROXY_PASSWORD not in out
    args = result["invocation"]["module_args"]
    assert args["index_url"].endswith("@127.0.0.1:%d/simple" % index.server.server_address[1])
    assert result["index_url"] == index.url and result["identity"]["index_url"] == index.url
    assert all(r["headers"].get("Proxy-Authorization") for r in index.requests), "the proxy gets its credentials"
    assert PASSWORD not in (dest / ".embedops-model.json").read_text()


def test_proxy_password_not_in_failure(index, tmp_path, capsys):
    port = index.server.server_address[1]
    index.close()
    proxy = "http://bob:%s@127.0.0.1:%d" % (PROXY_PASSWORD, port)
    rc, result, _output = run_module(capsys, mp.main, dict(
        package_args("http://pypi.embedops.invalid/simple", tmp_path / "m", proxy=proxy),
        _ansible_inject_invocation=True))
    assert rc == 1
    assert result["msg"].startswith("could not read the package index http://pypi.embedops.invalid/simple")
    assert PROXY_PASSWORD not in json.dumps(result)


def test_index_token_not_in_the_hosts_log(index, tmp_path, capsys, monkeypatch):
    """A token as the user name (https://TOKEN@host/simple) stays out of the host's log and of the output."""
    token = "tok3nValueNotForLogs"
    logged = []
    monkeypatch.setattr(mp.AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    url = "http://%s@127.0.0.1:%d/simple" % (token, index.server.server_address[1])
    rc, result, _output = run_module(capsys, mp.main,
                                     dict(package_args(url, tmp_path / "m"), _ansible_inject_invocation=True))
    assert rc == 1 and result["msg"] == ("package tiny-model not found on %s (HTTP 404): check package, or index_url"
                                         % index.url)
    assert logged and token not in "\n".join(logged)
    assert token not in json.dumps(result)


# ---------------------------------------------------------------------------------------------
# L3: links in src


def test_path_source_refuses_a_file_link_outside_src(secret_file, tmp_path, capsys):
    src = tmp_path / "upload" / "m"
    write_files(src, {"config.json": b"{}"})
    os.symlink(str(secret_file), str(src / "model.safetensors"))
    dest = tmp_path / "models" / "m"
    for check in (True, False):
        rc, result, _output = run_module(
            capsys, mp.main, {"source": "path", "src": str(src), "dest": str(dest)}, check=check)
        assert rc == 1
        assert result["msg"].startswith(
            "src %s: model.safetensors is a symbolic link to %s, outside src: refusing to copy it" % (src, secret_file))
        assert "Put the file itself into src (cp -L)" in result["msg"]
        assert result["link"] == "model.safetensors" and result["target"] == str(secret_file)
        assert "TOP-SECRET" not in json.dumps(result)
        assert not os.path.exists(str(dest.parent)), "nothing is written"


def test_path_source_refuses_a_directory_link_outside_src(secret_file, tmp_path, capsys):
    src = tmp_path / "upload" / "m"
    write_files(src, {"config.json": b"{}"})
    os.symlink(str(secret_file.parent), str(src / "1_Pooling"))
    dest = tmp_path / "models" / "m"
    rc, result, _output = run_module(capsys, mp.main, {"source": "path", "src": str(src), "dest": str(dest)})
    assert rc == 1
    assert result["msg"].startswith("src %s: 1_Pooling is a symbolic link to %s, outside src"
                                    % (src, secret_file.parent))
    assert not os.path.exists(str(dest.parent))


def test_path_source_refuses_a_snapshot_link_out_of_its_cache_repository(secret_file, tmp_path, capsys):
    """A Hugging Face snapshot's links may reach its own repository's blobs, nothing else."""
    hub = tmp_path / "hub"
    write_files(hub / "models--other--model" / "blobs", {"abc123": b"another repository's blob"})
    src = hub / "models--owner--name" / "snapshots" / ("a" * 40)
    write_files(src, {"config.json": b"{}"})
    (hub / "models--owner--name" / "blobs").mkdir()
    os.symlink("../../../models--other--model/blobs/abc123", str(src / "model.safetensors"))
    dest = tmp_path / "models" / "m"
    rc, result, _output = run_module(capsys, mp.main, {"source": "path", "src": str(src), "dest": str(dest)})
    assert rc == 1 and "model.safetensors is a symbolic link to %s, outside src" % (
        hub / "models--other--model" / "blobs" / "abc123") in result["msg"]
    os.remove(str(src / "model.safetensors"))
    os.symlink(str(secret_file), str(src / "model.safetensors"))
    rc, result, _output = run_module(capsys, mp.main, {"source": "path", "src": str(src), "dest": str(dest)})
    assert rc == 1 and "outside src" in result["msg"]
    assert not os.path.exists(str(dest.parent))


def test_path_source_follows_links_inside_src(tmp_path, capsys):
    src = tmp_path / "upload" / "m"
    write_files(src, {"config.json": b"{}", "weights/model.safetensors": b"w" * 100})
    os.symlink("weights/model.safetensors", str(src / "model.safetensors"))
    os.symlink("weights", str(src / "alias"))
    dest = tmp_path / "models" / "m"
    rc, result, _output = run_module(capsys, mp.main, {"source": "path", "src": str(src), "dest": str(dest)})
    assert rc == 0, result["msg"]
    assert tree(dest) == {"config.json": b"{}", "weights/model.safetensors": b"w" * 100,
                          "model.safetensors": b"w" * 100, "alias/model.safetensors": b"w" * 100}


def test_path_source_refuses_a_directory_link_loop(tmp_path, capsys):
    src = tmp_path / "upload" / "m"
    write_files(src, {"config.json": b"{}"})
    os.symlink("..", str(src / "up"))
    rc, result, _output = run_module(capsys, mp.main,
                                     {"source": "path", "src": str(src), "dest": str(tmp_path / "models" / "m")})
    assert rc == 1 and "outside src" in result["msg"]
    os.remove(str(src / "up"))
    os.symlink(".", str(src / "self"))
    rc, result, _output = run_module(capsys, mp.main,
                                     {"source": "path", "src": str(src), "dest": str(tmp_path / "models" / "m")})
    assert rc == 1 and "self is a symbolic link to %s, a directory that contains the link itself" % src in result["msg"]


# ---------------------------------------------------------------------------------------------
# hardening: the wheel's file name comes from the index


@pytest.mark.parametrize("name", ["tiny_model-1.0.0-py3-none-any/../../../escape.whl",
                                  "tiny_model-1.0.0-py3-none-any\\..\\..\\escape.whl"])
def test_wheel_file_name_with_a_path_is_refused(index, tmp_path, capsys, name):
    index.add_file(WHEEL, make_wheel())
    index.add_link("tiny-model", name, "../../files/" + WHEEL)
    dest = tmp_path / "models" / "tiny"
    rc, result, _output = run_module(capsys, mp.main, package_args(index.url, dest))
    assert rc == 1
    assert result["msg"] == (
        "the package index %s names a file of tiny-model 1.0.0 %r, which is not a wheel file name "
        "(name-version-python-abi-platform.whl, no directory, no ..): refused; check index_url" % (index.url, name))
    assert index.requests_to("/files/") == []
    assert not [p for p in everything_under(tmp_path) if "escape" in p]
    assert not os.path.exists(str(dest.parent))


# ---------------------------------------------------------------------------------------------
# the default index: the one the host's pip is configured with


def write_pip_conf(path, section, url):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), "w") as f:
        f.write("[%s]\nindex-url = %s\ntimeout = 30\n" % (section, url))


def test_default_index_is_the_one_pip_is_configured_with(index, tmp_path, capsys):
    index.credentials = ("alice", PASSWORD)
    index.add_wheel("tiny-model", WHEEL, make_wheel())
    write_pip_conf(tmp_path / "etc" / "pip.conf", "global", "http://127.0.0.1:9/closed/simple")
    user_conf = tmp_path / "home" / ".config" / "pip" / "pip.conf"
    write_pip_conf(user_conf, "global", index.url_with("alice", PASSWORD))  # the user's file wins, as for pip
    args = package_args(None, tmp_path / "models" / "tiny")
    del args["index_url"]
    rc, result, _output = run_module(capsys, mp.main, dict(args, _ansible_inject_invocation=True))
    assert rc == 0, result["msg"]
    assert tree(tmp_path / "models" / "tiny") == model_files()
    assert result["index_url"] == index.url
    assert result["index_url_source"] == "%s [global] index-url" % user_conf
    assert PASSWORD not in json.dumps(result)


def test_pip_index_url_variable_comes_first(index, tmp_path, capsys, monkeypatch):
    index.add_wheel("tiny-model", WHEEL, make_wheel())
    write_pip_conf(tmp_path / "etc" / "pip.conf", "install", "http://127.0.0.1:9/closed/simple")
    monkeypatch.setenv("PIP_INDEX_URL", index.url)
    args = package_args(None, tmp_path / "models" / "tiny")
    del args["index_url"]
    rc, result, _output = run_module(capsys, mp.main, args)
    assert rc == 0, result["msg"]
    assert (result["index_url"], result["index_url_source"]) == (index.url, "PIP_INDEX_URL")


def test_without_pip_configuration_the_public_index_is_used(index, tmp_path, capsys, monkeypatch):
    """A model in place needs no index: the run reports which index it would use, and ignores a file:// one."""
    index.add_wheel("tiny-model", WHEEL, make_wheel())
    dest = tmp_path / "models" / "tiny"
    assert run_module(capsys, mp.main, package_args(index.url, dest))[0] == 0
    write_pip_conf(tmp_path / "etc" / "pip.conf", "global", "file:///opt/pypi/simple")
    args = package_args(None, dest)
    del args["index_url"]
    # the warnings as Ansible shows them (where they end up depends on what else this test process imported)
    warnings, warn = [], mp.AnsibleModule.warn
    monkeypatch.setattr(mp.AnsibleModule, "warn", lambda self, msg: (warnings.append(msg), warn(self, msg))[1])
    rc, result, _output = run_module(capsys, mp.main, args)
    assert rc == 0 and result["changed"] is False
    assert (result["index_url"], result["index_url_source"]) == ("https://pypi.org/simple", "default")
    assert warnings == ["%s [global] index-url gives the index file:///opt/pypi/simple, which is not an http:// or "
                        "https:// URL: ignored" % (tmp_path / "etc" / "pip.conf")]
