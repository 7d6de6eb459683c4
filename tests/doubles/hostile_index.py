# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HostileIndex: a TEST DOUBLE of a Python package index that tries to harm its client.

It serves the PEP 503 "simple" HTML API, as pip and model_provision read it, on 127.0.0.1 only
(an ephemeral port), from a thread of the test process:

  GET /simple/               the project list (<a href="name/">name</a> per project)
  GET /simple/<project>/     one <a href="URL#sha256=HEX">FILENAME</a> per file; the URL and the
                             file name are whatever the test put there, hostile or not
  GET /files/<name>          the bytes of a file added with add_file()

What makes it hostile is only what a test configures:
  - a link's URL may be anything: file:///etc/shadow, http://169.254.169.254/..., another origin;
  - a link's file name may be anything: ../../escape.whl, a/b.whl;
  - answer every request with an HTTP error (fail_status) whose body echoes what the client sent;
  - require HTTP basic authentication (credentials), answering 401 without it, as private
    indexes do, so that a test can tell whether the client sent them, and to which origin.

Every request is recorded (method, path, headers) in `requests`. Nothing here is used outside tests.
"""

import base64
import hashlib
import html
from urllib.parse import quote, unquote, urlsplit

from doubles.server_thread import QuietHandler, local_server, start


class HostileIndex:
    """A PEP 503 simple index on 127.0.0.1 whose links, file names and answers a test chooses."""

    def __init__(self):
        self.projects = {}  # normalized project name -> [(href, file name)]
        self.files = {}  # name under /files/ -> bytes
        self.requests = []
        self.fail_status = None  # answer every request with this HTTP status
        self.credentials = None  # (user, password) required as HTTP basic authentication
        self.server = local_server(self._handler())
        self.stop = start(self.server)

    @property
    def origin(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    @property
    def url(self):
        """The index's base URL (the simple API root), without credentials."""
        return self.origin + "/simple"

    def url_with(self, user, password):
        return "http://%s:%s@127.0.0.1:%d/simple" % (quote(user, safe=""), quote(password, safe=""),
                                                     self.server.server_address[1])

    def add_file(self, name, data):
        """Serve data at /files/<name>; returns its absolute URL."""
        self.files[name] = data
        return "%s/files/%s" % (self.origin, quote(name))

    def add_link(self, project, filename, href, sha256=None):
        """List filename on /simple/<project>/ as a link to href (relative, absolute, any scheme), with a hash."""
        if sha256:
            href = "%s#sha256=%s" % (href, sha256)
        self.projects.setdefault(project, []).append((href, filename))

    def add_wheel(self, project, filename, data):
        """A well-behaved entry: the file on this index's own origin, its sha256 in the link."""
        self.add_file(filename, data)
        self.add_link(project, filename, "../../files/%s" % quote(filename), hashlib.sha256(data).hexdigest())

    def requests_to(self, prefix):
        return [r for r in self.requests if r["path"].startswith(prefix)]

    def close(self):
        self.stop()

    def _handler(self):
        index = self

        class Handler(QuietHandler):
            content_type = "text/html; charset=utf-8"

            def authorized(self):
                if index.credentials is None:
                    return True
                token = base64.b64encode(("%s:%s" % index.credentials).encode()).decode()
                return self.headers.get("Authorization") == "Basic " + token

            def do_GET(self):  # noqa: N802 - http.server's name
                path = unquote(urlsplit(self.path).path)
                index.requests.append({"method": "GET", "path": path, "headers": dict(self.headers.items())})
                if index.fail_status:
                    # an error page that echoes the request, as some misconfigured servers do
                    echo = "%s %s\n%s" % (self.command, self.path, self.headers)
                    return self.send(index.fail_status, echo.encode(), "text/plain")
                if not self.authorized():
                    return self.send(401, b"Unauthorized", "text/plain",
                                     extra={"WWW-Authenticate": 'Basic realm="hostile index"'})
                parts = [p for p in path.split("/") if p]
                if parts == ["simple"]:
                    return self.send(200, page("Simple index", [(quote(name) + "/", name) for name in index.projects]))
                if len(parts) == 2 and parts[0] == "simple" and parts[1] in index.projects:
                    return self.send(200, page("Links for %s" % parts[1], index.projects[parts[1]]))
                if len(parts) == 2 and parts[0] == "files" and parts[1] in index.files:
                    return self.send(200, index.files[parts[1]], "application/octet-stream")
                return self.send(404, b"Not Found", "text/plain")

        return Handler


def page(title, links):
    """A PEP 503 page: an HTML5 document with one anchor per link, the text being the file name."""
    anchors = "".join('    <a href="%s">%s</a><br/>\n' % (html.escape(href, quote=True), html.escape(text))
                      for href, text in links)
    return ('<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="1.0">\n'
            "    <title>%s</title>\n  </head>\n  <body>\n    <h1>%s</h1>\n%s  </body>\n</html>\n"
            % (html.escape(title), html.escape(title), anchors)).encode("utf-8")
