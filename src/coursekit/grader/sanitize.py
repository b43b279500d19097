"""No script from a student runs for anyone: sanitized feedback and formgrader pages.

nbgrader renders a student's autograded notebook to HTML twice: as the feedback page the
student opens, and as the formgrader view the instructor opens in their own Jupyter server,
with their session (which can read the solutions and write the course). Stock nbconvert
copies `text/html` outputs, `application/javascript` outputs and HTML in markdown cells into
that page as they are, so a student's script runs there. This module is configured in
nbgrader_config.py for every `HTMLExporter` nbgrader makes (feedback and formgrader):

- `SanitizeStudentHTML`, a preprocessor: each output keeps only plain text, PNG/JPEG/GIF
  images, LaTeX (escaped by the template) and HTML cleaned by nh3 (pandas tables stay);
  JavaScript, widgets, SVG and every other type is dropped; `text/markdown` outputs become
  cleaned HTML; output metadata (which the template copies into attributes) is cleared but
  for images' alt text, kept as plain text (the template escapes it);
  raw cells are cleaned; cell tags and malformed cell ids are dropped.
- `markdown2html`, a Jinja filter replacing nbconvert's: markdown cells (and instructor
  comments) are rendered as before, then cleaned by nh3, so HTML in markdown, `<img
  onerror>` and `javascript:` links never reach the page.
- the `coursekit_feedback` and `coursekit_formgrade` templates (nbgrader's own, extended)
  put a Content-Security-Policy meta tag in the page's head: no script at all in feedback;
  in formgrader only nbgrader's own scripts (its files, and its inline scripts by hash).
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import nbgrader
import nh3
from jinja2 import pass_context
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode

TEMPLATES = Path(__file__).parent / "templates"
NBGRADER_TEMPLATES = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
# nbgrader's feedback page inlines Bootstrap's CSS from here (GenerateFeedback's own setting).
BOOTSTRAP_CSS = NBGRADER_TEMPLATES.parent / "static" / "node_modules" / "bootstrap" / "dist" / "css"

# Output types shown as they are: the template escapes text and LaTeX and embeds images as data: URIs.
KEPT_TYPES = frozenset({"text/plain", "text/latex", "image/png", "image/jpeg", "image/gif"})
IMAGE_DATA_URI = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$")
CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

# nh3's (ammonia's) allowlist of tags and attributes, plus what pandas and honest HTML need.
TAGS = set(nh3.ALLOWED_TAGS) - {"style", "script", "iframe", "object", "embed", "svg", "math", "form"}
ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
ATTRIBUTES.setdefault("*", set()).update({"class", "style", "id", "title"})
ATTRIBUTES.setdefault("table", set()).update({"border"})
STYLE_PROPERTIES = {
    "text-align", "vertical-align", "color", "background-color", "font-weight", "font-style",
    "white-space", "width", "min-width", "max-width", "height", "padding", "margin",
}
URL_SCHEMES = {"http", "https", "mailto", "data"}


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    """data: URLs only as images (a data: link could carry a page); nothing named on*."""
    if attribute.startswith("on"):
        return None
    if value.strip().lower().startswith("data:"):
        return value if tag == "img" and attribute == "src" and IMAGE_DATA_URI.match(value.strip()) else None
    return value


def clean(html: str) -> str:
    """`html` without scripts, event handlers, javascript: URLs, frames, objects, SVG or <style>."""
    return nh3.clean(
        str(html), tags=TAGS, clean_content_tags={"script", "style"}, attributes=ATTRIBUTES,
        attribute_filter=_attribute_filter, url_schemes=URL_SCHEMES,
        filter_style_properties=STYLE_PROPERTIES, strip_comments=True,
    )


def render_markdown(source: str, attachments: dict | None = None) -> str:
    """Markdown to HTML as nbconvert renders it, then cleaned."""
    renderer = IPythonRenderer(escape=False, attachments=attachments or {}, embed_images=False)
    return clean(MarkdownWithMath(renderer=renderer).render(str(source)))


@pass_context
def markdown2html(context, source: str) -> str:
    """The `markdown2html` Jinja filter of nbgrader's HTML pages, cleaned (c.HTMLExporter.filters)."""
    cell = context.get("cell", {}) or {}
    return render_markdown(source, cell.get("attachments", {}))


def _csp_hashes(text: str) -> list[str]:
    return ["'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"]


def formgrade_inline_hashes(macros: Path = NBGRADER_TEMPLATES / "formgrade" / "formgrade_macros.html.j2") -> list[str]:
    """Hashes of nbgrader's own inline scripts and onclick handlers that follow the policy in
    the formgrade page (the ones with template variables in them come before it)."""
    text = macros.read_text(encoding="utf-8")
    found: list[str] = []
    for body in re.findall(r"<script type=\"text/javascript\">(.*?)</script>", text, flags=re.S):
        if "{{" not in body and "{%" not in body:
            found += _csp_hashes(body)
    for handler in re.findall(r"\bon[a-z]+=\"([^\"]*)\"", text):
        found += _csp_hashes(handler)
    return sorted(set(found))


FEEDBACK_CSP = (
    "default-src 'none'; script-src 'none'; object-src 'none'; frame-src 'none'; connect-src 'none'; "
    "img-src data:; style-src 'unsafe-inline'; font-src data:; base-uri 'none'; form-action 'none'"
)


def formgrade_csp() -> str:
    """The formgrader page's policy: nbgrader's script files and its own inline scripts, nothing else."""
    scripts = " ".join(["'self'", "'unsafe-hashes'", *formgrade_inline_hashes()])
    return (
        f"default-src 'self'; script-src {scripts}; object-src 'none'; frame-src 'none'; "
        "img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'"
    )


class SanitizeStudentHTML(Preprocessor):
    """Leave nothing in the notebook that a browser would run (see the module's docstring)."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        nb.metadata.pop("widgets", None)
        resources["coursekit_csp"] = {"feedback": FEEDBACK_CSP, "formgrade": formgrade_csp()}
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        if "id" in cell and not CELL_ID.match(str(cell.id)):
            cell.id = f"cell-{index}"
        cell.get("metadata", {}).pop("tags", None)
        if "attachments" in cell:
            cell.attachments = {
                name: {k: v for k, v in bundle.items() if k in {"image/png", "image/jpeg", "image/gif"}}
                for name, bundle in cell.attachments.items()
            }
        if cell.cell_type == "raw":
            cell.source = clean(cell.source)
        elif cell.cell_type == "code":
            for output in cell.get("outputs", []):
                sanitize_output(output)
            # an output left with nothing to show (only JavaScript, say) is dropped
            cell.outputs = [o for o in cell.get("outputs", []) if "data" not in o or o["data"]]
        return cell, resources


MAX_ALT = 500  # characters of an image's alt text kept


def _alt_texts(metadata) -> dict:
    """Of an output's metadata, only each image's alt text, as plain text: the chart a test
    showed keeps its description for a screen reader (the template escapes it into the
    attribute); width, height and everything else the template would copy are dropped."""
    kept = {}
    for mime in ("image/png", "image/jpeg", "image/gif"):
        entry = metadata.get(mime) if isinstance(metadata, dict) else None
        alt = entry.get("alt") if isinstance(entry, dict) else None
        if isinstance(alt, str) and alt.strip():
            kept[mime] = {"alt": "".join(c for c in alt if c.isprintable())[:MAX_ALT]}
    return kept


def sanitize_output(output: NotebookNode) -> None:
    if output.get("output_type") not in ("display_data", "execute_result", "update_display_data"):
        return  # stream and error text is escaped by the template
    output["metadata"] = _alt_texts(output.get("metadata"))
    data = output.get("data", {})
    for key in list(data):
        value = data[key]
        if isinstance(value, list):
            value = "".join(value)
        if key == "text/html":
            data[key] = clean(value)
        elif key == "text/markdown":
            data["text/html"] = render_markdown(value)
            del data[key]
        elif key not in KEPT_TYPES:
            del data[key]
