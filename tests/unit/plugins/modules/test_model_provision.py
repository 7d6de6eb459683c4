# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of embedops.embeddings.model_provision, run through main() as Ansible runs it.

source=package talks to a package index served by http.server in a thread on 127.0.0.1, with
wheels built here with zipfile: no test touches the internet. source=hub runs against FakeHfHub,
a test double of huggingface_hub put in sys.modules.
"""

import errno
import fnmatch
import hashlib
import io
import json
import os
import stat
import sys
import types
import zipfile
from urllib.parse import urlsplit

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils import model_provision as mpu
from ansible_collections.embedops.embeddings.plugins.modules import model_provision as mp
from doubles.modules import run_module
from doubles.server_thread import QuietHandler, local_server, start

MANIFEST = ".embedops-model.json"
SHA_MAIN = "a" * 40
SHA_NEXT = "b" * 40


# ---------------------------------------------------------------------------------------------
# running the module


@pytest.fixture(autouse=True)
def clean_env():
    """The module sets proxy and HF_* variables for its process: give every test the same environment."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.lower() in ("https_proxy", "http_proxy", "all_proxy", "no_proxy") or name.startswith("HF_"):
            del os.environ[name]
    yield
    os.environ.clear()
    os.environ.update(saved)


def tree(root):
    """{relative path: bytes} of the files under root, the manifest left out."""
    found = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if rel != MANIFEST:
                with open(full, "rb") as f:
                    found[rel] = f.read()
    return found


def manifest(dest):
    with open(os.path.join(str(dest), MANIFEST)) as f:
        return json.load(f)


def siblings_of(dest):
    parent = os.path.dirname(str(dest))
    return sorted(os.listdir(parent)) if os.path.isdir(parent) else []


# ---------------------------------------------------------------------------------------------
# a package index on 127.0.0.1


def model_files(tag="v1"):
    return {
        "config.json": json.dumps({"model_type": "bert", "hidden_size": 8, "tag": tag}).encode(),
        "model.safetensors": hashlib.sha256(tag.encode()).digest() * 4096,  # 128 KiB
        "tokenizer.json": b'{"version": "1.0", "tag": "%s"}' % tag.encode(),
        "1_Pooling/config.json": b'{"word_embedding_dimension": 8}',
    }


def make_wheel(name="tiny-model", version="1.0.0", files=None, subdir=None):
    module = name.replace("-", "_")
    subdir = "%s/model" % module if subdir is None else subdir
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("%s/__init__.py" % module, "")
        for rel, data in (files if files is not None else model_files()).items():
            zf.writestr("%s/%s" % (subdir, rel), data)
        dist = "%s-%s.dist-info" % (module, version)
        zf.writestr(dist + "/METADATA", "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version))
        zf.writestr(dist + "/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(dist + "/RECORD", "")
    return buf.getvalue()


class PackageIndex:
    """A simple index (PEP 691 JSON and PEP 503 HTML) and file host; it records every request."""

    def __init__(self):
        self.projects = {}  # normalized name -> [entry]
        self.blobs = {}  # filename -> bytes
        self.requests = []
        self.html_only = False
        self.cut_after = None  # bytes of a whole file sent before the connection drops (a network cut)
        self.server = local_server(self._handler())
        self.stop = start(self.server)

    @property
    def url(self):
        return "http://127.0.0.1:%d/simple" % self.server.server_address[1]

    def add(self, name, version, data, filename=None, sha256=None, sdist=False):
        module = name.replace("-", "_")
        if not filename:
            pattern = "%s-%s.tar.gz" if sdist else "%s-%s-py3-none-any.whl"
            filename = pattern % (module, version)
        self.blobs[filename] = data
        self.projects.setdefault(name, []).append(
            {"filename": filename, "sha256": sha256 or hashlib.sha256(data).hexdigest(), "size": len(data)})
        return filename

    def downloads(self):
        return [r for r in self.requests if r["path"].startswith("/files/")]

    def _handler(self):
        index = self

        class Handler(QuietHandler):

            def do_GET(self):  # noqa: N802 - http.server's name
                path = urlsplit(self.path).path  # absolute URI when asked through a proxy
                index.requests.append({"path": path, "range": self.headers.get("Range"),
                                       "accept": self.headers.get("Accept"), "raw": self.path})
                parts = [p for p in path.split("/") if p]
                if len(parts) == 2 and parts[0] == "simple":
                    return self.page(parts[1])
                if len(parts) == 2 and parts[0] == "files" and parts[1] in index.blobs:
                    return self.blob(index.blobs[parts[1]])
                self.send(404, b'{"message": "Not Found"}', "application/json")

            def page(self, name):
                entries = index.projects.get(name)
                if entries is None:
                    return self.send(404, b"Not Found", "text/plain")
                accept = self.headers.get("Accept") or ""
                if "application/vnd.pypi.simple.v1+json" in accept and not index.html_only:
                    doc = {"meta": {"api-version": "1.1"}, "name": name,
                           "versions": sorted({mpu.file_name_version(e["filename"])[1] for e in entries}),
                           "files": [{"filename": e["filename"], "url": "../../files/%s" % e["filename"],
                                      "hashes": {"sha256": e["sha256"]}, "size": e["size"], "yanked": False}
                                     for e in entries]}
                    return self.send(200, json.dumps(doc).encode(), "application/vnd.pypi.simple.v1+json")
                links = "".join('<a href="../../files/%s#sha256=%s">%s</a><br/>\n'
                                % (e["filename"], e["sha256"], e["filename"]) for e in entries)
                html = "<!DOCTYPE html><html><body><h1>Links for %s</h1>\n%s</body></html>" % (name, links)
                self.send(200, html.encode(), "text/html")

            def blob(self, data):
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    if start >= len(data):
                        return self.send(416, b"", extra={"Content-Range": "bytes */%d" % len(data)})
                    return self.send(206, data[start:], extra={
                        "Content-Range": "bytes %d-%d/%d" % (start, len(data) - 1, len(data))})
                if index.cut_after is not None:
                    # Headers promise the whole file; the connection drops partway through the body.
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[:index.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    return None
                return self.send(200, data)

        return Handler

    def close(self):
        self.stop()


@pytest.fixture
def index():
    idx = PackageIndex()
    yield idx
    idx.close()


@pytest.fixture
def pkg(index, tmp_path):
    """Index with tiny-model 1.0.0 (and 2.0.0), and the module args to provision 1.0.0 into tmp_path/models/tiny."""
    index.add("tiny-model", "1.0.0", make_wheel(version="1.0.0"))
    index.add("tiny-model", "2.0.0", make_wheel(version="2.0.0", files=model_files("v2")))
    dest = tmp_path / "models" / "tiny"
    args = {"source": "package", "package": "tiny-model", "package_version": "1.0.0", "index_url": index.url,
            "dest": str(dest)}
    return types.SimpleNamespace(index=index, dest=dest, args=args)


# ---------------------------------------------------------------------------------------------
# source=package


def test_package_first_run_provisions_atomically(pkg, capsys):
    rc, result, _ = run_module(capsys, mp.main, pkg.args)
    assert rc == 0, result
    assert result["changed"] is True
    assert tree(pkg.dest) == model_files()
    assert result["files"] == 4
    assert result["size_bytes"] == sum(len(v) for v in model_files().values())
    ident = result["identity"]
    assert ident["package"] == "tiny-model" and ident["version"] == "1.0.0"
    assert ident["subdir"] == "tiny_model/model"
    assert ident["wheel"] == "tiny_model-1.0.0-py3-none-any.whl"
    assert ident["wheel_sha256"] == pkg.index.projects["tiny-model"][0]["sha256"]
    doc = manifest(pkg.dest)
    assert doc["identity"] == ident and doc["checksum"] == result["checksum"]
    assert {e["path"]: e["size"] for e in doc["files"]} == {k: len(v) for k, v in model_files().items()}
    assert doc["checksum"] == mpu.tree_checksum(doc["files"])
    # the staging and download directories are gone; default modes
    assert siblings_of(pkg.dest) == ["tiny"]
    assert stat.S_IMODE(os.stat(str(pkg.dest)).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(str(pkg.dest / "1_Pooling")).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(str(pkg.dest / "model.safetensors")).st_mode) == 0o644
    assert [r["accept"] for r in pkg.index.requests if r["path"].startswith("/simple/")][0].startswith(
        "application/vnd.pypi.simple.v1+json")


def test_package_second_run_is_unchanged_and_offline(pkg, capsys):
    assert run_module(capsys, mp.main, pkg.args)[1]["changed"] is True
    before = {p: os.stat(str(pkg.dest / p)) for p in list(model_files()) + [MANIFEST]}
    seen = len(pkg.index.requests)
    rc, result, _ = run_module(capsys, mp.main, pkg.args)
    assert rc == 0 and result["changed"] is False
    assert result["files"] == 4 and result["identity"]["version"] == "1.0.0"
    assert len(pkg.index.requests) == seen, "an installed pinned package needs no index lookup"
    for p, st in before.items():
        now = os.stat(str(pkg.dest / p))
        assert (now.st_ino, now.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)


def test_check_mode_reports_change_and_touches_nothing(pkg, capsys):
    rc, result, _ = run_module(capsys, mp.main, pkg.args, check=True, diff=True)
    assert rc == 0 and result["changed"] is True
    assert result["identity"]["wheel_sha256"] == pkg.index.projects["tiny-model"][0]["sha256"]
    assert result["files"] is None
    assert result["diff"]["before"] == {} and result["diff"]["after"]["version"] == "1.0.0"
    assert not os.path.exists(str(pkg.dest.parent)), "check mode must not even create the parent"
    assert pkg.index.downloads() == []

    run_module(capsys, mp.main, pkg.args)
    old = manifest(pkg.dest)
    rc, result, _ = run_module(capsys, mp.main, dict(pkg.args, package_version="2.0.0"), check=True)
    assert rc == 0 and result["changed"] is True and result["identity"]["version"] == "2.0.0"
    assert manifest(pkg.dest) == old and tree(pkg.dest) == model_files()
    assert siblings_of(pkg.dest) == ["tiny"]


def test_tampered_file_size_triggers_reprovision(pkg, capsys):
    run_module(capsys, mp.main, pkg.args)
    with open(str(pkg.dest / "tokenizer.json"), "ab") as f:
        f.write(b" tampered")
    rc, result, _ = run_module(capsys, mp.main, pkg.args, check=True)
    assert result["changed"] is True and "tokenizer.json" in result["msg"]
    rc, result, _ = run_module(capsys, mp.main, pkg.args)
    assert rc == 0 and result["changed"] is True
    assert tree(pkg.dest) == model_files()
    assert run_module(capsys, mp.main, pkg.args)[1]["changed"] is False


def test_missing_file_triggers_reprovision(pkg, capsys):
    run_module(capsys, mp.main, pkg.args)
    os.remove(str(pkg.dest / "1_Pooling" / "config.json"))
    rc, result, _ = run_module(capsys, mp.main, pkg.args)
    assert result["changed"] is True and tree(pkg.dest) == model_files()


def test_same_size_tamper_needs_verify_checksums(pkg, capsys):
    run_module(capsys, mp.main, pkg.args)
    path = str(pkg.dest / "config.json")
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[0:1] = b"["
    with open(path, "wb") as f:
        f.write(bytes(data))
    assert run_module(capsys, mp.main, pkg.args)[1]["changed"] is False
    rc, result, _ = run_module(capsys, mp.main, dict(pkg.args, verify_checksums=True))
    assert result["changed"] is True and tree(pkg.dest) == model_files()


def test_wrong_sha256_from_index_fails_and_leaves_dest(pkg, capsys):
    run_module(capsys, mp.main, pkg.args)
    old_manifest = manifest(pkg.dest)
    pkg.index.add("tiny-model", "3.0.0", make_wheel(version="3.0.0", files=model_files("v3")), sha256="0" * 64)
    rc, result, _ = run_module(capsys, mp.main, dict(pkg.args, package_version="3.0.0"))
    assert rc == 1 and result["failed"] is True
    assert "sha256 of the downloaded tiny_model-3.0.0-py3-none-any.whl is" in result["msg"]
    assert "says " + "0" * 64 in result["msg"] and "dest was not touched" in result["msg"]
    assert manifest(pkg.dest) == old_manifest and tree(pkg.dest) == model_files()
    assert siblings_of(pkg.dest) == ["tiny"], "a corrupt download is not kept for resuming"


def test_unknown_version_lists_the_versions(pkg, capsys):
    rc, result, _ = run_module(capsys, mp.main, dict(pkg.args, package_version="9.9"))
    assert rc == 1
    assert result["msg"] == "no wheel of tiny-model version 9.9 on %s (versions there: 1.0.0, 2.0.0)" % pkg.index.url
    assert not os.path.exists(str(pkg.dest))


def test_version_is_compared_canonically(pkg, capsys):
    rc, result, _ = run_module(capsys, mp.main, dict(pkg.args, package_version="1.0"))
    assert rc == 0 and result["identity"]["wheel"] == "tiny_model-1.0.0-py3-none-any.whl"
    assert run_module(capsys, mp.main, pkg.args)[1]["changed"] is False


def test_sdist_only_version_says_a_wheel_is_needed(pkg, capsys):
    pkg.index.add("tiny-model", "4.0.0", b"not a tarball", sdist=True)
    rc, result, _ = run_module(capsys, mp.main, dict(pkg.args, package_version="4.0.0"))
    assert rc == 1 and "has no wheel (only tiny_model-4.0.0.tar.gz)" in result["msg"]


def test_missing_subdir_says_what_the_wheel_holds(pkg, capsys):
    rc, result, _ = run_module(capsys, mp.main, dict(pkg.args, package_subdir="tiny_model/weights"))
    assert rc == 1
    msg = result["msg"]
    assert msg.startswith("package_subdir tiny_model/weights not found in the wheel "
                          "tiny_model-1.0.0-py3-none-any.whl: it holds ")
    assert "tiny_model/model" in msg and "tiny_model/model/1_Pooling" in msg
    assert "directories with a config.json: tiny_model/model, tiny_model/model/1_Pooling" in msg
    assert not os.path.exists(str(pkg.dest)) and not os.path.exists(str(pkg.dest) + ".partial")


def test_package_subdir_override(index, tmp_path, capsys):
    index.add("odd-pkg", "0.1.0", make_wheel(name="odd-pkg", version="0.1.0", subdir="odd_pkg/assets/minilm"))
    dest = tmp_path / "m"
    rc, result, _ = run_module(capsys, mp.main, {
        "source": "package", "package": "odd-pkg", "package_version": "0.1.0",
        "package_subdir": "odd_pkg/assets/minilm/", "index_url": index.url, "dest": str(dest)})
    assert rc == 0 and tree(dest) == model_files()
    assert result["identity"]["subdir"] == "odd_pkg/assets/minilm"


def test_package_version_is_required(pkg, capsys):
    args = dict(pkg.args)
    del args["package_version"]
    rc, result, _ = run_module(capsys, mp.main, args)
    assert rc == 1
    assert result["msg"] == "package_version is required with source=package: pin the version (e.g. 0.1.0)"


def test_required_if_names_the_option(tmp_path, capsys):
    rc, result, _ = run_module(capsys, mp.main, {"source": "hub", "dest": str(tmp_path / "m")})
    assert rc == 1 and "repo_id" in result["msg"]
    rc, result, _ = run_module(capsys, mp.main, {"source": "path", "dest": str(tmp_path / "m")})
    assert rc == 1 and "src" in result["msg"]


def test_unknown_package_is_a_clear_404(pkg, capsys):
    rc, result, _ = run_module(capsys, mp.main, dict(pkg.args, package="no-such-model"))
    assert rc == 1
    assert result["msg"] == ("package no-such-model not found on %s (HTTP 404): check package, or index_url"
                             % pkg.index.url)


def test_unreachable_index_names_the_problem(pkg, capsys):
    url = pkg.index.url
    pkg.index.close()
    rc, result, _ = run_module(capsys, mp.main, dict(pkg.args, timeout=5))
    assert rc == 1 and result["kind"] == "connection_refused"
    assert result["msg"].startswith("could not read the package index %s for tiny-model: connection refused" % url)


def test_html_simple_index_pep503(pkg, capsys):
    pkg.index.html_only = True
    rc, result, _ = run_module(capsys, mp.main, pkg.args)
    assert rc == 0 and result["changed"] is True and tree(pkg.dest) == model_files()
    assert result["identity"]["wheel_sha256"] == pkg.index.projects["tiny-model"][0]["sha256"]


def test_html_parser_reads_hash_fragment_and_yanked():
    html = ('<a href="https://files.example/p/x-1.0-py3-none-any.whl#sha256=ABC" data-yanked="">'
            'x-1.0-py3-none-any.whl</a><a href="../../f/x-1.1.tar.gz">x-1.1.tar.gz</a>')
    files, versions = mpu.parse_simple_html(html, "https://idx.example/simple/x/")
    assert versions is None
    assert files[0] == {"filename": "x-1.0-py3-none-any.whl", "url": "https://files.example/p/x-1.0-py3-none-any.whl",
                        "sha256": "abc", "size": None, "yanked": True}
    assert files[1]["url"] == "https://idx.example/f/x-1.1.tar.gz" and files[1]["sha256"] is None


def test_interrupted_wheel_download_resumes_with_range(pkg, capsys):
    wheel = pkg.index.projects["tiny-model"][0]["filename"]
    data = pkg.index.blobs[wheel]
    part_dir = str(pkg.dest) + ".download"
    os.makedirs(part_dir)
    with open(os.path.join(part_dir, wheel + ".part"), "wb") as f:
        f.write(data[: len(data) // 2])
    rc, result, _ = run_module(capsys, mp.main, pkg.args)
    assert rc == 0 and tree(pkg.dest) == model_files()
    assert [r["range"] for r in pkg.index.downloads()] == ["bytes=%d-" % (len(data) // 2)]
    assert not os.path.exists(part_dir)


def test_download_cut_halfway_is_never_served_and_the_next_run_completes(pkg, capsys):
    """The connection drops halfway through the wheel: the run fails saying so, nothing appears where
    the server reads the model, and the next run fetches only the rest and checks the sha256."""
    wheel = pkg.index.projects["tiny-model"][0]["filename"]
    data = pkg.index.blobs[wheel]
    pkg.index.cut_after = len(data) // 2
    rc, result, _ = run_module(capsys, mp.main, pkg.args)
    assert rc == 1, result
    assert "closed after %d of %d bytes" % (len(data) // 2, len(data)) in result["msg"], result["msg"]
    assert "is kept and the next run resumes it" in result["msg"]
    assert not os.path.exists(str(pkg.dest)), "a half-written model must never be where vLLM reads it"
    part = os.path.join(str(pkg.dest) + ".download", wheel + ".part")
    assert os.path.getsize(part) == len(data) // 2
    pkg.index.cut_after = None
    rc, result, _ = run_module(capsys, mp.main, pkg.args)
    assert rc == 0 and result["changed"] and tree(pkg.dest) == model_files()
    assert [r["range"] for r in pkg.index.downloads()] == [None, "bytes=%d-" % (len(data) // 2)]
    assert siblings_of(pkg.dest) == ["tiny"]


def test_kept_part_that_is_not_a_prefix_restarts_once(pkg, capsys):
    wheel = pkg.index.projects["tiny-model"][0]["filename"]
    part_dir = str(pkg.dest) + ".download"
    os.makedirs(part_dir)
    with open(os.path.join(part_dir, wheel + ".part"), "wb") as f:
        f.write(b"garbage" * 100)
    rc, result, _ = run_module(capsys, mp.main, pkg.args)
    assert rc == 0 and tree(pkg.dest) == model_files()
    assert [r["range"] for r in pkg.index.downloads()] == ["bytes=700-", None]


def test_no_disk_space_fails_before_download(pkg, capsys, monkeypatch):
    monkeypatch.setattr(mpu, "disk_free", lambda path: 1000)
    rc, result, _ = run_module(capsys, mp.main, pkg.args)
    assert rc == 1
    size = pkg.index.projects["tiny-model"][0]["size"]
    assert result["msg"].startswith("no space left on %s (filesystem mounted at " % pkg.dest.parent)
    assert "for the wheel tiny_model-1.0.0-py3-none-any.whl: it needs" in result["msg"]
    assert "1000.00 Bytes is available: free" in result["msg"]
    assert result["msg"].endswith("or move dest to a larger filesystem")
    assert result["needed_bytes"] == size and result["available_bytes"] == 1000
    assert pkg.index.downloads() == [] and not os.path.exists(str(pkg.dest))


def test_disk_full_while_writing_is_reported(pkg, capsys, monkeypatch):
    def full(fsrc, dst_path):
        raise OSError(errno.ENOSPC, "No space left on device", dst_path)

    monkeypatch.setattr(mpu, "copy_stream", full)
    rc, result, _ = run_module(capsys, mp.main, pkg.args)
    assert rc == 1 and result["msg"].startswith("no space left on ")
    assert "move dest to a larger filesystem" in result["msg"]
    assert siblings_of(pkg.dest) == ["tiny.download"], "no half-built tree is left: staging removed, dest absent"


def test_new_version_replaces_the_tree_and_shows_a_diff(pkg, capsys):
    run_module(capsys, mp.main, pkg.args)
    with open(str(pkg.dest / "stray.bin"), "wb") as f:
        f.write(b"x")
    rc, result, _ = run_module(capsys, mp.main, dict(pkg.args, package_version="2.0.0"), diff=True)
    assert rc == 0 and result["changed"] is True
    assert tree(pkg.dest) == model_files("v2"), "the old tree is replaced whole"
    assert result["diff"]["before"]["version"] == "1.0.0" and result["diff"]["after"]["version"] == "2.0.0"
    assert siblings_of(pkg.dest) == ["tiny"]


def test_unchanged_run_has_an_equal_diff(pkg, capsys):
    run_module(capsys, mp.main, pkg.args)
    rc, result, _ = run_module(capsys, mp.main, pkg.args, diff=True)
    assert result["changed"] is False and result["diff"]["before"] == result["diff"]["after"]


def test_foreign_dest_is_refused_unless_force(pkg, capsys):
    os.makedirs(str(pkg.dest))
    with open(str(pkg.dest / "precious.txt"), "w") as f:
        f.write("mine")
    rc, result, _ = run_module(capsys, mp.main, pkg.args)
    assert rc == 1 and "holds files that this module did not write" in result["msg"] and "force: true" in result["msg"]
    assert os.path.exists(str(pkg.dest / "precious.txt"))
    rc, result, _ = run_module(capsys, mp.main, dict(pkg.args, force=True))
    assert rc == 0 and tree(pkg.dest) == model_files()


def test_empty_existing_dest_is_fine(pkg, capsys):
    os.makedirs(str(pkg.dest))
    assert run_module(capsys, mp.main, pkg.args)[0] == 0 and tree(pkg.dest) == model_files()


def test_dest_that_is_a_file_is_an_error(pkg, capsys):
    os.makedirs(str(pkg.dest.parent))
    pkg.dest.write_text("x")
    rc, result, _ = run_module(capsys, mp.main, pkg.args)
    assert rc == 1 and result["msg"] == "dest %s exists and is not a directory" % pkg.dest


@pytest.mark.skipif(os.geteuid() != 0, reason="changing the owner needs root")
def test_owner_group_and_modes(pkg, capsys):
    args = dict(pkg.args, owner="4321", group="4322", dir_mode="0750", file_mode="0640")
    rc, result, _ = run_module(capsys, mp.main, args)
    assert rc == 0
    for dirpath, _dirs, files in os.walk(str(pkg.dest)):
        st = os.stat(dirpath)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (4321, 4322, 0o750)
        for name in files:
            st = os.stat(os.path.join(dirpath, name))
            assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (4321, 4322, 0o640)
    assert run_module(capsys, mp.main, args)[1]["changed"] is False
    # a drifted mode is fixed without provisioning again
    os.chmod(str(pkg.dest / "config.json"), 0o600)
    ino = os.stat(str(pkg.dest / "config.json")).st_ino
    rc, result, _ = run_module(capsys, mp.main, args, check=True)
    assert result["changed"] is True and "would be fixed" in result["msg"]
    assert stat.S_IMODE(os.stat(str(pkg.dest / "config.json")).st_mode) == 0o600
    rc, result, _ = run_module(capsys, mp.main, args)
    assert result["changed"] is True and "1 paths fixed" in result["msg"]
    st = os.stat(str(pkg.dest / "config.json"))
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_ino == ino


def test_unknown_owner_name_says_to_use_a_uid(pkg, capsys):
    rc, result, _ = run_module(capsys, mp.main, dict(pkg.args, owner="no-such-user-embedops"))
    assert rc == 1 and "no such user on the host; give the numeric id" in result["msg"]


def test_bad_mode_is_an_error(pkg, capsys):
    rc, result, _ = run_module(capsys, mp.main, dict(pkg.args, file_mode="rw-r--r--"))
    assert rc == 1 and result["msg"] == "file_mode must be an octal mode such as '0755', not 'rw-r--r--'"


def test_proxy_option_routes_the_downloads(pkg, capsys):
    proxy = "http://127.0.0.1:%d" % pkg.index.server.server_address[1]
    args = dict(pkg.args, index_url="http://pypi.embedops.invalid/simple", proxy=proxy)
    rc, result, _ = run_module(capsys, mp.main, args)
    assert rc == 0, result["msg"]
    assert tree(pkg.dest) == model_files()
    assert pkg.index.requests[0]["raw"] == "http://pypi.embedops.invalid/simple/tiny-model/"
    assert result["identity"]["index_url"] == "http://pypi.embedops.invalid/simple"


def test_credentials_in_index_url_are_not_recorded(pkg, capsys):
    url = pkg.index.url.replace("http://", "http://user:s3cret@")
    rc, result, out = run_module(capsys, mp.main, dict(pkg.args, index_url=url))
    assert rc == 0 and result["identity"]["index_url"] == pkg.index.url
    assert "s3cret" not in json.dumps(manifest(pkg.dest))


# ---------------------------------------------------------------------------------------------
# source=path


def write_files(root, files):
    for rel, data in files.items():
        full = os.path.join(str(root), *rel.split("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)


def test_path_source_copies_and_is_idempotent(tmp_path, capsys):
    src = tmp_path / "upload" / "m"
    write_files(src, model_files())
    dest = tmp_path / "models" / "m"
    args = {"source": "path", "src": str(src), "dest": str(dest)}
    rc, result, _ = run_module(capsys, mp.main, args)
    assert rc == 0 and result["changed"] is True and tree(dest) == model_files()
    assert result["identity"] == {"source": "path", "src": str(src), "tree_sha256": result["checksum"]}
    assert run_module(capsys, mp.main, args)[1]["changed"] is False
    write_files(src, {"config.json": b'{"model_type": "bert", "changed": true}'})
    rc, result, _ = run_module(capsys, mp.main, args, check=True)
    assert result["changed"] is True and tree(dest) == model_files()
    rc, result, _ = run_module(capsys, mp.main, args)
    assert result["changed"] is True and tree(dest)["config.json"] == b'{"model_type": "bert", "changed": true}'


def test_path_source_follows_file_links(tmp_path, capsys):
    # a Hugging Face cache snapshot: its files are links into the repository's blobs directory
    repo = tmp_path / "hub" / "models--owner--name"
    write_files(repo / "blobs", {"weights": b"w" * 1000})
    src = repo / "snapshots" / SHA_MAIN
    write_files(src, {"config.json": b"{}"})
    os.symlink(os.path.join("..", "..", "blobs", "weights"), str(src / "model.safetensors"))
    dest = tmp_path / "m"
    rc, result, _ = run_module(capsys, mp.main, {"source": "path", "src": str(src), "dest": str(dest)})
    assert rc == 0 and not os.path.islink(str(dest / "model.safetensors"))
    assert tree(dest) == {"config.json": b"{}", "model.safetensors": b"w" * 1000}


def test_path_source_missing_src(tmp_path, capsys):
    rc, result, _ = run_module(capsys, mp.main,
                               {"source": "path", "src": str(tmp_path / "nope"), "dest": str(tmp_path / "m")})
    assert rc == 1 and result["msg"] == "src %s is not a directory on the host" % (tmp_path / "nope")


# ---------------------------------------------------------------------------------------------
# source=hub, against a test double of huggingface_hub


class FakeHfHub:
    """Test double of the huggingface_hub API this module uses, installed in sys.modules.

    HfApi(endpoint=, token=).model_info(repo_id, revision=, files_metadata=True) answers .sha and
    .siblings (rfilename, size, lfs.sha256) and snapshot_download(repo_id, revision=, local_dir=,
    allow_patterns=, ignore_patterns=, token=, endpoint=) writes the files into local_dir, keeping
    its metadata in local_dir/.cache/huggingface as the library does; files already there are not
    downloaded again (resume). Errors are raised with the library's class names.
    """

    def __init__(self):
        self.repos = {}  # repo_id -> {"refs": {name: sha}, "commits": {sha: {path: bytes}}, "gated": bool}
        self.calls = []
        self.downloaded = []
        self.fail_download = None  # exception to raise from snapshot_download after fail_after files
        self.fail_after = 0

        module = types.ModuleType("huggingface_hub")
        utils = types.ModuleType("huggingface_hub.utils")

        class HfHubHTTPError(OSError):
            pass

        class RepositoryNotFoundError(HfHubHTTPError):
            pass

        class GatedRepoError(RepositoryNotFoundError):
            pass

        class RevisionNotFoundError(HfHubHTTPError):
            pass

        class EntryNotFoundError(Exception):
            pass

        class LocalEntryNotFoundError(FileNotFoundError, EntryNotFoundError):
            pass

        for cls in (HfHubHTTPError, RepositoryNotFoundError, GatedRepoError, RevisionNotFoundError,
                    EntryNotFoundError, LocalEntryNotFoundError):
            setattr(utils, cls.__name__, cls)
        fake = self

        class HfApi:
            def __init__(self, endpoint=None, token=None):
                self.endpoint = endpoint
                self.token = token

            def model_info(self, repo_id, revision=None, files_metadata=False, token=None):
                fake.calls.append(("model_info", repo_id, revision, self.endpoint, self.token))
                sha, files = fake.resolve(repo_id, revision, self.token)
                siblings = [types.SimpleNamespace(
                    rfilename=p, size=len(d) if files_metadata else None,
                    lfs=types.SimpleNamespace(sha256=hashlib.sha256(d).hexdigest(), size=len(d))
                    if p.endswith(".safetensors") and files_metadata else None)
                    for p, d in sorted(files.items())]
                return types.SimpleNamespace(id=repo_id, sha=sha, siblings=siblings)

        def snapshot_download(repo_id, revision=None, local_dir=None, allow_patterns=None, ignore_patterns=None,
                              token=None, endpoint=None, **kwargs):
            fake.calls.append(("snapshot_download", repo_id, revision, endpoint, token, allow_patterns,
                               ignore_patterns, local_dir))
            sha, files = fake.resolve(repo_id, revision, token)
            meta = os.path.join(local_dir, ".cache", "huggingface", "download")
            os.makedirs(meta, exist_ok=True)
            written = 0
            for path, data in sorted(files.items()):
                if allow_patterns and not any(fnmatch.fnmatch(path, p) for p in allow_patterns):
                    continue
                if ignore_patterns and any(fnmatch.fnmatch(path, p) for p in ignore_patterns):
                    continue
                target = os.path.join(local_dir, *path.split("/"))
                marker = os.path.join(meta, path.replace("/", "_") + ".metadata")
                if os.path.exists(target) and os.path.exists(marker):
                    with open(marker) as f:
                        if f.read() == sha:
                            continue
                if fake.fail_download is not None and written >= fake.fail_after:
                    raise fake.fail_download
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as f:
                    f.write(data)
                with open(marker, "w") as f:
                    f.write(sha)
                fake.downloaded.append(path)
                written += 1
            return local_dir

        module.HfApi = HfApi
        module.snapshot_download = snapshot_download
        module.utils = utils
        module.__version__ = "0.0.0-fake"
        self.module = module
        self.utils = utils

    def resolve(self, repo_id, revision, token):
        repo = self.repos.get(repo_id)
        if repo is None:
            raise self.utils.RepositoryNotFoundError("401 Client Error. Repository Not Found for url: "
                                                     "https://huggingface.co/api/models/%s" % repo_id)
        if repo.get("gated") and token != repo.get("token"):
            raise self.utils.GatedRepoError("403 Client Error. Cannot access gated repo for url "
                                            "https://huggingface.co/api/models/%s" % repo_id)
        sha = repo["refs"].get(revision, revision if revision in repo["commits"] else None)
        if sha is None:
            raise self.utils.RevisionNotFoundError(
                "404 Client Error. Revision Not Found for url: https://huggingface.co/api/models/%s/revision/%s"
                % (repo_id, revision))
        return sha, repo["commits"][sha]


def hub_files(tag="v1"):
    files = dict(model_files(tag))
    files["README.md"] = b"# tiny\n"
    files["onnx/model.onnx"] = b"onnx" * 100
    return files


@pytest.fixture
def hub(monkeypatch, tmp_path):
    fake = FakeHfHub()
    fake.repos["acme/tiny"] = {"refs": {"main": SHA_MAIN},
                               "commits": {SHA_MAIN: hub_files(), SHA_NEXT: hub_files("v2")}}
    fake.repos["acme/gated"] = {"refs": {"main": SHA_MAIN}, "commits": {SHA_MAIN: hub_files()}, "gated": True,
                                "token": "hf_goodtoken"}
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake.module)
    monkeypatch.setitem(sys.modules, "huggingface_hub.utils", fake.utils)
    dest = tmp_path / "models" / "tiny"
    args = {"source": "hub", "repo_id": "acme/tiny", "dest": str(dest), "ignore_patterns": ["onnx/*", "*.md"]}
    return types.SimpleNamespace(fake=fake, dest=dest, args=args)


def test_hub_resolves_the_revision_and_provisions(hub, capsys):
    rc, result, _ = run_module(capsys, mp.main, dict(hub.args, token="hf_secret_token_1"))
    assert rc == 0, result
    assert result["changed"] is True
    assert result["identity"] == {"source": "hub", "repo_id": "acme/tiny", "revision": "main", "commit": SHA_MAIN,
                                  "allow_patterns": None, "ignore_patterns": ["*.md", "onnx/*"],
                                  "endpoint": "https://huggingface.co"}
    assert tree(hub.dest) == model_files(), "ignored patterns are not downloaded, .cache is not in the tree"
    assert not os.path.exists(str(hub.dest / ".cache"))
    snapshot = [c for c in hub.fake.calls if c[0] == "snapshot_download"][0]
    assert snapshot[2] == SHA_MAIN, "the download is pinned to the resolved commit"
    assert snapshot[4] == "hf_secret_token_1"
    assert snapshot[7] == str(hub.dest) + ".partial"
    assert manifest(hub.dest)["identity"]["commit"] == SHA_MAIN
    assert siblings_of(hub.dest) == ["tiny"]


def test_hub_is_idempotent_by_commit_sha(hub, capsys):
    run_module(capsys, mp.main, hub.args)
    hub.fake.calls.clear()
    rc, result, _ = run_module(capsys, mp.main, hub.args)
    assert rc == 0 and result["changed"] is False
    assert [c[0] for c in hub.fake.calls] == ["model_info"], "main is resolved, nothing downloaded"
    hub.fake.repos["acme/tiny"]["refs"]["main"] = SHA_NEXT  # main moves on
    rc, result, _ = run_module(capsys, mp.main, hub.args, check=True, diff=True)
    assert result["changed"] is True and result["diff"]["before"]["commit"] == SHA_MAIN
    assert result["diff"]["after"]["commit"] == SHA_NEXT and tree(hub.dest) == model_files()
    rc, result, _ = run_module(capsys, mp.main, hub.args)
    assert result["changed"] is True and result["identity"]["commit"] == SHA_NEXT
    assert tree(hub.dest) == model_files("v2")


def test_hub_pinned_sha_needs_no_hub_when_in_place(hub, capsys, monkeypatch):
    args = dict(hub.args, revision=SHA_MAIN)
    assert run_module(capsys, mp.main, args)[1]["changed"] is True
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # the library is gone and the Hub unreachable
    rc, result, _ = run_module(capsys, mp.main, args)
    assert rc == 0 and result["changed"] is False and result["identity"]["commit"] == SHA_MAIN


def test_hub_changed_patterns_reprovision(hub, capsys):
    run_module(capsys, mp.main, hub.args)
    rc, result, _ = run_module(capsys, mp.main,
                               dict(hub.args, allow_patterns=["*.json", "*.safetensors"], ignore_patterns=[]))
    assert result["changed"] is True
    assert sorted(tree(hub.dest)) == ["1_Pooling/config.json", "config.json", "model.safetensors", "tokenizer.json"]


def test_hub_patterns_that_match_nothing(hub, capsys):
    rc, result, _ = run_module(capsys, mp.main, dict(hub.args, allow_patterns=["*.gguf"]))
    assert rc == 1
    assert result["msg"].startswith("allow_patterns/ignore_patterns leave no file of acme/tiny at aaaaaaaaaaaa")


def test_hub_check_mode_downloads_nothing(hub, capsys):
    rc, result, _ = run_module(capsys, mp.main, hub.args, check=True)
    assert rc == 0 and result["changed"] is True and result["identity"]["commit"] == SHA_MAIN
    assert [c[0] for c in hub.fake.calls] == ["model_info"]
    assert not os.path.exists(str(hub.dest.parent))


def test_hub_gated_without_token(hub, capsys):
    rc, result, _ = run_module(capsys, mp.main, dict(hub.args, repo_id="acme/gated"))
    assert rc == 1 and result["kind"] == "gated"
    assert result["msg"] == ("acme/gated is gated: accept its terms on the Hub (https://huggingface.co/acme/gated) "
                             "and set token (hf_token)")
    rc, result, _ = run_module(capsys, mp.main, dict(hub.args, repo_id="acme/gated", hf_token="hf_goodtoken"))
    assert rc == 0 and result["changed"] is True


def test_hub_not_found_names_the_endpoint(hub, capsys):
    rc, result, _ = run_module(capsys, mp.main, dict(hub.args, repo_id="acme/nope"))
    assert rc == 1
    assert result["msg"] == "repository acme/nope not found on https://huggingface.co (or it is private: set token)"
    rc, result, _ = run_module(
        capsys, mp.main, dict(hub.args, repo_id="acme/nope", endpoint="https://hf-mirror.example/"))
    assert result["msg"] == "repository acme/nope not found on https://hf-mirror.example (or it is private: set token)"
    assert hub.fake.calls[-1][3] == "https://hf-mirror.example", "the mirror is passed to the library"
    assert os.environ["HF_ENDPOINT"] == "https://hf-mirror.example"


def test_hub_revision_not_found(hub, capsys):
    rc, result, _ = run_module(capsys, mp.main, dict(hub.args, revision="v9"))
    assert rc == 1 and result["kind"] == "revision_not_found"
    assert result["msg"].startswith("revision v9 not found in acme/tiny on https://huggingface.co")


def test_hub_token_never_in_result(hub, capsys):
    token = "hf_TopSecretTokenValue42"
    rc, result, out = run_module(capsys, mp.main, dict(hub.args, token=token))
    assert rc == 0 and token not in out
    hub.fake.fail_download = RuntimeError("boom with %s inside" % token)
    rc, result, out = run_module(capsys, mp.main, dict(hub.args, token=token, revision=SHA_NEXT))
    assert rc == 1 and token not in out and "boom with ******** inside" in result["msg"]
    assert token not in json.dumps(manifest(hub.dest))


def test_hub_missing_library(hub, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    rc, result, _ = run_module(capsys, mp.main, hub.args)
    assert rc == 1 and result["msg"].startswith(
        "source=hub needs the Python package huggingface_hub on the host: pip install huggingface_hub")
    assert "Failed to import the required Python library (huggingface_hub)" in result["msg"]


def test_hub_interrupted_download_resumes(hub, capsys):
    hub.fake.fail_download = hub.fake.utils.HfHubHTTPError("500 Server Error: connection reset")
    hub.fake.fail_after = 2
    rc, result, _ = run_module(capsys, mp.main, hub.args)
    assert rc == 1 and "HfHubHTTPError: 500 Server Error" in result["msg"]
    assert not os.path.exists(str(hub.dest)) and os.path.isdir(str(hub.dest) + ".partial")
    first = list(hub.fake.downloaded)
    assert len(first) == 2
    hub.fake.fail_download = None
    rc, result, _ = run_module(capsys, mp.main, hub.args)
    assert rc == 0 and tree(hub.dest) == model_files()
    assert not set(first) & set(hub.fake.downloaded[2:]), "files already downloaded are not fetched again"
    assert siblings_of(hub.dest) == ["tiny"]


def test_hub_staging_of_another_commit_is_not_reused(hub, capsys):
    hub.fake.fail_download = hub.fake.utils.HfHubHTTPError("500")
    hub.fake.fail_after = 1
    run_module(capsys, mp.main, dict(hub.args, revision=SHA_NEXT))
    hub.fake.fail_download = None
    rc, result, _ = run_module(capsys, mp.main, hub.args)
    assert rc == 0 and tree(hub.dest) == model_files(), "nothing of the other commit leaks in"


def test_hub_no_space(hub, capsys):
    hub.fake.fail_download = OSError(errno.ENOSPC, "No space left on device")
    rc, result, _ = run_module(capsys, mp.main, hub.args)
    assert rc == 1 and result["msg"].startswith("no space left on %s (filesystem mounted at " % hub.dest.parent)
    assert "the files of acme/tiny: it needs" in result["msg"]
    assert "the next run resumes it" in result["msg"]


def test_hub_download_that_does_not_match_the_hub_records(hub, capsys, monkeypatch):
    real = hub.fake.module.snapshot_download

    def corrupting(repo_id, **kwargs):
        out = real(repo_id, **kwargs)
        with open(os.path.join(kwargs["local_dir"], "model.safetensors"), "r+b") as f:
            f.write(b"XX")
        return out

    monkeypatch.setattr(hub.fake.module, "snapshot_download", corrupting)
    rc, result, _ = run_module(capsys, mp.main, hub.args)
    assert rc == 1 and "does not match the Hub's records (model.safetensors has sha256" in result["msg"]
    assert siblings_of(hub.dest) == []
