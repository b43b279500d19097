"""Build the course website: the lessons, executed, and the student-facing pages (`make site`).

Jupyter Book 1 (Sphinx, MyST-NB, the book theme) builds it offline from what pip installs
(the `site` extra). The book's sources are staged in build/site-src/ from an allow-list,
never from a folder glob of the course: the lessons (lessons/*.ipynb), the site's own
pages (site/*.md), the student edition's README (student/README.md) and the data
dictionary students get with the seeds (seeds/README.md). Nothing else of the course can
reach the site: not solutions/, exercises' hidden tests, tests/ or the instructors' docs.

Each lesson is executed at build time (every chart and output is on its page) in a folder
under the course, so `coursekit.seeds` finds seeds/. A chart's alt text (the cell's
`alt_text` metadata, the same text `charts.show(fig, alt=...)` attaches to the image) is
passed to MyST-NB as the image's `alt`. Each lesson page gets launch links for the student
edition: Binder (repo2docker builds the student repository: docs/website.md) and the
nbgitpuller link for a course JupyterHub. The HTML lands in build/site/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# The student repository the launch links open (the student edition, published: docs/website.md).
STUDENT_REPO = "https://github.com/example-org/kfor-in-numbers-student"
BINDERHUB = "https://mybinder.org"
JUPYTERHUB = "https://jupyterhub.example.edu"
# (staged name, source in the course, title in the table of contents or None for the notebook's own)
PAGES = (
    ("launch.md", "site/launch.md"),
    ("student-edition.md", "student/README.md"),
    ("data.md", "seeds/README.md"),
)
# A lesson cell may run this long (s); lessons run in seconds, the build machine may be busy.
CELL_TIMEOUT = 300


def lessons(root: Path = ROOT) -> list[Path]:
    return sorted((root / "lessons").glob("[0-9][0-9]-*.ipynb"))


def _with_alt_text(notebook: dict) -> dict:
    """The notebook with every chart cell's `alt_text` given to MyST-NB as its image's alt."""
    for cell in notebook["cells"]:
        alt = cell.get("metadata", {}).get("alt_text")
        if cell["cell_type"] == "code" and alt:
            cell["metadata"].setdefault("mystnb", {}).setdefault("image", {})["alt"] = alt
    return notebook


def config(*, student_repo: str, branch: str, binderhub: str, jupyterhub: str) -> dict:
    """The book's _config.yml."""
    return {
        "title": "Reading the Source — KFOR in numbers",
        "author": "Reading the Source course team",
        "copyright": "CC BY 4.0",
        "only_build_toc_files": True,
        "exclude_patterns": ["_build", "**.ipynb_checkpoints"],
        "execute": {
            "execute_notebooks": "force",
            "timeout": CELL_TIMEOUT,
            "allow_errors": False,  # a lesson that raises fails the build (its on-purpose errors are caught)
            "run_in_temp": False,  # run in lessons/, under the course: seeds/ is found as in class
            "stderr_output": "show",
        },
        "parse": {"myst_enable_extensions": ["colon_fence", "deflist", "html_image"]},
        "html": {
            "use_repository_button": True,
            "home_page_in_navbar": True,
            "extra_footer": "Code MIT, course content CC BY 4.0. The article quoted in the lessons is "
                            "© European Western Balkans.",
        },
        "launch_buttons": {
            "notebook_interface": "jupyterlab",
            "binderhub_url": binderhub,
            "jupyterhub_url": jupyterhub,
            "thebe": False,
        },
        "repository": {"url": student_repo, "path_to_book": "", "branch": branch},
        "sphinx": {
            "recursive_update": True,  # add to Jupyter Book's html_theme_options (its launch buttons), not replace them
            "config": {
                "language": "en",  # <html lang="en"> on every page
                "html_show_sourcelink": False,
                "html_theme_options": {"use_download_button": True, "show_toc_level": 2},
                "nb_execution_show_tb": True,
                # charts.show gives a chart as a PNG and as an <img> with its alt text: the site takes the
                # PNG (an image file, its alt from the cell's alt_text), other outputs keep their HTML
                "nb_mime_priority_overrides": [["html", "image/png", 25]],
                "suppress_warnings": ["mystnb.unknown_mime_type"],
            },
        },
    }


def toc(root: Path = ROOT) -> dict:
    return {
        "format": "jb-book",
        "root": "index",
        "parts": [
            {"caption": "Lessons", "chapters": [{"file": f"lessons/{p.stem}"} for p in lessons(root)]},
            {"caption": "Working on the course",
             "chapters": [{"file": Path(name).stem} for name, _ in PAGES]},
        ],
    }


def stage(source: Path, *, root: Path = ROOT, **links: str) -> Path:
    """Write the book's sources into `source` (emptied first) from the allow-list; return it."""
    if source.exists():
        shutil.rmtree(source)
    (source / "lessons").mkdir(parents=True)
    for lesson in lessons(root):
        notebook = json.loads(lesson.read_text(encoding="utf-8"))
        (source / "lessons" / lesson.name).write_text(json.dumps(_with_alt_text(notebook), indent=1),
                                                      encoding="utf-8")
    shutil.copy(root / "site" / "index.md", source / "index.md")
    for name, origin in PAGES:
        shutil.copy(root / origin, source / name)
    (source / "_config.yml").write_text(yaml.safe_dump(config(**links), sort_keys=False, allow_unicode=True),
                                        encoding="utf-8")
    (source / "_toc.yml").write_text(yaml.safe_dump(toc(root), sort_keys=False), encoding="utf-8")
    return source


def build(*, out: Path, work: Path, root: Path = ROOT, **links: str) -> Path:
    """Stage, build with `jupyter-book build`, copy the HTML to `out`; return `out`."""
    source = stage(work / "src", root=root, **links)
    env = dict(os.environ)
    env.setdefault("COURSEKIT_SEEDS", str(root / "seeds"))
    env["MPLBACKEND"] = "Agg"
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book) if jupyter_book.exists() else "jupyter-book", "build", str(source),
               "--path-output", str(work), "--builder", "html", "--warningiserror", "--keep-going"]
    done = subprocess.run(command, env=env, cwd=root)
    if done.returncode != 0:
        logs = sorted((work / "_build" / "html" / "reports").rglob("*.log"))
        for log in logs:
            print(f"--- {log.relative_to(work)}\n{log.read_text(encoding='utf-8', errors='replace')[-4000:]}",
                  file=sys.stderr)
        raise SystemExit(f"make site: jupyter-book build failed (exit {done.returncode}); see above")
    html = work / "_build" / "html"
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(html, out, ignore=shutil.ignore_patterns(".buildinfo", "reports", ".doctrees"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site", help="where the HTML goes")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "site-work",
                        help="staged sources and Sphinx's build folder")
    parser.add_argument("--student-repo", default=os.environ.get("STUDENT_REPO") or STUDENT_REPO,
                        help="the published student edition the launch links open (a git repository)")
    parser.add_argument("--branch", default=os.environ.get("STUDENT_BRANCH") or "main")
    parser.add_argument("--binderhub", default=os.environ.get("BINDERHUB_URL") or BINDERHUB)
    parser.add_argument("--jupyterhub", default=os.environ.get("JUPYTERHUB_URL") or JUPYTERHUB)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    out = build(out=args.out.resolve(), work=args.work.resolve(), student_repo=args.student_repo,
                branch=args.branch, binderhub=args.binderhub, jupyterhub=args.jupyterhub)
    pages = len([p for p in out.rglob("*.html") if "_static" not in p.relative_to(out).parts])
    print(f"site: {pages} pages in {out} ({time.perf_counter() - started:.0f} s); open {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
