"""Warm kernels: is a kernel forked from the zygote a real, separate kernel, and does the
provisioner, asked for neither a warm nor a sandboxed kernel, start an ordinary one?"""

from __future__ import annotations

import os

import nbclient
import nbformat
import pytest
from traitlets.config import Config

from coursekit.grader.isolation import kernels

PROBE = ("import os, numpy\nseen = 'x' in globals()\nx = 1\n"
         "print(os.getpid(), os.getcwd(), seen, numpy.random.rand(), os.getppid())")


@pytest.fixture
def fork_provisioner():
    kernels.use_fork_provisioner()
    yield
    kernels.use_fork_provisioner(False)


def _run(tmp_path, config: Config) -> list[str]:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE)])
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3", config=config,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb.cells[0].outputs[0]["text"].split()


def test_forked_kernels_are_fresh_processes_of_the_zygote(tmp_path, fork_provisioner):
    """Is a warm kernel a real, separate kernel: its own pid, the asked-for cwd, fresh state,
    its own random state, and a child of the zygote?"""
    warm = Config({"ForkProvisioner": {"warm": True}})
    runs = [_run(tmp_path, warm) for _ in range(2)]
    for _pid, cwd, seen, _rand, _parent in runs:
        assert cwd == str(tmp_path) and seen == "False"
    assert runs[0][0] != runs[1][0] != str(os.getpid())
    assert runs[0][3] != runs[1][3], "forked kernels must not share a random state"
    assert {int(run[4]) for run in runs} == {kernels.Zygote.shared().process.pid}, "not forked from the zygote"


def test_without_warm_or_policy_the_kernel_is_an_ordinary_one(tmp_path, fork_provisioner):
    """With its traits left at their defaults, does ForkProvisioner start the kernel as
    jupyter_client does: a child of this process, in the asked-for folder?"""
    _pid, cwd, seen, _rand, parent = _run(tmp_path, Config())
    assert cwd == str(tmp_path) and seen == "False" and int(parent) == os.getpid()


def test_a_warm_kernel_shows_a_figure_as_a_freshly_started_one_does(tmp_path, fork_provisioner):
    """The zygote imported matplotlib (and pyplot) before the kernel existed: does a forked
    kernel still take the inline backend from its environment and show a figure as a PNG, as a
    freshly started kernel does, without `%matplotlib inline`?"""
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\nprint(plt.get_backend())"

    def shown(config: Config) -> tuple[list[str], str]:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        nbclient.NotebookClient(nb, timeout=60, kernel_name="python3", config=config,
                                resources={"metadata": {"path": str(tmp_path)}}).execute()
        outputs = nb.cells[0].outputs
        mimes = sorted(m for o in outputs if o.output_type == "display_data" for m in o.data)
        return mimes, "".join(o.get("text", "") for o in outputs if o.output_type == "stream").strip()

    cold = shown(Config())
    warm = shown(Config({"ForkProvisioner": {"warm": True}}))
    assert cold == (["image/png", "text/plain"], "module://matplotlib_inline.backend_inline")
    assert warm == cold


def test_a_warm_kernel_has_no_stand_in_of_the_grader(tmp_path, fork_provisioner):
    """The zygote imports the grader's isolation module, hence `coursekit.grader`, which puts a
    stand-in for a slow import (jsonschema's IRI grammar) in the module table: the zygote takes
    it out, so that a kernel's module table is a fresh kernel's (and a traceback in a kernel,
    which makes IPython look over every module, never builds that grammar)."""
    code = ("import sys\ntry:\n    1/0\nexcept ZeroDivisionError:\n    get_ipython().showtraceback()\n"
            "print(type(sys.modules.get('rfc3987_syntax')).__name__, 'lark' in sys.modules)")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3", config=Config({"ForkProvisioner": {"warm": True}}),
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.output_type == "stream").strip()
    assert printed == "NoneType False"


def test_a_graceful_shutdown_is_woken_by_the_kernels_exit(tmp_path, fork_provisioner, monkeypatch):
    """After a shutdown request jupyter_client sleeps a tenth of a second at a time while the
    kernel is alive; the provisioner waits for the exit itself, so by the time the manager
    looks the kernel is gone and it never sleeps (each sleep was ~0.1 s per notebook)."""
    import asyncio

    from jupyter_client import AsyncKernelManager
    from jupyter_client import manager as jc_manager

    naps: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded(delay, *args, **kwargs):
        naps.append(delay)
        return await real_sleep(delay, *args, **kwargs)

    async def scenario():
        km = AsyncKernelManager(kernel_name="python3", config=Config({"ForkProvisioner": {"warm": True}}))
        await km.start_kernel(cwd=str(tmp_path))
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
        finally:
            kc.stop_channels()
        assert isinstance(km.provisioner, kernels.ForkProvisioner)
        pid = km.provisioner.pid
        monkeypatch.setattr(jc_manager.asyncio, "sleep", recorded)
        await km.shutdown_kernel()  # graceful: shutdown_request, then jupyter_client's wait
        monkeypatch.undo()
        return pid

    pid = asyncio.run(scenario())
    # (jupyter_client also sleeps 0.01 s after every start and shutdown, whatever the kernel)
    assert [nap for nap in naps if nap >= 0.1] == []
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize("zygote_reads_them", [True, False])
def test_kernels_need_not_read_every_packages_entry_points(zygote_reads_them):
    """A forked kernel names the inline backend; matplotlib knows that name from an entry
    point, and read every installed package's entry points to check it, in every kernel,
    unless the zygote had done so once (`_know_backend_names`)."""
    import subprocess
    import sys

    code = (
        "import importlib.metadata, matplotlib\n"
        "from coursekit.grader.isolation import kernels\n"
        f"if {zygote_reads_them}: kernels._know_backend_names()\n"
        "calls = []\n"
        "real = importlib.metadata.entry_points\n"
        "importlib.metadata.entry_points = lambda *a, **k: (calls.append(1), real(*a, **k))[1]\n"
        "kernels._matplotlib_backend_from({'MPLBACKEND': 'module://matplotlib_inline.backend_inline'})\n"
        "print(len(calls), matplotlib.rcParams['backend'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    reads, backend = out.split()
    assert backend == "module://matplotlib_inline.backend_inline"
    assert int(reads) == (0 if zygote_reads_them else 1)
