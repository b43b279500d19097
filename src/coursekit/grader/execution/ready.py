"""Wait until a new kernel answers, without jupyter_client's idle fifth of a second.

jupyter_client's `wait_for_ready` sends kernel_info_request until a reply arrives and an
IOPub message follows it, then "flushes" IOPub: it reads until nothing has come for 0.2 s.
That last step is pure waiting -- at least 0.2 s per notebook, about a seventh of a grading
worker's whole cost per notebook -- and only throws away messages that nbclient and the
judge's bridge ignore anyway (they read IOPub messages by the parent request's id).

Here the kernel is ready when it has answered one kernel_info_request on the shell channel
*and* a message has arrived on IOPub: that proves the IOPub subscription is live (a ZeroMQ
subscriber receives nothing published before it joined, which is why jupyter_client checks
IOPub at all), so the first execute_request's output cannot be lost. ipykernel 7 publishes an
`iopub_welcome` as soon as a subscriber joins (JEP 65), so that one message ends the wait at
once; an older kernel's `idle` status for a request asked here does the same, and until
something arrives it asks again, as jupyter_client does. Messages read here have no cell to
belong to: nbclient and the judge's bridge read IOPub by their own requests' ids.

Written here because neither jupyter_client nor nbclient has an option for it.
"""

from __future__ import annotations

import time
from queue import Empty

import zmq
from jupyter_client.utils import ensure_async
from nbclient.util import run_hook, run_sync

# How long an IOPub message is first waited for, once the kernel has answered, before asking
# again. A kernel forked for grading usually answers the first request before the IOPub
# subscription has reached it (so that request's status is lost); a kernel that sends no
# welcome is then asked again soon. Each later wait is twice as long (at most a second) and
# anything on IOPub counts, so a slow machine's late message is never missed for good.
IOPUB_WAIT = 0.05
# How soon ZeroMQ tries again to connect a client socket whose kernel has not bound its end
# yet (ZeroMQ's default: 100 ms, then every 100 ms). The client connects as soon as a forked
# kernel exists, about a tenth of a second before that kernel has made its sockets, so with
# the default its kernel_info request waited for the next try: 67 ms (median) between the
# kernel starting its loop and seeing the request. A failed try on an ipc socket is one
# connect() to a path not there yet; every 5 ms costs nothing worth measuring.
RECONNECT_MS = 5


async def _first(channel, asked: set[str] | None, until: float, wanted) -> dict | None:
    """The first message on `channel` that `wanted` accepts and whose parent is one of the
    `asked` requests (any parent if `asked` is None), or None at `until`."""
    while (left := until - time.monotonic()) > 0:
        try:
            msg = await ensure_async(channel.get_msg(timeout=left))
        except Empty:
            return None
        if (asked is None or (msg.get("parent_header") or {}).get("msg_id") in asked) and wanted(msg):
            return msg
    return None


def _is_info_reply(msg: dict) -> bool:
    return msg.get("msg_type") == "kernel_info_reply"


def _any(msg: dict) -> bool:
    return True


def retry_soon(kc) -> None:
    """Make the sockets `kc` opens from now on retry a failed connect every RECONNECT_MS
    (ZeroMQ applies a context's socket options to the sockets it makes afterwards)."""
    kc.context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)


async def wait_until_ready(kc, timeout: float) -> None:
    """Return once the kernel behind `kc` has answered on shell and IOPub; RuntimeError if
    it dies or `timeout` seconds pass first (jupyter_client's messages)."""
    deadline = time.monotonic() + timeout
    asked: set[str] = set()
    reply, wait = None, IOPUB_WAIT
    while True:
        asked.add(kc.kernel_info())
        if reply is None:
            reply = await _first(kc.shell_channel, asked, min(deadline, time.monotonic() + 1.0), _is_info_reply)
        if reply is not None:
            if await _first(kc.iopub_channel, None, min(deadline, time.monotonic() + wait), _any):
                kc._handle_kernel_info_reply(reply)  # as jupyter_client does (protocol version)
                return
            wait = min(2 * wait, 1.0)
        if not await ensure_async(kc.is_alive()):
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")


class PromptStart:
    """Mixed into an nbclient NotebookClient (nbgrader's Execute is one): nbclient's
    `async_start_new_kernel_client`, except that the kernel is awaited with
    `wait_until_ready` instead of jupyter_client's `wait_for_ready`."""

    async def async_start_new_kernel_client(self):
        try:
            self.kc = self.km.client()
            retry_soon(self.kc)
            await ensure_async(self.kc.start_channels())
            await wait_until_ready(self.kc, self.startup_timeout)
        except Exception as error:
            self.log.error("Error occurred while starting new kernel client for kernel %s: %s",
                           getattr(self.km, "kernel_id", None), error)
            await self._async_cleanup_kernel()
            raise
        self.kc.allow_stdin = False
        await run_hook(self.on_notebook_start, notebook=self.nb)
        return self.kc

    # nbclient's sync name is bound to its own coroutine when its class is made: rebind it,
    # or nbconvert's `setup_kernel` would still call nbclient's (and wait_for_ready)
    start_new_kernel_client = run_sync(async_start_new_kernel_client)
