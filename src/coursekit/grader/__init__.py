"""The instructor's grader: everything a student never receives.

Imports point one way (tests/grader/test_imports.py checks it):
`cli -> pipeline -> {collect, autograde, gradebook, reasons} -> course`;
`autograde -> execution, isolation`; `report -> gradebook, reasons`. The student toolkit
(`coursekit.seeds`, `charts`, `claims`, `notebooks`) never imports from here.
"""

# Before anything here imports nbgrader (hence jsonschema): its IRI grammar, ~1.8 s of CPU per
# process, is built only if an IRI is ever checked (coursekit/deferred_imports.py).
from coursekit.deferred_imports import defer_iri_grammar

defer_iri_grammar()
