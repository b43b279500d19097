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

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
DEVICES = ("null", "zero", "full", "random", "urandom")


def python_paths() -> list[str]:
    """The folders a fresh kernel of this Python imports from: the installation, the
    virtual environment, folders named in its .pth files (an editable install's source
    folder among them) and coursekit's own. Not this process's sys.path, which may hold
    whatever its caller added (pytest adds tests/)."""
    found = {sys.base_prefix, sys.prefix, sys.exec_prefix, str(Path(coursekit.__file__).resolve().parent.parent)}
    for packages in site.getsitepackages():
        for pth in Path(packages).glob("*.pth"):
            try:
                lines = pth.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            found.update(line.strip() for line in lines if line.startswith("/"))
    folders = sorted(os.path.realpath(p) for p in found if os.path.isdir(p))
    return [p for i, p in enumerate(folders) if not any(_within(p, q) for q in folders[:i])]


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
