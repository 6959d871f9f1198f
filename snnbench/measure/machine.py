"""Who ran it: package versions, devices, CPU, threads, git commit, a stable machine id."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from datetime import datetime, timezone
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("snnbench", "jax", "jaxlib", "jaxley", "optax", "numpy", "pandas")
THREAD_VARIABLES = ("XLA_FLAGS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: Environment variables that change what a device computes (recorded like the above).
NUMERICS_VARIABLES = ("NVIDIA_TF32_OVERRIDE",)
#: The folder that holds the imported ``snnbench`` package (a checkout's root, or site-packages).
_PACKAGE_PARENT = Path(__file__).resolve().parents[2]


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the numbers, plus Python's."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    out["python"] = platform.python_version()
    return out


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_count() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def machine_cores() -> int:
    """CPU cores of the machine, whatever this process is pinned to."""
    return os.cpu_count() or cpu_count()


def machine_id() -> str:
    """A short id stable across runs on one machine: hostname, CPU model and core count.

    The count is the machine's, not the process's, so a benchmark pinned to one
    core (:func:`pin`) still files its results under the same machine.
    """
    raw = f"{platform.node()}|{cpu_model()}|{machine_cores()}|{platform.machine()}"
    return f"{platform.node() or 'host'}-{hashlib.sha1(raw.encode()).hexdigest()[:8]}"


def git_state(repo: Path = _PACKAGE_PARENT) -> tuple[str, bool]:
    """``(commit, dirty)`` of snnbench's own checkout, or ``("unknown", False)``.

    Only a git checkout *of snnbench* counts: the work tree's root must be
    ``repo`` itself (the folder holding the imported ``snnbench`` package). An
    installed snnbench (site-packages, perhaps inside some other project's git
    tree) is not a checkout, so the commit of whatever repository surrounds it
    is never reported as snnbench's.
    """

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != Path(repo).resolve():
            return "unknown", False
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return "unknown", False
    return commit, dirty


def pinned_cpu() -> str:
    """The core this process is pinned to, or "" when it may use several (or all)."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return ""
    return str(allowed[0]) if len(allowed) == 1 and machine_cores() > 1 else ""


def choose_pin(text: str) -> int | None:
    """The core ``--pin-cpu`` asks for: ``auto`` (the last core this process may use),
    ``none``, or a core number.

    The last core rather than core 0, which on many machines takes more interrupts.

    Raises:
        SnnbenchError: if the text is none of these, or names a core this process
            may not use.
    """
    from snnbench.errors import SnnbenchError

    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    text = str(text).strip().lower()
    if text == "none":
        return None
    if not allowed:
        raise SnnbenchError("`pin_cpu` needs Linux (os.sched_setaffinity); use --pin-cpu none")
    if text == "auto":
        return allowed[-1]
    if text.isdigit() and int(text) in allowed:
        return int(text)
    raise SnnbenchError(
        f"`pin_cpu` must be auto, none or one of the cores {allowed}; got {text!r}",
        argument="pin_cpu",
    )


def pin(pid: int, cpu: int | None) -> None:
    """Pin the just-started process ``pid`` to ``cpu`` (nothing when ``cpu`` is None).

    Called right after the child is created, while it is still starting Python
    (long before JAX makes its threads, which inherit the pinning). Pinned, the
    process's CPU time is the work itself: unpinned, XLA's helper threads
    spin-wait on the other cores, which adds CPU time that shrinks when the
    machine is busy. (A ``preexec_fn`` would pin earlier, but forking a
    multithreaded parent, e.g. one that imported JAX, can deadlock.)
    """
    if cpu is not None:
        os.sched_setaffinity(pid, {cpu})


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none): on a shared
    machine they say how much else was running while a run measured."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def load_1m() -> float | None:
    """The 1-minute load average now (None where the OS has none)."""
    return (load_average() or [None])[0]


def utc_now() -> str:
    """Current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def device_info(platform_name: str) -> dict[str, object]:
    """Kind, count and (GPUs) compute capability of JAX devices on ``platform_name``."""
    import jax

    try:
        devices = jax.devices(platform_name)
    except RuntimeError:
        return {"device_kind": "", "device_count": 0, "device_compute_capability": ""}
    return {
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "device_compute_capability": str(getattr(devices[0], "compute_capability", "") or ""),
    }


def metadata() -> dict[str, object]:
    """Everything that makes a result row comparable across machines (flat, JSON-able)."""
    commit, dirty = git_state()
    out: dict[str, object] = {f"{name}_version": v for name, v in package_versions().items()}
    out.update(
        machine_id=machine_id(),
        hostname=platform.node(),
        os=f"{platform.system()} {platform.release()}",
        cpu_model=cpu_model(),
        cpu_count=cpu_count(),
        pinned_cpu=pinned_cpu(),
        git_commit=commit,
        git_dirty=dirty,
    )
    out.update(
        {name.lower(): os.environ.get(name, "") for name in THREAD_VARIABLES + NUMERICS_VARIABLES}
    )
    out["load_avg_1m"] = load_1m()  # when the metadata was taken; a row's: when it was measured
    return out
