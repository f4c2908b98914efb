"""The documentation tells the truth: every command and snippet of README.md and docs/ runs.

Each page is parsed with Sybil and its examples run in order, in a fresh folder of its own
(one Python namespace per page). The conventions a page follows:

- A ```python block runs as it is; blocks of one page share their names.
- A ```console block holds commands, each on a line starting with ``$ ``, run with bash
  in the page's folder, with ``lifsim`` and ``python`` the ones under test. The lines after
  a command, up to the next command, are what it prints (stdout and stderr together),
  compared with doctest's ``ELLIPSIS`` (``...`` matches anything) and
  ``NORMALIZE_WHITESPACE``; a command followed by no lines is not compared. A command whose
  shown output has ``lifsim: error:`` must exit with status 2, any other with status 0.
- A ```toml block starts with a line ``# file: NAME.toml``: it is written to that file in
  the page's folder, for the commands and snippets after it.
- A block that cannot run in the tests (a GPU, other simulators, an hour of benchmarks,
  an installation) is preceded by the comment ``<!-- skip: next -->`` (Sybil's) on a
  line of its own between blank lines, and the paragraph before that comment, visible on
  the page, starts with ``Not run by the tests:`` and gives the reason.
- Other fenced blocks (``text``, or no language) show no commands: no line starts with
  ``$ `` or ``lifsim ``.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lifsim

sybil = pytest.importorskip("sybil")
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))
RUN_LANGUAGES = {"python", "console", "toml"}
SHOW_LANGUAGES = {"", "text"}
NOT_RUN = "Not run by the tests:"
SKIP = "<!-- skip: next -->"
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<language>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                   re.MULTILINE | re.DOTALL)
CHECKER = doctest.OutputChecker()
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
#: Seconds one documented command may take before the test gives up on it.
COMMAND_TIMEOUT_S = 300


def console_commands(text: str) -> list[tuple[str, str]]:
    """A console block's (command, shown output) pairs."""
    pairs = []
    for line in text.splitlines():
        if line.startswith("$ "):
            pairs.append([line[2:], []])
        elif pairs:
            pairs[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"a console block must start with a command ('$ ...'), not {line!r}")
    return [(command, "\n".join(output).strip("\n")) for command, output in pairs]


def run_console(example) -> str | None:
    """Run a console block's commands; a difference from the shown output is the failure."""
    folder, env = example.namespace["__folder__"], example.namespace["__env__"]
    for command, shown in console_commands(example.parsed):
        done = subprocess.run(["bash", "-c", command], cwd=folder, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=COMMAND_TIMEOUT_S)
        expected_status = 2 if "lifsim: error:" in shown else 0
        if done.returncode != expected_status:
            return (f"$ {command}\nexited with status {done.returncode}, not {expected_status}; it printed:\n"
                    f"{done.stdout[-3000:]}")
        if shown and not CHECKER.check_output(shown + "\n", done.stdout, FLAGS):
            return f"$ {command}\nshown in the docs:\n{shown}\nprinted:\n{done.stdout[-3000:]}"
    return None


def write_toml(example) -> str | None:
    """Write a TOML block to the file its first line names."""
    first, _, body = example.parsed.partition("\n")
    match = re.fullmatch(r"# file: (?P<name>[\w.-]+\.toml)\s*", first)
    if match is None:
        return f"a toml block must start with '# file: NAME.toml' (got {first!r})"
    (example.namespace["__folder__"] / match["name"]).write_text(example.parsed)
    return None


SYBIL = sybil.Sybil(parsers=[PythonCodeBlockParser(doctest_optionflags=FLAGS),
                             CodeBlockParser("console", run_console), CodeBlockParser("toml", write_toml),
                             SkipParser()])


def tools(folder: Path) -> dict:
    """An environment whose ``lifsim`` and ``python`` are this test run's interpreter and lifsim."""
    bin_dir = folder / ".bin"
    bin_dir.mkdir()
    for name, line in (("lifsim", f'exec "{sys.executable}" -m lifsim "$@"'),
                       ("python", f'exec "{sys.executable}" "$@"')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{line}\n")
        (bin_dir / name).chmod(0o755)
    package_parent = str(Path(lifsim.__file__).resolve().parents[1])
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
    return env


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_as_shown(page, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    env = tools(tmp_path)
    document = SYBIL.parse(ROOT / page)
    document.namespace.update(__folder__=work, __env__=env)
    monkeypatch.chdir(work)
    for example in document.examples():
        example.evaluate()


def fenced_blocks(text: str):
    for match in FENCE.finditer(text):
        yield match["language"], match["body"], text[:match.start()]


@pytest.mark.parametrize("page", PAGES)
def test_blocks_follow_the_conventions(page):
    text = (ROOT / page).read_text()
    for language, body, before in fenced_blocks(text):
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", before) if p.strip()]
        where = f"{page}, block at line {before.count(chr(10)) + 1}"
        if paragraphs and paragraphs[-1] == SKIP:
            assert len(paragraphs) > 1 and paragraphs[-2].lstrip("*_").startswith(NOT_RUN), \
                f"{where}: a skipped block needs a visible paragraph '{NOT_RUN} <reason>' before its skip comment"
        assert language in RUN_LANGUAGES | SHOW_LANGUAGES, f"{where}: language {language!r} is not run " \
            f"(use python, console or toml, or text for what is not a command)"
        if language in SHOW_LANGUAGES:
            commands = [line for line in body.splitlines() if line.startswith(("$ ", "lifsim ", "python "))]
            assert not commands, f"{where}: shows commands in a block that is not run: {commands[0]!r}"
    assert "skip: start" not in text and "skip: end" not in text, f"{page}: skip one block at a time"


def test_the_conventions_are_checked():
    """The harness itself: a shown output that differs fails; '...' matches anything."""
    assert console_commands("$ echo a\na\n$ true\n") == [("echo a", "a"), ("true", "")]
    assert CHECKER.check_output("lifsim: error: dt ... (got 20)\n", "lifsim: error: dt must be in (0, 10] (got 20)\n",
                                FLAGS)
    assert not CHECKER.check_output("lifsim: error: dt\n", "lifsim: error: seed\n", FLAGS)
    with pytest.raises(ValueError):
        console_commands("lifsim run square\n")


def test_no_page_refers_outside_the_repository():
    """The repository is self-contained: no page, help text or script points at files outside it
    or at issue numbers a user cannot follow."""
    texts = {page: (ROOT / page).read_text() for page in PAGES}
    texts.update({str(p.relative_to(ROOT)): p.read_text() for p in sorted((ROOT / "src").rglob("*.py"))})
    texts.update({str(p.relative_to(ROOT)): p.read_text() for p in sorted((ROOT / "benchmarks").glob("*.py"))})
    for name, text in texts.items():
        assert "../shared" not in text and "shared/" not in text, name
        assert not re.search(r"(?i)\bissues?\s*#?\d+|(?<![\w&])#\d{1,4}\b", text), name
