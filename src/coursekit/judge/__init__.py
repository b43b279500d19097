"""The judge: test cells decided outside the student's kernel (issue 14, "Verdicts outside").

A grading run executes the student's cells in their kernel as before, but each test cell
runs in a separate *judge* process that never ran student code. In the judge, every
graded function is a proxy: calling it sends the arguments (as plain data) to the
student's kernel, which calls the student's function and sends back the result (as plain
data, never pickled). Assertions and partial credit are computed in the judge, and the
judge's outputs are what gets written into the test cell. See docs/judge.md.

Modules, one concern each:

- `codec`: values <-> plain JSON data (no pickle, no eval), total and capped decoding;
  its parts: `codec_types` (caps, errors, `Unsupported`), `codec_encode`, `codec_decode`
  and `codec_frames` (pandas values);
- `axes`: a matplotlib Axes -> the data that rebuilds it (charts as data, plus a PNG);
- `rebuild`: that data -> a real Axes in the judge, validated field by field;
- `png`: validate the PNG a kernel sends;
- `kernel_side`: the code that runs in the student's kernel to perform one call;
- `bridge`: the parent's side of a call: send it to the kernel, wait, read the result;
- `worker`: the judge process itself (`python -m coursekit.judge.worker`);
- `process`: the parent's handle on a judge process (pipe protocol, time limits);
- `grade`: grade one notebook's test cells with the judge.
"""
