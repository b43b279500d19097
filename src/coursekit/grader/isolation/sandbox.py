"""Run each student kernel in a sandbox: no network, its own view of the file system, a
fresh unprivileged user, and limits on memory, CPU time, processes and file size.

Student notebooks are untrusted code. A kernel forked for grading (`coursekit.grader.isolation.kernels`)
or started cold (`python -m coursekit.grader.isolation.sandbox SPEC -- KERNEL COMMAND`) calls `enter()`
first, which, where the machine allows it, puts the kernel in

- a new **network namespace** with no interface up: nothing on the network or on the
  grader's loopback is reachable. The kernel still talks to nbgrader because the kernel
  manager is switched to ZeroMQ's `ipc` transport (Unix sockets in a private folder);
- a new **mount namespace** whose root is an empty tmpfs holding only what a kernel needs,
  bound read-only (the system libraries and programs of `policy.system_paths()`, a few
  /etc files, the Python installation, the virtual environment, the course's `src/` and
  `seeds/`), a small private /tmp, a few device nodes and a fresh /proc. Its working
  folder is a **scratch** tmpfs holding a copy of the regular files nbgrader placed in the
  submission's folder: what the kernel writes there vanishes with it, and nothing it
  creates ever appears where the grader later writes, `chmod`s and copies as root.
  `solutions/`, answer keys, other students' work, the gradebook, /opt, /usr/local and
  the rest of the disk are simply not there;
- a new **PID namespace**: the kernel cannot see or signal other processes, and when it
  ends every process it started is killed by the operating system;
- a **user id of its own** (one per kernel, like systemd's DynamicUser, with no entry in
  /etc/passwd), so one student's process count never eats into another's, with
  `no_new_privs` set so no setuid program can give privileges back;
- **rlimits**: address space, CPU seconds, processes, file size, open files, no core dumps.

Why written here: bubblewrap and nsjail do most of this, but both start a program with
exec; the grading kernels are forked from a warm parent that has already imported
pandas and matplotlib (coursekit.grader.isolation.kernels), which is what makes grading fast, so the
layers are applied with the same system calls inside the forked child. Python 3.11 has
no os.unshare or os.mount, hence ctypes.

Where a layer is not available (not root, namespaces disabled), grading still runs with
the layers that are, and `probe()` says which protections are missing; the report shows it.
"""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import signal
import stat
import sys
import tempfile
from pathlib import Path

from coursekit.grader.isolation.policy import DEVICES, UID_BASE, KernelSpec, Policy, system_paths
from coursekit.grader.limits import LAYERS

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38

# --- system calls ------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_libc.unshare.argtypes = (ctypes.c_int,)
_libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)


def _call(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _unshare(flags: int) -> None:
    _call(_libc.unshare(flags), "unshare")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)  # noqa: E731
    _call(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _prctl(option: int, value: int) -> None:
    _call(_libc.prctl(option, value, 0, 0, 0), f"prctl {option}")


# --- the layers, in the kernel's own process -------------------------------------------------

NEW_ROOT = os.path.join(tempfile.gettempdir(), "coursekit-sandbox-root")


def enter(spec: KernelSpec) -> None:
    """Put this process in the sandbox. Returns in the process that is to become the
    kernel; its sandbox parents wait for it and exit with its status, never returning.

    Runs as root (or, without root, inside a new user namespace); raises OSError if a
    layer the policy asks for cannot be applied.

    About 80 lines, on purpose: the order of these steps is the security argument (log
    redirected and descriptors closed, then namespaces, then the new root, then the
    limits, then the user switch and no_new_privs, then the kernel's own limits), and
    it is easier to check read top to bottom than spread over helpers.
    """
    policy = spec.policy
    layers = set(policy.layers)
    # The kernel cannot see the grader's process (own PID namespace), so it cannot watch
    # it; instead each sandbox process dies with its parent, down to the kernel.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # Without root, the namespaces are made inside a user namespace; c.Sandbox.user_namespace
    # takes that path even as root (the tests use it to exercise it).
    root_user = os.geteuid() == 0 and not policy.user_namespace
    switch = root_user and "user" in layers  # to a user of its own
    uid = UID_BASE + os.getpid() if switch else os.getuid()
    gid = uid if switch else os.getgid()

    # Standard output and error of the kernel and everything it starts: a log in the
    # private folder (size-limited by RLIMIT_FSIZE), never the grader's own log. The log
    # is beside, not inside, the ipc folder the kernel may write in: it cannot swap it.
    log = os.open(os.path.join(spec.private, "kernel.log"),
                  os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.closerange(3, 4096)  # nothing of the zygote's or launcher's reaches the student
    os.makedirs(ipc_folder(spec), 0o700, exist_ok=True)

    if switch:
        _chown_tree(ipc_folder(spec), uid, gid)
        if "filesystem" not in layers:
            # no scratch folder without a mount namespace: the kernel works in the real one
            # (the report names the filesystem layer as missing)
            _chown_tree(spec.cwd, uid, gid)

    flags = 0
    if "network" in layers:
        flags |= CLONE_NEWNET
    if "filesystem" in layers:
        flags |= CLONE_NEWNS | CLONE_NEWIPC
    if "processes" in layers:
        flags |= CLONE_NEWPID | CLONE_NEWNS
    if flags and not root_user:
        outer_uid, outer_gid = os.getuid(), os.getgid()
        _unshare(flags | CLONE_NEWUSER)
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {outer_uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {outer_gid} 1")
    elif flags:
        _unshare(flags)

    if "filesystem" in layers:
        _build_root(spec, uid if switch else None, gid)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is for the kernel only
    if "processes" in layers:
        _wait_for(os.fork())
        # Here: the first process of the new PID namespace. Mount its /proc, then keep
        # reaping until the kernel ends; when this process exits, the kernel of the
        # operating system ends every process left in the namespace.
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if "filesystem" in layers:
            _mount("proc", os.path.join(NEW_ROOT, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)

    if "filesystem" in layers:
        os.chroot(NEW_ROOT)
    os.chdir(spec.cwd)
    if "limits" in layers:
        _set_limits(policy, kernel=False)
    if switch:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        # The switch cleared the parent-death signal (prctl(2): a change of effective user or
        # group clears it), so this process would outlive its parent: set it again. (A parent
        # that died in between, microseconds, is not seen: in its own PID namespace this
        # process cannot compare getppid() with the parent's pid.)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)

    if "processes" in layers:
        _wait_for(os.fork())
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # Here: the kernel-to-be.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big write fails; it does not kill
    if "limits" in layers:
        _set_limits(policy, kernel=True)


def _wait_for(child: int) -> None:
    """In the parent after a fork: wait for `child`, reap any orphan, exit with its status."""
    if child == 0:
        return
    code = 1
    try:
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if pid == child:
                code = os.waitstatus_to_exitcode(status)
                break
    finally:
        # a kernel killed by a signal: report it the way a shell would
        os._exit(code if code >= 0 else 128 - code)


def _set_limits(policy: Policy, *, kernel: bool) -> None:
    mib = 1024 * 1024
    limits = {
        resource.RLIMIT_NPROC: policy.processes,
        resource.RLIMIT_FSIZE: policy.file_size_mb * mib,
        resource.RLIMIT_NOFILE: policy.open_files,
        resource.RLIMIT_CORE: 0,
    }
    if kernel:
        limits[resource.RLIMIT_AS] = policy.memory_mb * mib
        limits[resource.RLIMIT_CPU] = policy.cpu_seconds
    for which, value in limits.items():
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        if which == resource.RLIMIT_CPU:
            # SIGXCPU at the soft limit, SIGKILL a few seconds later
            resource.setrlimit(which, (value, value + 5 if hard == resource.RLIM_INFINITY else hard))
        else:
            resource.setrlimit(which, (value, value))


def _chown_tree(folder: str, uid: int, gid: int) -> None:
    os.lchown(folder, uid, gid)
    for base, dirs, files in os.walk(folder):
        for name in dirs + files:
            os.lchown(os.path.join(base, name), uid, gid)


def _bind(source: str, *, writable: bool = False) -> None:
    target = NEW_ROOT + source
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "w").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (0 if writable else MS_RDONLY)
    if not source.startswith("/dev/"):
        flags |= MS_NODEV
    _mount(None, target, None, flags)


def _build_root(spec: KernelSpec, uid: int | None, gid: int) -> None:
    """Mount the kernel's whole view of the file system on NEW_ROOT (in our own mount
    namespace, so nobody else sees any of it)."""
    policy = spec.policy
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks back
    os.makedirs(NEW_ROOT, exist_ok=True)
    _mount("tmpfs", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    for path in system_paths():
        if os.path.islink(path):
            os.makedirs(os.path.dirname(NEW_ROOT + path), exist_ok=True)
            if not os.path.lexists(NEW_ROOT + path):
                os.symlink(os.readlink(path), NEW_ROOT + path)
        elif os.path.exists(path):
            _bind(path)
    tmp = NEW_ROOT + "/tmp"
    os.makedirs(tmp)
    _mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, f"size={policy.tmp_mb}m,mode=1777")
    for path in (*policy.readable, policy.seeds):
        if path and os.path.exists(path):
            _bind(path)
    _bind(ipc_folder(spec), writable=True)
    _scratch(spec.cwd, policy.tmp_mb, uid, gid)
    dev = NEW_ROOT + "/dev"
    os.makedirs(dev, exist_ok=True)
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            _bind(f"/dev/{name}", writable=True)
    os.makedirs(dev + "/shm")
    _mount("tmpfs", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")
    os.makedirs(NEW_ROOT + "/proc")
    _seed_matplotlib_cache(spec.env.get("MPLCONFIGDIR", "/tmp/matplotlib"), uid, gid)


def ipc_folder(spec: KernelSpec) -> str:
    """The part of the kernel's private folder it may see and write: its connection file
    and ZeroMQ sockets. Its log lies beside it, out of its reach."""
    return os.path.join(spec.private, "ipc")


def _scratch(cwd: str, size_mb: int, uid: int | None, gid: int) -> None:
    """Mount the kernel's working folder: a tmpfs at the same path, holding a copy of the
    regular files (and folders) nbgrader put in the real one. Links, pipes and devices are
    not copied; nothing is followed. Whatever the kernel does there stays in this mount
    namespace, so the real folder holds only what nbgrader itself writes."""
    target = NEW_ROOT + cwd
    os.makedirs(target, exist_ok=True)
    given = sum(os.lstat(os.path.join(base, name)).st_size for base, _, names in os.walk(cwd) for name in names)
    # room for what nbgrader put there, and `size_mb` (c.Sandbox.tmp_mb) for the kernel
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb * 2**20 + given + 2**20},mode=0755")
    copy_regular_tree(cwd, target)
    if uid is not None:
        _chown_tree(target, uid, gid)


def copy_regular_tree(source: str, target: str) -> list[str]:
    """Copy the regular files and folders under `source` into `target` (which exists),
    never following a link and never opening a pipe or device: each entry is checked with
    lstat, opened with O_NOFOLLOW | O_NONBLOCK and checked again on the open descriptor.
    Returns the relative paths skipped."""
    skipped = []
    for entry in os.scandir(source):
        here, there = entry.path, os.path.join(target, entry.name)
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(there, 0o755)
            skipped += [os.path.join(entry.name, s) for s in copy_regular_tree(here, there)]
        elif stat.S_ISREG(mode) and copy_regular_file(here, there):
            continue
        else:
            skipped.append(entry.name)
    return skipped


def special_entries(folder: str) -> list[str]:
    """Everything under `folder` that is neither a regular file nor a folder (symbolic
    links, pipes, devices, sockets), as relative paths; links are listed, never followed."""
    found = []
    if not os.path.isdir(folder) or os.path.islink(folder):
        return found
    for entry in os.scandir(folder):
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISDIR(mode):
            found += [os.path.join(entry.name, s) for s in special_entries(entry.path)]
        elif not stat.S_ISREG(mode):
            found.append(entry.name)
    return found


def open_regular(path: str) -> int | None:
    """A read-only descriptor of `path` if it is a regular file, else None: a symbolic link,
    a pipe, a device or a socket is never followed, blocked on or read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def copy_regular_file(source: str, target: str) -> bool:
    """Copy `source` to the new file `target` if `source` is a regular file (see
    open_regular); `target` is created, never followed or overwritten. False if skipped."""
    fd = open_regular(source)
    if fd is None:
        return False
    try:
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            while chunk := os.read(fd, 1 << 20):
                os.write(out, chunk)
        finally:
            os.close(out)
    finally:
        os.close(fd)
    return True


def _seed_matplotlib_cache(inside: str, uid: int | None, gid: int) -> None:
    """Copy matplotlib's font cache into the kernel's /tmp, so a cold kernel does not spend
    seconds rebuilding it (or warn on stderr that it cannot write one)."""
    # Not by importing matplotlib here: after unshare(CLONE_NEWPID) this process cannot
    # start threads, and NumPy's OpenBLAS would try.
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is not None:
        cache = matplotlib.get_cachedir()
    else:
        cache = os.environ.get("MPLCONFIGDIR") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib")
    target = NEW_ROOT + inside
    if not inside.startswith("/tmp/") or not os.path.isdir(cache):
        return
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(cache):
        if name.startswith("fontlist") and name.endswith(".json"):
            shutil.copy(os.path.join(cache, name), os.path.join(target, name))
    if uid is not None:  # the kernel's own user must be able to write its cache
        _chown_tree(target, uid, gid)


# --- what this machine can do ------------------------------------------------------------


def probe(wanted: list[str] | tuple[str, ...] | None = None) -> dict[str, str]:
    """Which layers this machine can apply: {layer: "" if available, else the reason}.

    Tried for real in a throwaway child process, never assumed. `wanted` (c.Sandbox.layers)
    narrows the set, to run or test without some layers.
    """
    result = {}
    for layer in LAYERS:
        if wanted is not None and layer not in wanted:
            result[layer] = "turned off by c.Sandbox.layers"
        else:
            result[layer] = _try_layer(layer)
    return result


def _try_layer(layer: str) -> str:
    if layer == "limits":
        return ""  # setrlimit only lowers limits: always possible
    if layer == "user" and os.geteuid() != 0:
        return "grading does not run as root, so kernels cannot get users of their own"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        message = b""
        try:
            flags = {"network": CLONE_NEWNET, "filesystem": CLONE_NEWNS, "processes": CLONE_NEWPID,
                     "user": 0}[layer]
            if os.geteuid() != 0:
                flags |= CLONE_NEWUSER
            if flags:
                _unshare(flags)
            if layer == "filesystem":
                if os.geteuid() != 0:
                    Path("/proc/self/setgroups").write_text("deny")
                    Path("/proc/self/uid_map").write_text(f"0 {os.getuid()} 1")
                _mount(None, "/", None, MS_REC | MS_PRIVATE)
                _mount("tmpfs", tempfile.gettempdir(), "tmpfs", 0, "size=1m")
            if layer == "user":
                os.setgid(UID_BASE)
                os.setuid(UID_BASE)
        except OSError as error:
            message = str(error).encode()
        os.write(write, message)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        message = answer.read().decode()
    os.waitpid(pid, 0)
    return message


def describe(missing: dict[str, str]) -> str:
    """One line for the report: which protections grading had, and which it lacked."""
    absent = {k: v for k, v in missing.items() if v}
    if not absent:
        return "sandbox: all protections on (" + ", ".join(LAYERS) + ")"
    return "sandbox: MISSING " + "; ".join(f"{k} ({LAYERS[k]}): {v}" for k, v in absent.items())


# --- cold start: `python -m coursekit.grader.isolation.sandbox SPEC -- KERNEL COMMAND` -----------------------


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m coursekit.grader.isolation.sandbox SPEC_JSON -- KERNEL COMMAND")
    spec = KernelSpec.from_json(argv[0])
    if os.getpgrp() != os.getpid():
        os.setsid()
    enter(spec)
    os.execve(argv[2], argv[2:], spec.env or dict(os.environ))


def cleanup(spec: KernelSpec) -> str:
    """After the kernel: remove the private folder and return the tail of the kernel's own
    log (for the worker's log). The log is read only if it is a regular file (never a pipe
    that would block the worker, never through a link). Without the filesystem layer, the
    kernel worked in the real folder: give it back to the grader's user (lchown only)."""
    tail = ""
    fd = open_regular(os.path.join(spec.private, "kernel.log"))
    if fd is not None:
        with os.fdopen(fd, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 4096))
            tail = log.read(4096).decode("utf-8", "replace")
    if "filesystem" not in spec.policy.layers and os.geteuid() == 0 and os.path.isdir(spec.cwd):
        try:
            _chown_tree(spec.cwd, os.getuid(), os.getgid())
        except OSError:
            pass
    shutil.rmtree(spec.private, ignore_errors=True)
    return tail


if __name__ == "__main__":
    main(sys.argv[1:])
