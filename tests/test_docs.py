"""The README and docs say true things: every snippet runs or parses, every link resolves.

- ``python`` blocks are run, each in a fresh interpreter from the repository root
  (a block preceded by ``<!-- not run: REASON -->`` is skipped, with its reason);
- in ``bash``/``console`` blocks, every ``snnbench ...`` line must parse with the
  real command line, and every ``nox -s NAME`` must name a session of noxfile.py
  (whose arguments after ``--`` must parse too, for the sessions that run snnbench);
- every relative link must point at a file or folder inside the repository.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from snnbench.cli import build_parser
from snnbench.errors import SnnbenchError

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", ROOT / "results" / "README.md", *(ROOT / "docs").glob("*.md")])
_BLOCK = re.compile(
    r"(<!-- not run: (?P<why>[^>]*) -->\s*)?^```(?P<lang>\w*)\n(?P<body>.*?)^```", re.S | re.M
)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
#: nox sessions whose arguments after ``--`` are snnbench arguments of this subcommand.
_NOX_COMMANDS = {
    "bench": "bench",
    "report": "report",
    "tradeoffs": "tradeoffs",
    "profile": "profile",
    "compare": "compare",
    "ab": "ab",
    "noise-study": "noise-study",
}


def _blocks(lang: set[str]) -> list[tuple[str, int, str, str]]:
    out = []
    for page in PAGES:
        text = page.read_text()
        for match in _BLOCK.finditer(text):
            if match["lang"] in lang:
                line = text[: match.start("body")].count("\n") + 1
                out.append((f"{page.relative_to(ROOT)}:{line}", match["body"], match["why"] or ""))
    return out


PYTHON = _blocks({"python"})
SHELL = _blocks({"bash", "console", "sh"})


def _commands(body: str) -> list[list[str]]:
    """Command lines of a shell block: continuations joined, prompts and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", body)
    out = []
    for line in joined.splitlines():
        line = line.strip().removeprefix("$ ")
        line = line.split(" #", 1)[0].strip()
        for part in re.split(r"\s*(?:&&|;)\s*", line):
            if part.startswith(("snnbench ", "nox ")):
                out.append(shlex.split(part))
    return out


@pytest.mark.parametrize(("where", "code", "why"), PYTHON, ids=[p[0] for p in PYTHON])
def test_python_snippets_run(where, code, why):
    if why:
        pytest.skip(f"{where}: not run ({why})")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{where} failed:\n{done.stderr[-2000:]}"


def _nox_sessions() -> set[str]:
    """Session names of noxfile.py: each ``@nox.session`` function's ``name=`` or its own name."""
    names = set()
    for node in ast.parse((ROOT / "noxfile.py").read_text()).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            if ast.unparse(target) != "nox.session":
                continue
            named = [k.value.value for k in (call.keywords if call else []) if k.arg == "name"]
            names.add(named[0] if named else node.name)
    return names


@pytest.mark.parametrize(("where", "body", "why"), SHELL, ids=[s[0] for s in SHELL])
def test_shell_snippets_name_real_commands_and_flags(where, body, why):
    sessions = _nox_sessions()
    for argv in _commands(body):
        if any(part.isupper() or "<" in part or "..." in part for part in argv):
            continue  # a placeholder (BASELINE, <stamp>, ...): the shape is shown, not a command
        if argv[0] == "nox":
            name = argv[argv.index("-s") + 1] if "-s" in argv else "tests"
            assert name in sessions, f"{where}: no nox session {name!r}"
            extra = argv[argv.index("--") + 1 :] if "--" in argv else None
            if extra is None or name not in _NOX_COMMANDS:
                continue
            argv = ["snnbench", _NOX_COMMANDS[name], *extra]
        try:
            build_parser().parse_args(argv[1:])
        except SnnbenchError as error:
            pytest.fail(f"{where}: `{shlex.join(argv)}` does not parse: {error}")


def test_the_snippet_finder_finds_the_readmes_snippets():
    assert any(where.startswith("README.md") for where, _, _ in PYTHON)
    assert any(
        ["snnbench", "train"] == argv[:2] for _, body, _ in SHELL for argv in _commands(body)
    )
    assert {"tests", "bench", "noise-study", "lint"} <= _nox_sessions()


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_no_page_points_outside_the_repository(page):
    text = page.read_text()
    for outside in ("../shared", "/work/", "MEASURED.md"):
        assert outside not in text, f"{page.name} mentions {outside}, which users do not have"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_resolves_inside_the_repository(page):
    for target in _LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor on the same page
        path = (page.parent / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
        assert path.exists(), f"{page.name} links to a missing {target}"


def test_a_wrong_flag_in_a_snippet_would_be_caught():
    (argv,) = _commands("$ snnbench bench --batch-size 4 \\\n    --no-such-flag  # comment")
    with pytest.raises(SnnbenchError, match="unrecognized argument '--no-such-flag'"):
        build_parser().parse_args(argv[1:])
