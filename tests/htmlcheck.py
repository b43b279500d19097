"""What in a rendered page could run a student's payload: used by the tests of
coursekit.grader.sanitize, the adversarial suite and the browser test of hostile pages."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class Found(HTMLParser):
    """What in a page could run a student's payload (`pwned`): scripts, handlers, javascript:
    URLs, frames, objects, inline SVG, refresh redirects, styles that load URLs, widgets."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.in_script = self.in_style = False
        self.script_type = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in {"iframe", "object", "embed", "frame", "svg", "applet", "base", "form"}:
            self.found.append(f"<{tag}>")
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":
            self.found.append("<meta refresh>")
        for name, value in attrs.items():
            value = value or ""
            if name.startswith("on") and "pwned" in value:
                self.found.append(f"<{tag} {name}>")
            if re.match(r"\s*(javascript|vbscript):", value, re.I):
                self.found.append(f"<{tag} {name}=javascript:>")
        self.in_script, self.in_style = tag == "script", tag == "style"
        self.script_type = attrs.get("type") or "" if tag == "script" else ""

    def handle_endtag(self, tag):
        self.in_script = self.in_style = False

    def handle_data(self, data):
        if self.in_script and ("pwned" in data or "jupyter.widget" in self.script_type or "element" in data):
            self.found.append("<script> with the student's code")
        if self.in_style and "pwned" in data:
            self.found.append("<style> loading a URL")


def payloads(html: str) -> list[str]:
    parser = Found()
    parser.feed(html)
    return parser.found
