"""The kernel start-up wait (coursekit.grader.execution.ready) that replaces
jupyter_client's wait_for_ready in grading: used on nbconvert's sync path, loses no output
of the first cell, and says so when the kernel dies before answering."""

from __future__ import annotations

import asyncio
import contextlib

import nbformat
import pytest
import zmq
from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from traitlets.config import Config

from coursekit.grader.execution import ready
from coursekit.grader.execution.safe_execute import SafeExecute


def _notebook(*sources: str):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@contextlib.asynccontextmanager
async def _kernel():
    """A fresh kernel and its started client; both stopped afterwards."""
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)


def test_safe_execute_waits_with_ready_not_jupyter_clients_wait_for_ready(tmp_path, monkeypatch):
    """nbclient binds its sync `start_new_kernel_client` to its own coroutine; SafeExecute's
    must be ours, or the 0.2 s IOPub flush comes back unnoticed."""
    calls = {"ours": 0, "jupyter_client": 0}
    ours, theirs = ready.wait_until_ready, AsyncKernelClient.wait_for_ready

    async def counted_ours(kc, timeout):
        calls["ours"] += 1
        return await ours(kc, timeout)

    async def counted_theirs(self, timeout=None):
        calls["jupyter_client"] += 1
        return await theirs(self, timeout)

    monkeypatch.setattr(ready, "wait_until_ready", counted_ours)
    monkeypatch.setattr(AsyncKernelClient, "wait_for_ready", counted_theirs)
    nb = _notebook("print('first cell, first line')")
    config = Config({"Sandbox": {"cell_timeout": 20, "notebook_timeout": 60}})
    nb, _ = SafeExecute(config=config).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert calls == {"ours": 1, "jupyter_client": 0}
    assert [o.get("text") for o in nb.cells[0].outputs] == ["first cell, first line\n"]


def test_the_first_cells_output_is_never_lost(tmp_path):
    """Each of several fresh kernels prints at once in its first cell: the output is there
    every time (a late IOPub subscription would drop it)."""
    for attempt in range(5):
        nb = _notebook(f"print('attempt {attempt}')", "import sys; print('to stderr', file=sys.stderr)")
        config = Config({"Sandbox": {"cell_timeout": 20, "notebook_timeout": 60}, "SafeExecute": {"judge": False}})
        nb, _ = SafeExecute(config=config).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
        assert [o.get("text") for o in nb.cells[0].outputs] == [f"attempt {attempt}\n"]
        assert [o.get("text") for o in nb.cells[1].outputs] == ["to stderr\n"]


def test_a_kernel_that_dies_before_answering_is_reported():
    async def scenario():
        async with _kernel() as (km, kc):
            await km.shutdown_kernel(now=True)  # gone before it answered anything
            with pytest.raises(RuntimeError, match="died before replying to kernel_info"):
                await ready.wait_until_ready(kc, timeout=30)

    asyncio.run(scenario())


def test_a_kernel_that_never_answers_times_out():
    """A client whose kernel is alive but never replies (nothing listens on its ports)."""
    class Silent:
        def __init__(self):
            from queue import Empty

            class Channel:
                async def get_msg(self, timeout=None):
                    await asyncio.sleep(min(timeout or 0, 0.05))
                    raise Empty

            self.shell_channel = self.iopub_channel = Channel()

        def kernel_info(self):
            return f"request-{id(object())}"

        async def is_alive(self):
            return True

    with pytest.raises(RuntimeError, match="didn't respond in 0.3 seconds"):
        asyncio.run(ready.wait_until_ready(Silent(), timeout=0.3))


def test_a_late_iopub_status_still_counts(monkeypatch):
    """On a loaded machine IOPub messages can come later than the first short wait: the
    waits grow and whatever arrives on IOPub counts, so the kernel is found ready, not asked
    again and again until the start-up timeout."""
    monkeypatch.setattr(ready, "IOPUB_WAIT", 0.0001)  # every first look is too early

    async def scenario():
        async with _kernel() as (_km, kc):
            await ready.wait_until_ready(kc, timeout=30)
            reply = await kc.execute_interactive("print('ready')", timeout=30, output_hook=lambda msg: None)
            assert reply["content"]["status"] == "ok"

    asyncio.run(scenario())


def test_a_welcome_on_iopub_is_enough():
    """ipykernel 7 publishes `iopub_welcome` when a subscriber joins (JEP 65), with no parent
    request: it proves the subscription is live, so the kernel is ready after one
    kernel_info_request, without waiting to ask again for a status the kernel sent before the
    subscription reached it."""
    from queue import Empty

    class Welcoming:
        def __init__(self):
            self.asked: list[str] = []
            self.iopub: list[dict] = [{"msg_type": "iopub_welcome", "parent_header": {},
                                       "content": {"subscription": ""}}]
            client = self

            class Shell:
                async def get_msg(self, timeout=None):
                    if client.asked:
                        return {"msg_type": "kernel_info_reply", "parent_header": {"msg_id": client.asked[-1]},
                                "content": {"protocol_version": "5.3"}}
                    raise Empty

            class IOPub:
                async def get_msg(self, timeout=None):
                    if client.iopub:
                        return client.iopub.pop(0)
                    await asyncio.sleep(min(timeout or 0, 0.05))
                    raise Empty

            self.shell_channel, self.iopub_channel = Shell(), IOPub()
            self.replies: list[dict] = []

        def kernel_info(self):
            self.asked.append(f"request-{len(self.asked)}")
            return self.asked[-1]

        def _handle_kernel_info_reply(self, msg):
            self.replies.append(msg)

        async def is_alive(self):
            return True

    client = Welcoming()
    asyncio.run(ready.wait_until_ready(client, timeout=5))
    assert client.asked == ["request-0"] and len(client.replies) == 1


def test_the_grading_client_retries_a_connect_soon(tmp_path, monkeypatch):
    """A forked kernel makes its sockets about a tenth of a second after the client connects;
    ZeroMQ's default retry (every 100 ms) then delayed the first request by up to that much.
    The grading client's sockets retry every RECONNECT_MS instead."""
    seen = []
    real = ready.retry_soon

    def recorded(kc):
        real(kc)
        seen.append(kc.shell_channel.socket.getsockopt(zmq.RECONNECT_IVL))

    monkeypatch.setattr(ready, "retry_soon", recorded)
    nb = _notebook("print('connected')")
    config = Config({"Sandbox": {"cell_timeout": 20, "notebook_timeout": 60}, "SafeExecute": {"judge": False}})
    nb, _ = SafeExecute(config=config).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert seen == [ready.RECONNECT_MS]
    assert [o.get("text") for o in nb.cells[0].outputs] == ["connected\n"]
    # and the option is what changes it: a client left alone keeps ZeroMQ's 100 ms
    plain = AsyncKernelClient()
    assert plain.context.socket(zmq.DEALER).getsockopt(zmq.RECONNECT_IVL) == 100
    plain.context.destroy(linger=0)
