"""Render the bad-input catalogue (tests/bad_input/catalogue.yml) as the table in README.md.

  python scripts/bad-input-table.py           write the table between the README's markers
  python scripts/bad-input-table.py --check   exit 1 when the README's table is not the catalogue's

The catalogue is what tests/integration/test_bad_input.py runs, so the README cannot promise a refusal
that no test makes.
"""

import argparse
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOGUE = os.path.join(ROOT, "tests", "bad_input", "catalogue.yml")
README = os.path.join(ROOT, "README.md")
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
    parser.add_argument("--check", action="store_true", help="fail when README.md's table differs")
    args = parser.parse_args()
    with open(CATALOGUE) as handle:
        cases = yaml.safe_load(handle)
    with open(README) as handle:
        readme = handle.read()
    if readme.count(START) != 1 or readme.count(END) != 1 or readme.index(START) > readme.index(END):
        sys.exit("README.md needs one %s ... %s block for the bad-input table" % (START, END))
    head, rest = readme.split(START, 1)
    current, tail = rest.split(END, 1)
    wanted = "\n" + table(cases)
    if args.check:
        if current != wanted:
            sys.exit("README.md's bad-input table differs from tests/bad_input/catalogue.yml: "
                     "run python scripts/bad-input-table.py")
        return
    with open(README, "w") as handle:
        handle.write(head + START + wanted + END + tail)


if __name__ == "__main__":
    main()
