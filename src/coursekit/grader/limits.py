"""Every limit on student code, declared once: the `Sandbox` Configurable.

Read from the configuration nbgrader loads (coursekit.grader.config) by the executor
(SafeExecute: cell and notebook time, output), by the sandbox policy each kernel gets
(memory, CPU, processes, files, /tmp) and by collect (notebook size, JSON depth,
number length).
"""

from __future__ import annotations

from traitlets import Bool, Int, List, Unicode
from traitlets.config import Configurable

# Caps collect applies to every handed-in file before anything else reads it (also as
# the Sandbox traits below, so an instructor can change them in nbgrader_config.py).
JSON_DEPTH = 64
NUMBER_DIGITS = 100

# Each protection by name, as the report lists them.
LAYERS = {
    "network": "no network (own network namespace)",
    "filesystem": "works in a scratch copy of its submission; sees only the seeds, Python and system libraries "
                  "(own mount namespace)",
    "processes": "own process namespace; all its processes end with it",
    "user": "runs as its own unprivileged user",
    "limits": "memory, CPU-time, process, file-size limits",
}


class Sandbox(Configurable):
    """How student code is confined; set in nbgrader_config.py as `c.Sandbox.<name>`.

    The time and output limits bind SafeExecute whether or not isolation is enabled; the
    kernel limits bind every sandboxed kernel; `notebook_mb` binds collect.
    """

    enabled = Bool(True, help="Run student kernels in the sandbox (coursekit grade and check).").tag(config=True)
    cell_timeout = Int(60, help="Seconds one cell may run (wall clock).").tag(config=True)
    notebook_timeout = Int(300, help="Seconds a whole notebook may run (wall clock).").tag(config=True)
    memory_mb = Int(3072, help="Address space of the kernel, MiB (RLIMIT_AS).").tag(config=True)
    cpu_seconds = Int(300, help="CPU seconds for the kernel (RLIMIT_CPU).").tag(config=True)
    processes = Int(64, help="Processes and threads of the kernel's user (RLIMIT_NPROC).").tag(config=True)
    file_size_mb = Int(64, help="Largest file the kernel may write, MiB (RLIMIT_FSIZE).").tag(config=True)
    open_files = Int(256, help="Open files (RLIMIT_NOFILE).").tag(config=True)
    tmp_mb = Int(64, help="Size of the kernel's private /tmp and of its scratch working folder, MiB each."
                 ).tag(config=True)
    output_kb = Int(1024, help="Output kept per notebook, KiB; the rest is dropped with a note.").tag(config=True)
    notebook_mb = Int(20, help="Largest notebook accepted for grading, MiB.").tag(config=True)
    json_depth = Int(JSON_DEPTH, help="Deepest nesting of lists and objects in a handed-in notebook's JSON "
                                      "(a notebook needs about 6); deeper files are refused.").tag(config=True)
    number_digits = Int(NUMBER_DIGITS, help="Longest number literal in a handed-in notebook's JSON, in characters; "
                                            "longer files are refused.").tag(config=True)
    layers = List(Unicode(), default_value=list(LAYERS),
                  help="Layers to apply where the machine can (default: all); fewer only to test or debug."
                  ).tag(config=True)
    user_namespace = Bool(False, help="Build the namespaces inside a user namespace even when grading as root "
                                      "(the path taken without root; for tests).").tag(config=True)
