"""Two costs nbgrader pays again for every notebook, paid once per grading worker instead.

The profile of a worker (benchmarks/profile_worker.py, docs/performance.md) showed, besides
the kernel and the judge:

- **the gradebook's SQL compiled afresh**: nbgrader opens a new `Gradebook` about ten times
  per notebook, and each creates a new SQLAlchemy engine; SQLAlchemy caches compiled
  statements per engine, so every query of every notebook was compiled again. Here a
  worker keeps one engine per database URL: each `Gradebook` still opens its own session and
  connection, and `Gradebook.close()` still disposes of the connections (an engine stays
  usable after `dispose()`: its next connection comes from a new pool), but the statement
  cache survives.
- **the metadata schema checked per cell**: nbgrader validates each cell's nbgrader metadata
  with `jsonschema.validate`, which first checks the schema itself against the JSON Schema
  meta-schema, for every cell, twice per notebook. Here the check of the (unchanging)
  schema is done once per schema, and each cell is then validated exactly as
  `jsonschema.validate` does (same validator class, same `best_match` error).

Neither is meant to change what is read, written or scored: tests/grader/test_speedups.py
checks rows and errors against nbgrader's and jsonschema's own, and `make bench` checks every
test cell's score against stock nbgrader's. Applied only inside grading workers (`install()`), not to
nbgrader as the instructor runs it. Written here because neither nbgrader nor SQLAlchemy
offers a setting for it: nbgrader builds its engines and validators itself.
"""

from __future__ import annotations

import threading
from typing import Any

import jsonschema
import nbgrader.api
import nbgrader.nbgraderformat.common as nbgrader_format
from jsonschema.exceptions import best_match
from sqlalchemy import create_engine

_ENGINES: dict[tuple[str, tuple], Any] = {}
_VALIDATORS: dict[int, tuple[dict, Any]] = {}
_LOCK = threading.Lock()
_INSTALLED = False


def shared_engine(url, *args: Any, **kwargs: Any):
    """`sqlalchemy.create_engine`, but one engine per URL and options in this process."""
    key = (str(url), args, tuple(sorted(kwargs.items())))
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = create_engine(url, *args, **kwargs)
        return engine


def validate(instance: Any, schema: dict, *args: Any, **kwargs: Any) -> None:
    """`jsonschema.validate` with the schema's own check done once per schema object."""
    if args or kwargs:  # not how nbgrader calls it: leave any other use to jsonschema
        return jsonschema.validate(instance, schema, *args, **kwargs)
    known = _VALIDATORS.get(id(schema))
    if known is None or known[0] is not schema:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        known = _VALIDATORS[id(schema)] = (schema, cls(schema))
    error = best_match(known[1].iter_errors(instance))
    if error is not None:
        raise error
    return None


class _Jsonschema:
    """What nbgrader's metadata validator reaches through its `jsonschema` name."""

    validate = staticmethod(validate)

    def __getattr__(self, name: str) -> Any:
        return getattr(jsonschema, name)


def install() -> None:
    """Use both in this process (a grading worker). Idempotent."""
    global _INSTALLED
    if _INSTALLED:
        return
    nbgrader.api.create_engine = shared_engine
    nbgrader_format.jsonschema = _Jsonschema()
    _INSTALLED = True
