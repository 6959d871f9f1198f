"""The environments of an A/B run: what each side installs, and its cached virtualenv.

A side is described by one or more specs:

- ``jaxley==0.13.0`` (anything else pip understands): installed next to this
  snnbench checkout;
- ``NAME@REV`` (a git revision of ``repo``): that revision's files are
  exported with ``git archive`` and installed; ``snnbench@REV`` replaces this
  checkout;
- a local folder (a package with pyproject.toml or setup.py): installed as it
  is now (reinstalled on every run, so edits count).

Each side is a real, separate virtual environment (``uv venv`` + ``uv pip`` where
uv is installed, else ``python -m venv`` + pip),
cached under ``.snnbench-envs/<key>``, where the key hashes what pip resolves the
specs to (``pip install --dry-run --report``) -- names, versions and the sources
of local packages -- so a cached environment is reused only when pip would
install exactly the same today. :func:`check_same_besides` refuses two
environments that differ in anything but the packages under test.

A bisect builds many environments that share most of their packages, so two
faster ways skip pip's resolution: :func:`prepare_exact` installs a complete set
of exact pins, and :func:`prepare_over` installs a revision over the packages of
another environment; both install without dependencies (``--no-deps``), then
let pip check that every requirement is met, and fall back to :func:`prepare`
when one is not. Their files are links into the installer's cache, the same
files in every environment, so a new environment is given the bytecode another
one already compiled for them (:func:`seed_bytecode`) rather than compiling jax
and its imports again in its first process.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from snnbench.errors import SnnbenchError

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


def normalize(name: str) -> str:
    """A package name as pip compares them (PEP 503): lower case, runs of -_. as -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def resolved_set(report: dict) -> list[tuple[str, str, str]]:
    """``(name, version, source)`` of everything a ``pip install --report`` resolved.

    ``source`` is the URL of a direct requirement (a local folder, an exported git
    revision), "" for an index package, whose name and version say it all.
    """
    out = []
    for item in report.get("install", []):
        meta = item.get("metadata", {})
        source = item.get("download_info", {}).get("url", "") if item.get("is_direct") else ""
        out.append((normalize(meta.get("name", "")), str(meta.get("version", "")), source))
    return sorted(out)


def env_key(
    resolved: list[tuple[str, str, str]], python_version: str | None = None, tag: str = ""
) -> str:
    """Cache key of an environment: Python's version and what pip resolved (order-free).

    Two specs that resolve to the same packages share an environment; a spec whose
    resolution changed (a new jax release, another commit) gets a new one.
    ``tag`` keeps otherwise identical environments apart (the noise study's sides).
    """
    python_version = python_version or platform.python_version()
    digest = hashlib.sha256(json.dumps([python_version, sorted(resolved), tag]).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Environment:
    """A ready environment: its interpreter, what pip installed, how its processes run.

    Attributes:
        side: "A" or "B".
        requirements: what the user asked to install.
        folder: the cached environment's folder.
        python: its interpreter.
        packages: normalized name -> version of everything installed in it.
        variables: extra environment variables for its benchmark processes.
    """

    side: str
    requirements: tuple[Requirement, ...]
    folder: Path
    python: Path
    packages: dict[str, str] = field(default_factory=dict)
    variables: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return " + ".join(r.spec for r in self.requirements)


def _export_revision(repo: Path, req: Requirement, root: Path) -> Path:
    """The files of a git revision, exported once into ``root/src``."""
    target = root / "src" / f"{req.name}-{req.location[:12]}"
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


def _installer(python: Path | str) -> list[str]:
    """``uv pip install`` into ``python``'s environment where uv is on PATH (many times
    faster at building environments), else that environment's own pip."""
    uv = shutil.which("uv")
    if uv and Path(python) != Path(sys.executable):
        return [uv, "pip", "install", "--python", str(python)]
    return [str(python), "-m", "pip", "install", "--disable-pip-version-check"]


def _new_venv(folder: Path) -> None:
    uv = shutil.which("uv")
    command = [uv, "venv", "--python", sys.executable] if uv else [sys.executable, "-m", "venv"]
    subprocess.run([*command, str(folder)], check=True, capture_output=True)


def _pip(python: Path | str, *args: str, quiet: bool = True) -> str:
    command = _installer(python)
    done = subprocess.run(
        [*command, *(["-q"] if quiet else []), *args], capture_output=True, text=True
    )
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise SnnbenchError(f"`spec`: pip could not install {' '.join(args)!r}: {tail}")
    return done.stdout


def _check(python: Path | str) -> str:
    """ "" when every installed package's requirements are met in ``python``'s
    environment (``pip check``), else pip's first complaints."""
    uv = shutil.which("uv")
    if uv and Path(python) != Path(sys.executable):
        command = [uv, "pip", "check", "--python", str(python)]
    else:
        command = [str(python), "-m", "pip", "check", "--disable-pip-version-check"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode == 0:
        return ""
    lines = (done.stdout + done.stderr).strip().splitlines()
    return " | ".join(line.strip() for line in lines[-3:]) or f"exit code {done.returncode}"


def install_arguments(
    requirements: tuple[Requirement, ...], sources: dict[str, Path], checkout: Path
) -> list[str]:
    """pip arguments: snnbench (this checkout unless a spec replaces it), then the specs."""
    args = [] if any(r.is_snnbench for r in requirements) else ["-e", str(checkout)]
    for r in requirements:
        args.append(str(sources[r.spec]) if r.kind in ("git", "path") else r.location)
    return args


def resolve_report(args: list[str]) -> dict:
    """pip's installation report for ``args`` into a fresh environment (nothing installed)."""
    report = _pip(sys.executable, "--dry-run", "--ignore-installed", "--report", "-", *args)
    return json.loads(report)


def resolve(args: list[str]) -> list[tuple[str, str, str]]:
    """What pip would install for ``args`` into a fresh environment (nothing installed)."""
    return resolved_set(resolve_report(args))


def prepare(
    side: str,
    requirements: tuple[Requirement, ...],
    repo: Path,
    env_root: Path = ENV_ROOT,
    checkout: Path | None = None,
    tag: str = "",
    variables: tuple[tuple[str, str], ...] = (),
) -> Environment:
    """Create (or reuse) the cached virtual environment for ``requirements``.

    pip first resolves the requirements without installing anything; the cache
    key hashes that resolution, so an environment is reused only when pip would
    install exactly the same packages into it today.
    """
    checkout = checkout or Path(__file__).resolve().parents[2]
    env_root = Path(env_root)
    sources = {
        r.spec: (_export_revision(repo, r, env_root) if r.kind == "git" else Path(r.location))
        for r in requirements
        if r.kind in ("git", "path")
    }
    args = install_arguments(requirements, sources, checkout)
    resolved = resolve(args)
    folder = env_root / env_key(resolved, tag=tag)
    python = _python_in(folder)
    if not (folder / _READY).exists():
        _forget(folder)
        folder.mkdir(parents=True, exist_ok=True)
        _new_venv(folder / "venv")
        _pip(python, *args)
        _write_ready(folder, requirements, resolved)
    else:
        _reinstall_folders(python, requirements, sources)
    return _environment(side, requirements, folder, variables)


def _python_in(folder: Path) -> Path:
    return folder / "venv" / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _write_ready(folder: Path, requirements, resolved, how: str = "resolved") -> None:
    ready = {
        "requirements": [asdict(r) for r in requirements],
        "python": platform.python_version(),
        "resolved": resolved,
        "installed": how,
    }
    (folder / _READY).write_text(json.dumps(ready, indent=2))


def _reinstall_folders(python: Path, requirements, sources: dict[str, Path]) -> None:
    """Local folders may have changed since the environment was made: install them again."""
    for r in requirements:
        if r.kind == "path":
            _forget(python.parents[2])
            _pip(python, "--no-deps", "--force-reinstall", str(sources[r.spec]))


def _environment(side, requirements, folder, variables) -> Environment:
    python = _python_in(folder)
    return Environment(side, requirements, folder, python, installed_packages(python), variables)


def _pinned(pin: str) -> tuple[str, str, str]:
    """``(name, version, source)`` of an exact pin (``name==1.2`` or ``name @ URL``)."""
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as Pin

    try:
        parsed = Pin(pin)
    except InvalidRequirement:
        parsed = None
    exact = [s.version for s in parsed.specifier if s.operator in ("==", "===")] if parsed else []
    if parsed is None or not (parsed.url or exact):
        raise SnnbenchError(
            f"`spec` must be an exact pin (name==VERSION or name @ URL); got {pin!r}",
            argument="spec",
        )
    return normalize(parsed.name), (exact[0] if exact else ""), parsed.url or ""


def _install_unresolved(
    folder: Path, first: list[str], then: list[str], requirements, resolved, how: str
) -> str:
    """A new environment in ``folder`` with ``first`` then ``then`` installed without
    dependencies; "" when pip's check passes (the environment is kept), else the check's
    complaint (the folder is removed)."""
    _forget(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    _new_venv(folder / "venv")
    python = _python_in(folder)
    try:
        for args in (first, then):
            if args:
                _pip(python, "--no-deps", *args)
    except SnnbenchError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    problem = _check(python)
    if problem:
        shutil.rmtree(folder, ignore_errors=True)
        return problem
    _write_ready(folder, requirements, resolved, how)
    return ""


def prepare_exact(
    side: str,
    pins: tuple[str, ...],
    repo: Path,
    env_root: Path = ENV_ROOT,
    checkout: Path | None = None,
    variables: tuple[tuple[str, str], ...] = (),
) -> Environment:
    """The environment of a complete set of exact pins, as a package bisect mixes them
    from two resolved sides (this snnbench checkout is added, as :func:`prepare` does).

    Nothing is resolved: the pins are installed without dependencies and pip checks
    that every requirement is met. A set that does not hold together is prepared as
    any other specs (pip resolves it, and refuses what cannot be installed).
    """
    checkout = checkout or Path(__file__).resolve().parents[2]
    requirements = tuple(parse_spec(p, repo) for p in pins)
    resolved = sorted(_pinned(p) for p in pins)
    snnbench = [] if "snnbench" in {n for n, _, _ in resolved} else ["-e", str(checkout)]
    folder = Path(env_root) / env_key([*resolved, ("-e", "", str(checkout))], tag="exact")
    if not (folder / _READY).exists():
        problem = _install_unresolved(
            folder, [*snnbench, *pins], [], requirements, resolved, "exact pins, no deps"
        )
        if problem:
            return prepare(side, requirements, repo, env_root, checkout, variables=variables)
    return _environment(side, requirements, folder, variables)


def prepare_over(
    base: Environment,
    side: str,
    requirements: tuple[Requirement, ...],
    repo: Path,
    env_root: Path = ENV_ROOT,
    checkout: Path | None = None,
) -> Environment:
    """``requirements`` over the packages of ``base``, as a commit bisect builds each
    revision: the specs ``base`` lacks (a git revision, a local folder) are installed
    without dependencies over exact pins of everything else ``base`` holds.

    Every revision is then measured with the dependencies ``base`` (the good end)
    resolved to, so a step sees the revision's own effect, not a newer dependency's.
    A revision whose requirements those packages do not meet is prepared on its
    own (pip resolves it), as :func:`prepare` does.

    Raises:
        SnnbenchError: when a revision does not install (its sources do not build).
    """
    checkout = checkout or Path(__file__).resolve().parents[2]
    known = {r.spec for r in base.requirements}
    new = tuple(r for r in requirements if r.spec not in known)
    if not new:
        return replace(base, side=side)
    env_root = Path(env_root)
    sources = {
        r.spec: (_export_revision(repo, r, env_root) if r.kind == "git" else Path(r.location))
        for r in requirements
        if r.kind in ("git", "path")
    }
    moved = under_test(new)
    if any(r.is_snnbench for r in new):
        moved.add("snnbench")
    kept = [
        entry
        for entry in json.loads((base.folder / _READY).read_text())["resolved"]
        if normalize(entry[0]) not in moved
    ]
    key = [("base", base.folder.name, ""), *((r.kind, r.name, r.location) for r in new)]
    folder = env_root / env_key(key, tag="over")
    python = _python_in(folder)
    if not (folder / _READY).exists():
        here = checkout.resolve().as_uri()
        first = [
            *(["-e", str(checkout)] for n, _, src in kept if n == "snnbench" and src == here),
            *(f"{n} @ {src}" if src else f"{n}=={v}" for n, v, src in kept if src != here),
        ]
        first = [a for item in first for a in (item if isinstance(item, list) else [item])]
        then = [str(sources[r.spec]) if r.kind in ("git", "path") else r.location for r in new]
        problem = _install_unresolved(
            folder, first, then, requirements, key, f"over {base.folder.name}, no deps"
        )
        if problem:
            return prepare(side, requirements, repo, env_root, checkout)
    else:
        _reinstall_folders(python, new, sources)
    return _environment(side, requirements, folder, base.variables)


def installed_packages(python: Path | str) -> dict[str, str]:
    """Normalized name -> version of every distribution installed for ``python``."""
    code = (
        "import json, importlib.metadata as m\n"
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SnnbenchError(f"`spec`: cannot list the packages of {python}: {done.stderr[-200:]}")
    return {normalize(k): v for k, v in json.loads(done.stdout).items() if k}


def under_test(requirements: tuple[Requirement, ...]) -> set[str]:
    """Normalized names of the packages a side's specs install on purpose."""
    names = set()
    for r in requirements:
        if r.kind == "pip":
            names.add(normalize(re.split(r"[\s<>=!~;\[@]", r.location.strip(), maxsplit=1)[0]))
        else:
            names.add(normalize(_project_name(Path(r.location)) if r.kind == "path" else r.name))
    return names


def _project_name(folder: Path) -> str:
    try:
        import tomllib

        return tomllib.loads((folder / "pyproject.toml").read_text())["project"]["name"]
    except (ImportError, OSError, KeyError, ValueError):
        return folder.name


#: Installers themselves: their versions do not shape the numbers.
_TOOLING = {"pip", "setuptools", "wheel"}


def differences(
    a: dict[str, str], b: dict[str, str], ignored: set[str]
) -> list[tuple[str, str, str]]:
    """``(package, A's version, B's version)`` for every package that differs, except ``ignored``."""
    names = sorted((set(a) | set(b)) - ignored - _TOOLING)
    missing = "not installed"
    return [(n, a.get(n, missing), b.get(n, missing)) for n in names if a.get(n) != b.get(n)]


def check_same_besides(a: Environment, b: Environment, allowed: set[str]) -> None:
    """Refuse two environments that differ in anything besides what is under test.

    Under test are the packages either side's specs name (and ``allowed``: the
    ``--allow-difference`` packages, or ``{"all"}``).

    Raises:
        SnnbenchError: naming the packages that differ and how to allow them.
    """
    if "all" in allowed:
        return
    ignored = (
        under_test(a.requirements) | under_test(b.requirements) | {normalize(n) for n in allowed}
    )
    found = differences(a.packages, b.packages, ignored)
    if found:
        shown = ", ".join(f"{n} {va} (A) vs {vb} (B)" for n, va, vb in found[:4])
        more = f" and {len(found) - 4} more" if len(found) > 4 else ""
        raise SnnbenchError(
            f"`allow_difference`: the environments differ besides what is under test: {shown}"
            f"{more}; pin them in both specs, or allow them with --allow-difference "
            f"{','.join(n for n, _, _ in found)}",
            argument="allow_difference",
        )


def _site_packages(folder: Path) -> Path | None:
    found = sorted((folder / "venv").glob("lib/python*/site-packages"))
    found = found or [p for p in [folder / "venv" / "Lib" / "site-packages"] if p.is_dir()]
    return found[0] if found else None


def seed_bytecode(folder: Path) -> int:
    """Link into the environment in ``folder`` the bytecode that the other environments of
    its cache compiled for the very same files; the number of files linked.

    A file counts as the same only when it is one file on disk (a hard link of the
    installer's cache, as uv installs), so the bytecode is the one Python would compile
    from it; Python still checks each file's stamp when it imports it, and replaces
    rather than rewrites a stale one, so a linked file is never changed in place.
    """
    from importlib.util import source_from_cache

    target = _site_packages(folder)
    if target is None:
        return 0
    donors = [
        _site_packages(f)
        for f in sorted(folder.parent.iterdir())
        if f != folder and (f / _READY).exists()
    ]
    linked = 0
    for donor in (d for d in donors if d is not None):
        for here, names, _files in os.walk(donor):
            names[:] = [n for n in names if n != "__pycache__"]
            cache = Path(here) / "__pycache__"
            if not cache.is_dir():
                continue
            mirror = target / Path(here).relative_to(donor)
            for compiled in cache.iterdir():
                linked += _link_bytecode(compiled, mirror, source_from_cache)
    return linked


def _link_bytecode(compiled: Path, mirror: Path, source_from_cache) -> int:
    try:
        source = Path(source_from_cache(str(compiled)))
        twin = mirror / source.name
        copy = mirror / "__pycache__" / compiled.name
        if copy.exists() or not twin.exists() or not os.path.samefile(source, twin):
            return 0
        copy.parent.mkdir(exist_ok=True)
        os.link(compiled, copy)
    except (OSError, ValueError):  # another Python's bytecode, a file that went away
        return 0
    return 1


#: Environments whose preflight passed in this process (a bisect measures one
#: environment in many steps): (interpreter, its variables, backends, pinning, full)
#: -> metadata. Installing into an environment forgets it.
_PASSED: dict[tuple, dict[str, object]] = {}


def _forget(folder: Path) -> None:
    inside = str(Path(folder))
    for key in [k for k in _PASSED if k[0].startswith(inside)]:
        del _PASSED[key]


#: How long a side's preflight may take (its first process imports jax, builds, compiles).
_PREFLIGHT_TIMEOUT_S = 600.0


def preflight(
    env: Environment,
    backends: tuple[str, ...],
    pin_cpu: int | None = None,
) -> dict[str, object]:
    """Check, in ``env``'s own interpreter, that its snnbench runs; its metadata.

    A worker of the side's snnbench builds and runs the smallest task of each
    backend (:func:`snnbench.measure.harness.run_smallest`): a snnbench without
    the worker cannot be a side. The worker is pinned as the side's measuring
    workers will be, so the metadata (versions, ``cpu_count``, ``pinned_cpu``)
    are those of the rows this side will record. An environment that passed
    under the same pinning in this process, and was not installed into since,
    is not checked again.

    Raises:
        SnnbenchError: naming the side and its one-line error (an ImportError,
            say) before any round is measured.
    """
    import tempfile

    from snnbench.measure import machine, procgroup
    from snnbench.measure.worker import Worker, WorkerDied, WorkerError

    key = (str(env.python), env.variables, tuple(backends), pin_cpu)
    if key in _PASSED:  # passed already; the load is now's
        return {**_PASSED[key], "load_avg_1m": machine.load_1m()}
    seed_bytecode(env.folder)  # its first process: jax's bytecode from a sibling, if any
    variables = procgroup.child_env("cpu", python=str(env.python), extra=dict(env.variables))
    name = f"side {env.side}'s worker"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "preflight.log"
            with Worker(str(env.python), "float32", variables, pin_cpu, log, name) as worker:
                metadata = worker.call(
                    "snnbench.measure.harness:run_smallest",
                    _PREFLIGHT_TIMEOUT_S,
                    backends=list(backends),
                )
    except (WorkerDied, WorkerError) as error:
        raise SnnbenchError(
            f"`spec`: side {env.side} ({env.label}) cannot run snnbench in its environment "
            f"{env.folder}: {error}",
            argument="spec",
        ) from None
    _PASSED[key] = dict(metadata)
    return dict(metadata)
