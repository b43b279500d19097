"""What a student kernel may do: the limits instructors set (`c.Sandbox.*`, declared once
here), the plain-data policy a grading worker hands each kernel, and what the kernel may
read and see in its environment. How it is applied is coursekit.grader.isolation.sandbox."""

from __future__ import annotations

import json
import os
import site
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import coursekit
from coursekit.grader.limits import LAYERS, Sandbox

# A fresh user id per kernel: UID_BASE + the pid of the kernel's sandbox parent, which no
# live process shares. Below 2**31 so no signed-int code path chokes on it.
UID_BASE = 2_100_000_000


def _default(name: str) -> int:
    return Sandbox.class_traits()[name].default_value


@dataclass(frozen=True)
class Policy:
    """What one grading worker hands every kernel it starts (plain data: it goes to the
    zygote as JSON): the kernel's own limits, taken from Sandbox (declared there, once;
    the time and output limits are SafeExecute's, so they are not here)."""

    memory_mb: int = _default("memory_mb")
    cpu_seconds: int = _default("cpu_seconds")
    processes: int = _default("processes")
    file_size_mb: int = _default("file_size_mb")
    open_files: int = _default("open_files")
    tmp_mb: int = _default("tmp_mb")
    readable: tuple[str, ...] = ()  # bound read-only besides the system folders
    seeds: str = ""
    layers: tuple[str, ...] = tuple(LAYERS)  # those to apply (what probe() found possible)
    user_namespace: bool = False  # Sandbox.user_namespace

    @classmethod
    def from_config(cls, config, *, readable: list[str], seeds: str, layers: tuple[str, ...]) -> Policy:
        limits = Sandbox(config=config)
        names = [f.name for f in fields(cls) if limits.has_trait(f.name) and f.name != "layers"]
        return cls(**{n: getattr(limits, n) for n in names}, readable=tuple(readable), seeds=seeds, layers=layers)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Policy:
        data = json.loads(text)
        data["readable"] = tuple(data["readable"])
        data["layers"] = tuple(data["layers"])
        return cls(**data)


@dataclass
class KernelSpec:
    """One kernel's sandbox: its policy, its working folder and its private folder (the
    connection file and ZeroMQ sockets)."""

    policy: Policy
    cwd: str
    private: str
    env: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"policy": self.policy.to_json(), "cwd": self.cwd, "private": self.private, "env": self.env})

    @classmethod
    def from_json(cls, text: str) -> KernelSpec:
        data = json.loads(text)
        return cls(policy=Policy.from_json(data["policy"]), cwd=data["cwd"], private=data["private"],
                   env=data.get("env", {}))


# --- what a kernel may see ---------------------------------------------------------------

DEVICES = ("null", "zero", "full", "random", "urandom")

# What of the system a kernel sees, read-only: programs (`!ls`, a subprocess), the shared
# libraries Python, NumPy and matplotlib load, time zones, fonts and locales, and the
# few /etc files the dynamic loader, time and fonts read. Never a whole tree that may
# hold a course (/opt, /usr/local, /usr/share, /home, /srv, /etc whole). A name that is
# a symbolic link on this machine (/bin -> usr/bin) is recreated as that link.
SYSTEM_PATHS = (
    "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr/lib64", "/usr/lib32",
    "/usr/libx32", "/usr/lib/locale", "/usr/share/zoneinfo", "/usr/share/fonts", "/usr/share/fontconfig",
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/timezone",
    "/etc/nsswitch.conf", "/etc/fonts", "/etc/mime.types",
)


def system_paths() -> list[str]:
    """SYSTEM_PATHS, plus this machine's multiarch library folders (/usr/lib/x86_64-linux-gnu
    and its /lib twin when /lib is a folder of its own), as they exist here."""
    found = list(SYSTEM_PATHS)
    for lib in ("/usr/lib", "/lib"):
        if os.path.isdir(lib) and not os.path.islink(lib):
            found += sorted(str(p) for p in Path(lib).glob("*-linux-gnu*") if p.is_dir() and not p.is_symlink())
    # "/lib" itself is only kept when it is a link (to usr/lib): a folder would be whole
    return [p for p in found if os.path.lexists(p) and (p not in ("/lib", "/lib32", "/libx32")
                                                          or os.path.islink(p))]


def python_paths() -> list[str]:
    """The folders a fresh kernel of this Python imports from: the installation, the
    virtual environment, folders named in its .pth files (an editable install's source
    folder among them) and coursekit's own. Not this process's sys.path, which may hold
    whatever its caller added (pytest adds tests/)."""
    found = {sys.prefix, str(Path(coursekit.__file__).resolve().parent.parent)}
    for prefix in {sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        found.update(_installation(prefix))
    for packages in site.getsitepackages():
        for pth in Path(packages).glob("*.pth"):
            try:
                lines = pth.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            found.update(line.strip() for line in lines if line.startswith("/"))
    folders = sorted(os.path.realpath(p) for p in found if os.path.exists(p))
    return [p for i, p in enumerate(folders) if not any(_within(p, q) for q in folders[:i])]


def _installation(prefix: str) -> list[str]:
    """The Python installation under `prefix`: the whole prefix if it is Python's own
    (pyenv, a conda or python.org build in its own folder), else (/usr, /usr/local, /opt/x)
    only its lib/pythonX.Y, its libpython and its python executables, never the tree."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    own = os.path.realpath(prefix)
    if own not in ("/", "/usr", "/usr/local", "/opt") and not own.startswith(("/opt/", "/usr/", "/home/", "/srv/")):
        return [own]
    found = [os.path.join(own, "lib", version)]
    for lib in ("lib", "lib64"):
        found += [str(p) for p in Path(own, lib).glob(f"lib{version}*.so*")]
    found += [str(p) for p in Path(own, "bin").glob("python3*")]
    return found


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def readable_paths(course_root: str | Path, extra: list[str] = ()) -> list[str]:
    """Python's folders, minus any that would expose the course itself.

    A folder is refused if it holds the course root (it would show solutions/ and the
    gradebook), or lies inside the course anywhere but its `.venv`, `src` or `seeds`
    (e.g. `tests/`, which pytest puts on sys.path).
    """
    root = os.path.realpath(course_root)
    allowed_inside = [os.path.join(root, name) for name in (".venv", "venv", "src", "seeds")]
    keep = []
    for path in [*python_paths(), *extra]:
        if _within(root, path) or _looks_like_a_course(path):
            continue
        if _within(path, root) and not any(_within(path, ok) for ok in allowed_inside):
            continue
        keep.append(path)
    return keep


def _looks_like_a_course(path: str) -> bool:
    """A folder (or a parent of one) that holds a course: never shown to a kernel."""
    return any(os.path.exists(os.path.join(path, name)) for name in ("nbgrader_config.py", "solutions"))


def kernel_environment(env: dict[str, str], policy: Policy) -> dict[str, str]:
    """The kernel's environment: the grader's, with home and caches in the private /tmp and
    nothing that names the grader's own folders or secrets."""
    keep = {k: v for k, v in env.items() if k in KEEP_ENV or k.startswith(("JPY_", "LC_", "PYDEVD_"))}
    keep.pop("JPY_PARENT_PID", None)  # not visible from the kernel's PID namespace
    keep.update({
        "HOME": "/tmp", "USER": "student", "LOGNAME": "student", "TMPDIR": "/tmp",
        "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython", "XDG_CACHE_HOME": "/tmp/cache",
        "JUPYTER_CONFIG_DIR": "/tmp/jupyter", "JUPYTER_DATA_DIR": "/tmp/jupyter/data",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter/runtime", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    })
    if policy.seeds:
        keep["COURSEKIT_SEEDS"] = policy.seeds
    return keep


KEEP_ENV = {"PATH", "LANG", "LANGUAGE", "TZ", "TERM", "PYTHONHASHSEED", "PYTHONIOENCODING", "PYTHONUTF8",
            "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"}
