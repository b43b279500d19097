"""Pre-warmed kernels: fork each notebook's kernel from a parent that has already imported
ipykernel, pandas and matplotlib, instead of paying those imports (about a second) again
for every notebook of the class.

A zygote process imports the heavy modules once and waits on a Unix socket. The kernel
provisioner below (jupyter_client's provisioner interface, so nbclient and nbgrader need
no change) asks it for a kernel; the zygote forks, and the child becomes an ordinary
IPython kernel in a new session, with the working directory, environment and argv the
kernel manager asked for. Each notebook still runs in its own fresh process.

jupyter_client has no fork-based launcher, and nbgrader's Execute preprocessor fixes its
kernel manager class, so this hooks in where jupyter_client allows: a provisioner named
`coursekit-fork` (entry point in pyproject.toml), made the default of this process's
provisioner factory by `use_fork_provisioner()`. What it does is set as its traits (`warm`, `policy`),
which it reads from the configuration the kernel manager passes down from nbgrader.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import KernelProvisionerFactory, LocalProvisioner
from traitlets import Bool, Unicode

from coursekit import deferred_imports
from coursekit.grader.isolation import sandbox
from coursekit.grader.isolation.policy import KernelSpec, Policy, kernel_environment
from coursekit.owners import Owners, ZygoteClient, peer_pid

log = logging.getLogger(__name__)

PROVISIONER_NAME = "coursekit-fork"
# Seconds a kernel is given to exit after its shutdown request before jupyter_client's own
# steps (its wait, then SIGTERM, then SIGKILL) take over.
SHUTDOWN_WAIT = 1.0
# Imported by the zygote, so that no kernel imports them again. Besides the libraries: what
# every ipykernel imports as it starts (psutil, pdb and IPython's debugger, ...), what the
# course's notebooks use (`%matplotlib inline`, pyplot, pandas' table formatting, PIL's image
# plugins) and what a traceback is coloured with: the modules forked kernels still imported
# while a class was graded (listed for issue 17; docs/performance.md).
# pyplot chooses no backend when imported (matplotlib resolves it at the first figure);
# `_become_kernel` gives the kernel the backend its environment names, as a fresh import would.
# Not matplotlib_inline's backend module: importing it is what connects the inline backend to
# the kernel's IPython (figures shown as PNG), so the kernel must import it itself.
PRELOAD = (
    "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger", "IPython", "IPython.core.interactiveshell",
    "psutil", "pdb", "faulthandler", "tornado.platform.asyncio", "IPython.core.debugger",
    "IPython.core.completerlib", "IPython.core.logger", "IPython.core.oinspect", "IPython.utils.wildcard",
    "IPython.extensions.storemagic", "IPython.core.magics.pylab", "IPython.core.magics.execution",
    "IPython.core.magics.ast_mod", "IPython.core.magic_arguments", "IPython.utils.module_paths",
    "pygments.formatters.terminal256", "pygments.styles", "pygments.console",
    "numpy", "pandas", "pandas.io.formats.html", "pandas.io.formats.string", "pandas.core.methods.to_dict",
    "matplotlib", "matplotlib.figure", "matplotlib.axes", "matplotlib.dates", "matplotlib.pyplot", "matplotlib.style",
    "matplotlib.backends.backend_agg", "IPython.core.pylabtools",
    "PIL.Image", "PIL.PngImagePlugin", "PIL.BmpImagePlugin", "PIL.GifImagePlugin", "PIL.JpegImagePlugin",
    "PIL.PpmImagePlugin",
    "coursekit.seeds", "coursekit.charts", "coursekit.claims",
    # what the judge's proxied calls run in the kernel (else the first call of every notebook
    # imports them: about 0.1-1 s)
    "coursekit.judge.kernel_side", "coursekit.judge.codec", "coursekit.judge.axes",
)


# --- the zygote ------------------------------------------------------------------------------


def _become_kernel(request: dict[str, Any]) -> None:
    """In the forked child: take the requested environment, then run ipykernel. Never returns."""
    code = 1
    try:
        os.setsid()  # own process group, so an interrupt or kill reaches only this kernel
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if request.get("sandbox"):
            sandbox.enter(KernelSpec.from_json(request["sandbox"]))  # returns in the kernel
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _matplotlib_backend_from(request["env"])
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            numpy.random.seed()  # a forked child would otherwise share the zygote's RNG state
        argv = list(request["argv"])
        # argv is the kernelspec's command, e.g. [python, -m, ipykernel_launcher, -f, file]
        if "ipykernel_launcher" in argv:
            argv = argv[argv.index("ipykernel_launcher") + 1:]
        elif "ipykernel" in argv:
            argv = argv[argv.index("ipykernel") + 1:]
        # ipykernel reads JPY_PARENT_PID when it is imported (in the zygote, before the
        # kernel manager set it): pass it explicitly so the kernel still dies with its parent.
        parent = request["env"].get("JPY_PARENT_PID")
        if request.get("sandbox"):
            argv.append("--IPKernelApp.parent_handle=0")  # its sandbox parents watch instead
        elif parent:
            argv.append(f"--IPKernelApp.parent_handle={int(parent)}")
        # A grading kernel keeps no input history: nothing reads it, and parallel kernels
        # would otherwise contend for one history.sqlite.
        argv.append("--HistoryManager.enabled=False")
        sys.argv = [sys.executable, *argv]
        if sys.path and sys.path[0] == "":
            del sys.path[0]  # as ipykernel_launcher does
        # Imported here, in the kernel-to-be: ipykernel is heavy and only kernels need it
        # (the zygote has it preloaded, so this costs nothing there).
        from ipykernel.kernelapp import IPKernelApp

        IPKernelApp.launch_instance()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def _matplotlib_backend_from(env: dict[str, str]) -> None:
    """What importing matplotlib does with MPLBACKEND, done again for the kernel's environment:
    the zygote imported matplotlib with its own (ipykernel sets MPLBACKEND to the inline backend,
    and the sandbox's environment names it too). No figure exists yet, so nothing is switched:
    the backend is resolved at the kernel's first figure, as in a freshly started kernel."""
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is None:
        return
    try:
        matplotlib.rcParams["backend"] = env.get("MPLBACKEND") or "module://matplotlib_inline.backend_inline"
    except (ValueError, KeyError):  # a name matplotlib rejects: left as the zygote had it
        pass


def _know_backend_names() -> None:
    """Have matplotlib read the backends that installed packages declare, once, here.

    A kernel names the inline backend (`_matplotlib_backend_from`); matplotlib knows that
    name only from matplotlib-inline's entry point, and reads the entry points of every
    installed package the first time such a name is checked: 20-30 ms of each forked
    kernel's start (of ~0.13 s), found with timestamps and a cProfile inside the kernel."""
    try:
        from matplotlib.backends import backend_registry

        backend_registry.list_all()  # loads the entry points if not yet done
    except Exception:  # an older matplotlib, or none: the kernel checks the name itself
        pass


def serve(socket_path: str) -> None:
    """The zygote's loop: fork a kernel per request; reap and report exits on request."""
    # the grader's stand-in for a slow import is for grading processes: a kernel gets the
    # module table a fresh kernel would (coursekit/deferred_imports.py)
    deferred_imports.undo()
    # debugpy (imported by ipykernel.debugger) warns about frozen modules on import
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # an optional module missing only costs speed
            pass
    _know_backend_names()
    parent = os.getppid()
    statuses: dict[int, int] = {}
    # who asked for each kernel: a kernel whose grading worker ended is ended too (one zygote
    # may serve every worker of the machine: coursekit.owners)
    owners, abandoned = Owners(group=True), set()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(64)
    server.settimeout(0.5)
    print("ready", flush=True)
    os.dup2(2, 1)  # nobody reads the pipe after "ready": kernels' stray prints go to stderr
    while True:
        if owners.due():
            _reap(statuses, owners, abandoned)
            abandoned.update(owners.sweep())
        try:
            connection, _ = server.accept()
        except TimeoutError:
            if os.getppid() != parent:  # whoever started us is gone: so are we
                break
            continue
        with connection:
            request = json.loads(connection.makefile("r").readline())
            if request.get("op") == "stop":
                break
            if request.get("op") == "status":
                pid = int(request["pid"])
                if pid not in statuses:
                    try:
                        _, raw = os.waitpid(pid, 0)
                        statuses[pid] = os.waitstatus_to_exitcode(raw)
                    except ChildProcessError:
                        statuses[pid] = -1
                    owners.forget(pid)
                connection.sendall(json.dumps({"status": statuses.pop(pid)}).encode() + b"\n")
                continue
            asker = peer_pid(connection)
            pid = os.fork()
            if pid == 0:
                server.close()
                connection.close()
                owners.close()
                _become_kernel(request)
            owners.add(pid, asker)
            connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    server.close()
    try:  # the worker may be gone without a word (killed): tidy up after it
        os.unlink(socket_path)
        os.rmdir(os.path.dirname(socket_path))
    except OSError:
        pass


def _reap(statuses: dict[int, int], owners: Owners, abandoned: set[int]) -> None:
    while True:
        try:
            pid, raw = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        owners.forget(pid)
        if pid in abandoned:  # ended because its asker had: nobody will ask for its status
            abandoned.discard(pid)
        else:
            statuses[pid] = os.waitstatus_to_exitcode(raw)


# --- the client side ------------------------------------------------------------------------


class Zygote(ZygoteClient):
    """The kernel zygote a grading process forks its kernels from: its own, started on first
    use, or the machine's (`attach`), which `coursekit grade` starts once for all its
    workers (coursekit.grader.autograde.MachineZygotes)."""

    KIND = "kernel zygote"

    def __init__(self, log_file: str = "", *, wait: bool = True) -> None:
        self.folder = tempfile.mkdtemp(prefix="coursekit-zygote-")
        self.socket_path = os.path.join(self.folder, "zygote.sock")
        # the zygote's stderr, which its unsandboxed kernels inherit, goes to the log if given
        stderr = open(log_file, "a", encoding="utf-8") if log_file else None  # noqa: SIM115 - handed to Popen
        self.process: subprocess.Popen | None = subprocess.Popen(
            [sys.executable, "-c", f"from {__name__} import serve; serve({self.socket_path!r})"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )
        if stderr is not None:
            stderr.close()  # the zygote has its own copy
        self._ready = False
        atexit.register(self.stop)
        if wait:
            self.wait_ready()

    @classmethod
    def shared(cls, log_file: str = "") -> Zygote:
        return super().shared(log_file=log_file)

    def _attach_to(self, socket_path: str) -> None:
        super()._attach_to(socket_path)
        self.folder = ""

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(self.socket_path)
            client.sendall(json.dumps(request).encode() + b"\n")
            answer = client.makefile("r").readline()
        return json.loads(answer) if answer else {}

    def fork_kernel(self, *, argv: list[str], env: dict[str, str], cwd: str, sandbox: str = "") -> int:
        return int(self._ask({"argv": argv, "env": env, "cwd": cwd, "sandbox": sandbox})["pid"])

    def exit_status(self, pid: int) -> int:
        return int(self._ask({"op": "status", "pid": pid}).get("status", -1))

    def stop(self) -> None:
        if self.process is None:  # attached: the machine's zygote is not ours to stop
            return
        if self.process.poll() is None:
            try:
                if self._ready:
                    self._ask({"op": "stop"})
                    self.process.wait(timeout=5)
                else:
                    self.process.kill()
                    self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
                self.process.kill()
        try:
            os.unlink(self.socket_path)
        except OSError:
            pass
        try:
            os.rmdir(self.folder)
        except OSError:
            pass


class ForkedKernelProcess:
    """The little of subprocess.Popen that LocalProvisioner uses, for a forked kernel."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, zygote: Zygote):
        self.pid = pid
        self.zygote = zygote
        self.returncode: int | None = None
        self._pidfd = os.pidfd_open(pid)  # Linux: wait on a process that is not our child

    def poll(self) -> int | None:
        if self.returncode is None:
            readable, _, _ = select.select([self._pidfd], [], [], 0)
            if readable:
                self.returncode = self.zygote.exit_status(self.pid)
                os.close(self._pidfd)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            readable, _, _ = select.select([self._pidfd], [], [], timeout)
            if not readable:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
        return self.poll()

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class ForkProvisioner(LocalProvisioner):
    """LocalProvisioner, except that the kernel may be forked from the warm zygote instead
    of executed, and may be put in the sandbox (coursekit.grader.isolation.sandbox) first.
    With neither, it starts an ordinary kernel, as LocalProvisioner does."""

    warm = Bool(False, help="Fork kernels from a zygote that has imported pandas and matplotlib.").tag(config=True)
    policy = Unicode("", help="The sandbox Policy as JSON (set by the grading worker); empty: no sandbox."
                     ).tag(config=True)
    log_dir = Unicode("", help="Folder of the worker's log, which unsandboxed kernels write to; "
                               "empty: they inherit this process's output.").tag(config=True)

    spec = None  # this kernel's KernelSpec, if sandboxed

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        km = self.parent
        if self.policy and km is not None:
            # A sandboxed kernel has no network, so it talks over Unix sockets (ZeroMQ ipc)
            # in a private folder that only it and this process can reach.
            # Its log lies beside the ipc folder, where the kernel cannot replace it.
            self.private = tempfile.mkdtemp(prefix="coursekit-kernel-")
            os.chmod(self.private, 0o711)  # the kernel's own user passes through to ipc/ only
            ipc = os.path.join(self.private, "ipc")
            os.mkdir(ipc, 0o700)
            km.transport = "ipc"
            km.cache_ports = False
            km.connection_file = os.path.join(ipc, "kernel.json")
            km.ip = os.path.join(ipc, "kernel-ipc")
        return await super().pre_launch(**kwargs)

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> dict[str, Any]:
        env = dict(kwargs.get("env") or os.environ)
        if not kwargs.get("independent"):
            env["JPY_PARENT_PID"] = str(os.getpid())  # as jupyter_client's launcher does
        cwd = str(kwargs.get("cwd") or Path.cwd())
        cmd = list(cmd)
        cmd[0] = shutil.which(cmd[0], path=env.get("PATH")) or cmd[0]
        spec_json = ""
        if self.policy:
            policy = Policy.from_json(self.policy)
            env = kernel_environment(env, policy)
            cwd = os.path.realpath(cwd)
            self.spec = KernelSpec(policy=policy, cwd=cwd, private=self.private, env=env)
            spec_json = self.spec.to_json()
        if not self.warm:
            if spec_json:
                cmd = [sys.executable, "-m", "coursekit.grader.isolation.sandbox", spec_json, "--", *cmd]
            output = {}
            if self._log_file():
                with open(self._log_file(), "a", encoding="utf-8") as log_file:
                    output = {"stdout": log_file, "stderr": log_file}
                    return await super().launch_kernel(cmd, **{**kwargs, **output, "env": env, "cwd": cwd})
            return await super().launch_kernel(cmd, **{**kwargs, "env": env, "cwd": cwd})
        zygote = Zygote.shared(self._log_file())
        try:
            pid = zygote.fork_kernel(argv=cmd, env=env, cwd=cwd, sandbox=spec_json)
        except (OSError, ValueError, KeyError):
            if zygote.process is not None:
                raise
            log.warning("the machine's kernel zygote (%s) did not answer: this worker starts its own",
                        zygote.socket_path)
            Zygote.forget_machine()
            zygote = Zygote.shared(self._log_file())
            pid = zygote.fork_kernel(argv=cmd, env=env, cwd=cwd, sandbox=spec_json)
        self.process = ForkedKernelProcess(pid, zygote)
        self.pid = self.pgid = pid
        self.cwd = cwd
        return self.connection_info

    def _log_file(self) -> str:
        return os.path.join(self.log_dir, f"worker-{os.getpid()}.log") if self.log_dir else ""

    async def shutdown_requested(self, restart: bool = False) -> None:
        """Wait for the kernel to exit after its shutdown request: woken by the exit itself
        (a pidfd), at most SHUTDOWN_WAIT seconds.

        jupyter_client's manager next checks whether the kernel is alive and, while it is,
        sleeps a tenth of a second: a kernel exits a few milliseconds after the request, so
        nearly every notebook paid the whole tenth (the largest part of "kernel shutdown" in
        benchmarks/profile_worker.py). Written here because jupyter_client's poll interval
        cannot be set from nbclient, and this hook is the provisioner's own."""
        await super().shutdown_requested(restart=restart)
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            pidfd = os.pidfd_open(process.pid)
        except OSError:  # gone already, or no pidfd on this system: jupyter_client's wait
            return
        loop = asyncio.get_running_loop()
        exited = loop.create_future()
        try:
            loop.add_reader(pidfd, lambda: exited.done() or exited.set_result(None))
            try:
                await asyncio.wait_for(exited, SHUTDOWN_WAIT)
            except TimeoutError:
                pass  # jupyter_client's own steps follow
            finally:
                loop.remove_reader(pidfd)
        except NotImplementedError:  # an event loop without add_reader
            pass
        finally:
            os.close(pidfd)

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        if self.spec is not None and not restart:
            tail = sandbox.cleanup(self.spec)
            if any(word in tail for word in ("Traceback", "Error", "error:")):
                log.warning("kernel log (%s):\n%s", self.spec.cwd, tail)
            self.spec = None


def use_fork_provisioner(enabled: bool = True) -> None:
    """Make every kernel this process starts from now on go through ForkProvisioner (or,
    with `enabled=False`, jupyter_client's own again).

    Set on the factory itself: jupyter_client picks a provisioner from the kernelspec or
    the factory's default, and the factory is a process-wide singleton that nbclient
    creates without our configuration.
    """
    name = PROVISIONER_NAME if enabled else "local-provisioner"
    KernelProvisionerFactory.instance().default_provisioner_name = name
