"""The instructor's grader: everything a student never receives.

Imports point one way (tests/grader/test_imports.py checks it):
`cli -> pipeline -> {collect, autograde, gradebook, reasons} -> course`;
`autograde -> execution, isolation`; `report -> gradebook, reasons`. The student toolkit
(`coursekit.seeds`, `charts`, `claims`, `notebooks`) never imports from here.
"""
