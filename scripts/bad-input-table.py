"""Render the bad-input catalogue (tests/bad_input/catalogue.yml) as the table in docs/security.md.

  python scripts/bad-input-table.py           write the table between the markers in docs/security.md
  python scripts/bad-input-table.py --check   exit 1 when the table in docs/security.md is not the catalogue's

The catalogue is what tests/integration/test_bad_input.py runs, so the docs cannot promise a refusal
that no test makes.
"""

import argparse
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOGUE = os.path.join(ROOT, "tests", "bad_input", "catalogue.yml")
TARGET = os.path.join(ROOT, "docs", "security.md")
START, END = "<!-- bad-input-table:start -->", "<!-- bad-input-table:end -->"
# What the catalogue's tokens stand for in a reader's words.
SHOWN_AS = {
    "{tmp}": "/path/to", "{vllm_double}": "http://HOST:PORT/v1", "{closed_port}": "http://HOST:PORT/v1",
    "{ollama_double}": "http://HOST:11434", "{long_text}": "(600 words)",
}
AGAINST = {"real": "real", "vllm_double": "double (vLLM)", "ollama_double": "double (Ollama)"}


def cell(text):
    for token, shown in SHOWN_AS.items():
        text = text.replace(token, shown)
    text = " ".join(text.split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def table(cases):
    lines = ["| Component | Bad input | What the user sees | Tested against |", "|---|---|---|---|"]
    for case in cases:
        # The variable in code, where the input first names it.
        bad_input = re.sub(r"\b%s\b" % re.escape(case["variable"]), "`%s`" % case["variable"], cell(case["input"]),
                           count=1)
        lines.append("| %s | %s | %s | %s |" % (
            cell(case["component"]), bad_input, cell(case["message"]), AGAINST[case["against"]]))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the table in docs/security.md differs")
    args = parser.parse_args()
    with open(CATALOGUE) as handle:
        cases = yaml.safe_load(handle)
    with open(TARGET) as handle:
        doc = handle.read()
    if doc.count(START) != 1 or doc.count(END) != 1 or doc.index(START) > doc.index(END):
        sys.exit("docs/security.md needs one %s ... %s block for the bad-input table" % (START, END))
    head, rest = doc.split(START, 1)
    current, tail = rest.split(END, 1)
    wanted = "\n" + table(cases)
    if args.check:
        if current != wanted:
            sys.exit("The bad-input table in docs/security.md differs from tests/bad_input/catalogue.yml: "
                     "run python scripts/bad-input-table.py")
        return
    with open(TARGET, "w") as handle:
        handle.write(head + START + wanted + END + tail)


if __name__ == "__main__":
    main()
