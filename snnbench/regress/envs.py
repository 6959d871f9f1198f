"""The environments of an A/B run: what each side installs, and its cached virtualenv.

A side is described by one or more specs:

- ``jaxley==0.13.0`` (anything else pip understands): installed next to this
  snnbench checkout;
- ``NAME@REV`` (a git revision of ``repo``): that revision's files are
  exported with ``git archive`` and installed; ``snnbench@REV`` replaces this
  checkout;
- a local folder (a package with pyproject.toml or setup.py): installed as it
  is now (reinstalled on every run, so edits count).

Each side is a real, separate virtual environment (``python -m venv`` + pip),
cached under ``.snnbench-envs/<key>`` where the key hashes what was installed.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import re
import subprocess
import sys
import tarfile
from dataclasses import asdict, dataclass
from pathlib import Path

from snnbench.errors import SnnbenchError
from snnbench.measure.runner import BenchTarget

ENV_ROOT = Path(".snnbench-envs")
_GIT_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)@(?P<rev>[^\s@:]+)$")
_READY = "ready.json"


@dataclass(frozen=True)
class Requirement:
    """One thing to install into an environment.

    Attributes:
        kind: "pip" (a requirement string), "git" (a revision of a repository)
            or "path" (a local package folder).
        spec: the text the user gave.
        name: the package name ("git"), or the folder name ("path").
        location: the requirement ("pip"), full commit hash ("git"), or
            absolute folder ("path").
    """

    kind: str
    spec: str
    name: str
    location: str

    @property
    def is_snnbench(self) -> bool:
        return self.kind in ("git", "path") and self.name == "snnbench"


def parse_spec(text: str, repo: Path) -> Requirement:
    """Interpret ``--a-spec`` / ``--b-spec`` text; git revisions are resolved to commits."""
    text = text.strip()
    if not text:
        raise SnnbenchError("`spec` must not be empty; got ''", argument="spec")
    folder = Path(text).expanduser()
    if folder.is_dir():
        if not ((folder / "pyproject.toml").exists() or (folder / "setup.py").exists()):
            raise SnnbenchError(f"`spec` folder must hold pyproject.toml or setup.py; got {text!r}")
        name = "snnbench" if (folder / "snnbench" / "__init__.py").exists() else folder.name
        return Requirement("path", text, name, str(folder.resolve()))
    match = _GIT_SPEC.match(text)
    if match:
        commit = resolve_revision(repo, match["rev"])
        return Requirement("git", text, match["name"], commit)
    return Requirement("pip", text, "", text)


def resolve_revision(repo: Path, rev: str) -> str:
    """The full commit hash of ``rev`` in ``repo``."""
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SnnbenchError(
            f"`spec` revision {rev!r} is not a commit of the git repository "
            f"{str(repo)!r}; pass --repo, or fetch it (git fetch origin {rev})"
        )
    return done.stdout.strip()


def env_key(requirements: tuple[Requirement, ...], python_version: str | None = None) -> str:
    """Cache key of an environment: Python version and what is installed (order-free)."""
    python_version = python_version or platform.python_version()
    described = sorted((r.kind, r.name, r.location) for r in requirements)
    digest = hashlib.sha256(json.dumps([python_version, described]).encode()).hexdigest()
    return digest[:16]


@dataclass(frozen=True)
class Environment:
    """A ready environment: its interpreter and what its benchmark processes collect."""

    side: str
    requirements: tuple[Requirement, ...]
    folder: Path
    python: Path
    bench: BenchTarget

    @property
    def label(self) -> str:
        return " + ".join(r.spec for r in self.requirements)


def _export_revision(repo: Path, req: Requirement, folder: Path) -> Path:
    """The files of a git revision, exported once into ``folder/src``."""
    target = folder / "src" / f"{req.name}-{req.location[:12]}"
    if (target / ".exported").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", req.location],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    (target / ".exported").write_text(req.location)
    return target


def _pip(python: Path, *args: str) -> None:
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise SnnbenchError(f"`spec`: pip could not install {' '.join(args)!r}: {tail}")


def install_arguments(
    requirements: tuple[Requirement, ...], sources: dict[str, Path], checkout: Path
) -> list[str]:
    """pip arguments: snnbench (this checkout unless a spec replaces it), then the specs."""
    args = [] if any(r.is_snnbench for r in requirements) else ["-e", str(checkout)]
    for r in requirements:
        args.append(str(sources[r.spec]) if r.kind in ("git", "path") else r.location)
    return args


def prepare(
    side: str,
    requirements: tuple[Requirement, ...],
    repo: Path,
    env_root: Path = ENV_ROOT,
    checkout: Path | None = None,
) -> Environment:
    """Create (or reuse) the cached virtual environment for ``requirements``."""
    checkout = checkout or Path(__file__).resolve().parents[2]
    folder = Path(env_root) / env_key(requirements)
    python = folder / "venv" / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    sources = {
        r.spec: (_export_revision(repo, r, folder) if r.kind == "git" else Path(r.location))
        for r in requirements
        if r.kind in ("git", "path")
    }
    if not (folder / _READY).exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True)
        _pip(python, *install_arguments(requirements, sources, checkout))
        ready = {
            "requirements": [asdict(r) for r in requirements],
            "python": platform.python_version(),
        }
        (folder / _READY).write_text(json.dumps(ready, indent=2))
    else:  # local folders may have changed since the environment was made
        for r in requirements:
            if r.kind == "path":
                _pip(python, "--no-deps", "--force-reinstall", str(sources[r.spec]))
    snnbench_src = next((sources[r.spec] for r in requirements if r.is_snnbench), checkout)
    return Environment(side, requirements, folder, python, bench_target(snnbench_src))


def bench_target(snnbench_src: Path) -> BenchTarget:
    """The benchmark an environment's snnbench runs: its installed plugin, or (for
    revisions older than the plugin) the ``bench/`` folder of its source."""
    if (snnbench_src / "snnbench" / "measure" / "bench_cases.py").exists():
        return BenchTarget.installed()
    return BenchTarget.folder(snnbench_src / "bench", plugin=False)


def installed_versions(env: Environment) -> dict[str, str]:
    """Versions of the packages that shape the numbers, as the environment reports them."""
    code = (
        "import json; from importlib.metadata import version as v\n"
        "out = {}\nfor n in ('snnbench', 'jax', 'jaxlib', 'jaxley'):\n"
        "    try: out[n] = v(n)\n    except Exception: out[n] = 'not installed'\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run([str(env.python), "-c", code], capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else {}
