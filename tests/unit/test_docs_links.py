"""Every relative link in README.md, CHANGELOG.md and docs/ points at something that exists.

A link to a file must name an existing file or folder of this repository; a link with #anchor into a Markdown
file must name one of its headings, as GitHub turns headings into anchors. Links to other sites are not
followed (nothing here may reach them), and code (fenced blocks, `inline`) is not read for links.
"""

import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = sorted(
    [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "CHANGELOG.md")]
    + glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True)
)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def _text_without_code(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return INLINE_CODE.sub("", FENCE.sub("", text))


def anchors(path):
    """The anchors GitHub gives the headings of a Markdown file (lower case, punctuation dropped, - for blanks)."""
    with open(path, encoding="utf-8") as handle:
        text = FENCE.sub("", handle.read())
    seen = {}
    found = set()
    for heading in HEADING.findall(text):
        heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else "%s-%d" % (slug, count))
    return found


def relative_links(path):
    for target in LINK.findall(_text_without_code(path)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto: ...
            continue
        yield target


CASES = [(path, target) for path in DOCS for target in relative_links(path)]


def test_the_docs_have_links_to_check():
    assert os.path.join(ROOT, "docs", "architecture.md") in DOCS
    assert len(CASES) > 10


@pytest.mark.parametrize("path,target", CASES,
                         ids=["%s -> %s" % (os.path.relpath(p, ROOT), t) for p, t in CASES])
def test_relative_link_resolves(path, target):
    file_part, anchor = (target.split("#", 1) + [""])[:2]
    resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
    where = os.path.relpath(path, ROOT)
    assert resolved.startswith(ROOT + os.sep), "%s links outside the repository: %s" % (where, target)
    assert os.path.exists(resolved), "%s links to %s, which does not exist" % (where, target)
    if anchor and resolved.endswith(".md"):
        assert anchor in anchors(resolved), "%s links to #%s, which is no heading of %s" % (
            where, anchor, os.path.relpath(resolved, ROOT))
