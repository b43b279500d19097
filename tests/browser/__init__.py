"""Browser tests: JupyterLab and nbgrader's extensions, driven by Playwright and Chromium.

A package so that its conftest.py is imported as `browser.conftest` and never replaces
tests/conftest.py, which the other test modules import as `conftest`.
"""
