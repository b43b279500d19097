"""The course website (`make site`, tools/build_site.py): every lesson, executed, with launch
links and alt text, and nothing an instructor keeps private.

The fast tests read what the builder would stage; the slow ones build the site once (about
a minute: every lesson runs) into pytest's tmp folder and read the HTML it wrote.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
from pathlib import Path

import pytest
from conftest import ROOT
from test_leaks import MARKERS, leaks, secret_lines

STUDENT_REPO = "https://github.com/example-org/kfor-in-numbers-student"
JUPYTERHUB = "https://hub.example.org"
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]-*.ipynb"))
# Never on the site, by name: instructor-only files and folders.
INSTRUCTOR_ONLY = ("solutions", "grading-guide", "claims-key", "instructor-guide", "teaching-guide", "tests",
                   "judge", "security", "deploy", "design")


def _builder():
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _links(**overrides: str) -> dict[str, str]:
    return {"student_repo": STUDENT_REPO, "branch": "main", "binderhub": "https://mybinder.org",
            "jupyterhub": JUPYTERHUB, **overrides}


def page_text(markup: str) -> str:
    """What a reader (or a crawler) gets from a page: its text, tags dropped, entities decoded."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def site_text(site: Path) -> str:
    """Every text file of the site: pages as text and as markup, the search index, sources."""
    out = []
    for path in sorted(site.rglob("*")):
        if path.is_file() and path.suffix in {".html", ".js", ".txt", ".ipynb", ".md", ".json", ".inv"}:
            raw = path.read_text(encoding="utf-8", errors="replace")
            out.append(raw)
            if path.suffix == ".html":
                out.append(page_text(raw))
            if path.suffix == ".ipynb":  # a notebook's strings are JSON-escaped: decode them
                out.append("\n".join("".join(c["source"]) for c in json.loads(raw)["cells"]))
    return "\n".join(out)


# --- what is staged (no build) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> Path:
    return _builder().stage(tmp_path_factory.mktemp("site") / "src", **_links())


def test_the_book_holds_only_the_allow_list(staged: Path):
    """Lessons, the site's pages, the student README and the data dictionary: nothing else."""
    files = sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file())
    assert files == sorted(["_config.yml", "_toc.yml", "index.md", "launch.md", "student-edition.md", "data.md",
                            *(f"lessons/{p.name}" for p in LESSONS)])


def test_the_table_of_contents_lists_every_lesson_in_order(staged: Path):
    import yaml

    toc = yaml.safe_load((staged / "_toc.yml").read_text(encoding="utf-8"))
    assert [c["file"] for c in toc["parts"][0]["chapters"]] == [f"lessons/{p.stem}" for p in LESSONS]


def test_the_staged_book_holds_no_secret(staged: Path):
    text = "\n".join(p.read_text(encoding="utf-8") for p in staged.rglob("*") if p.is_file())
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "BEGIN MARK SCHEME"):
        assert marker not in text
    assert leaks(text) == []


def test_every_chart_cell_passes_its_alt_text_to_the_page(staged: Path):
    """A lesson cell with `alt_text` metadata gives MyST-NB the same text as the image's alt."""
    passed = 0
    for lesson in LESSONS:
        for cell in json.loads((staged / "lessons" / lesson.name).read_text(encoding="utf-8"))["cells"]:
            alt = cell["metadata"].get("alt_text")
            if cell["cell_type"] == "code" and alt:
                assert cell["metadata"]["mystnb"]["image"]["alt"] == alt
                passed += 1
    assert passed >= 6  # lesson 3 draws five charts, lesson 4 one


def _headings(path: Path) -> list[int]:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.S | re.M)  # fenced code is not a heading
    return [len(m.group(1)) if m.group(1) else int(m.group(2))
            for m in re.finditer(r"^(#{1,6}) \S|<h([1-6])\b", text, re.M)]


def test_every_page_has_one_title_and_headings_in_order(staged: Path):
    """One level-1 heading first, and no level skipped on the way down (WCAG 1.3.1; axe's heading-order)."""
    pages = sorted(p for p in staged.rglob("*") if p.suffix in {".md", ".ipynb"})
    assert len(pages) == len(LESSONS) + 4
    for page in pages:
        levels = _headings(page)
        assert levels[0] == 1 and levels.count(1) == 1, (page.name, levels)
        skips = [(a, b) for a, b in zip(levels, levels[1:], strict=False) if b > a + 1]
        assert skips == [], (page.name, skips)


def test_the_heading_check_sees_a_skipped_level(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n```python\n# a comment, not a heading\n```\n\n## Part\n\n#### Too deep\n",
                    encoding="utf-8")
    assert _headings(page) == [1, 2, 4]


def test_the_book_declares_english_and_the_student_repository(staged: Path):
    import yaml

    config = yaml.safe_load((staged / "_config.yml").read_text(encoding="utf-8"))
    assert config["sphinx"]["config"]["language"] == "en"
    assert config["repository"]["url"] == STUDENT_REPO
    assert config["launch_buttons"]["jupyterhub_url"] == JUPYTERHUB
    assert config["execute"]["execute_notebooks"] == "force"


def test_make_site_is_a_documented_target():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^site: \$\(STAMP\) ## .+", makefile, re.M)
    assert "tools/build_site.py" in makefile


# --- the built site (slow: every lesson runs) ---------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("site-build")
    return _builder().build(out=base / "site", work=base / "work", **_links())


@pytest.mark.slow
def test_every_lesson_has_a_page_in_english(site: Path):
    for lesson in LESSONS:
        page = site / "lessons" / f"{lesson.stem}.html"
        assert page.is_file(), f"no page for {lesson.name}"
        assert re.search(r'<html[^>]*\blang="en"', page.read_text(encoding="utf-8")), page.name
    for name in ("index", "launch", "student-edition", "data"):
        assert re.search(r'<html[^>]*\blang="en"', (site / f"{name}.html").read_text(encoding="utf-8")), name


@pytest.mark.slow
def test_every_lesson_page_has_binder_and_jupyterhub_links(site: Path):
    for lesson in LESSONS:
        markup = html.unescape((site / "lessons" / f"{lesson.stem}.html").read_text(encoding="utf-8"))
        binder = ("https://mybinder.org/v2/gh/example-org/kfor-in-numbers-student/main"
                  f"?urlpath=lab/tree/lessons/{lesson.name}")
        puller = (f"{JUPYTERHUB}/hub/user-redirect/git-pull?repo=https%3A//github.com/example-org/"
                  f"kfor-in-numbers-student&urlpath=lab/tree/kfor-in-numbers-student/lessons/{lesson.name}"
                  "&branch=main")
        assert f'href="{binder}"' in markup, lesson.name
        assert f'href="{puller}"' in markup, lesson.name


@pytest.mark.slow
def test_lessons_were_executed_with_every_chart_and_its_alt_text(site: Path):
    """Every code cell that ran in the lesson shows output, and every chart is an image with its alt text."""
    for lesson in LESSONS:
        markup = (site / "lessons" / f"{lesson.stem}.html").read_text(encoding="utf-8")
        cells = json.loads(lesson.read_text(encoding="utf-8"))["cells"]
        alts = [c["metadata"]["alt_text"] for c in cells if c["cell_type"] == "code" and c["metadata"].get("alt_text")]
        images = re.findall(r"<img\b[^>]*>", markup)
        chart_images = [i for i in images if "_images/" in i]
        assert len(chart_images) == len(alts), f"{lesson.name}: {len(chart_images)} charts, {len(alts)} alt texts"
        for image in images:
            alt = re.search(r'\balt="([^"]*)"', image)
            assert alt and alt.group(1).strip(), f"{lesson.name}: an image without alt text: {image[:120]}"
        assert [html.unescape(re.search(r'\balt="([^"]*)"', i).group(1)) for i in chart_images] == alts
        assert markup.count('class="cell_output') >= 3, f"{lesson.name}: no outputs, was it executed?"
        assert 'class="output traceback' not in markup, f"{lesson.name}: a cell shows an error"


@pytest.mark.slow
def test_the_site_holds_no_solution_hidden_test_or_rubric(site: Path):
    text = site_text(site)
    assert len(text) > 100_000, "the scan read too little of the site to mean anything"
    for marker in MARKERS:
        assert marker not in text, marker
    assert leaks(text) == []
    names = {p.stem for p in site.rglob("*")} | {p.name for p in site.rglob("*")}
    assert not names & set(INSTRUCTOR_ONLY)


@pytest.mark.slow
def test_the_scan_catches_a_line_planted_in_a_built_page(site: Path, tmp_path: Path):
    """The control: a hidden-test line pasted into a copy of a lesson page is found."""
    where, line = secret_lines()[0]
    page = tmp_path / "planted.html"
    page.write_text((site / "lessons" / "01-reading-the-source.html").read_text(encoding="utf-8")
                    .replace("</main>", f"<pre>{html.escape(line)}</pre></main>"), encoding="utf-8")
    assert (where, line) in leaks(page_text(page.read_text(encoding="utf-8")))
    assert leaks(page_text((site / "lessons" / "01-reading-the-source.html").read_text(encoding="utf-8"))) == []
