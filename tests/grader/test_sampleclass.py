"""Is the generated class seeded, varied and built from the real answers?"""

from __future__ import annotations

from collections import Counter

from conftest import ROOT

from coursekit import notebooks
from coursekit.grader import sampleclass
from coursekit.grader.course import Course


def test_synthetic_class_is_reproducible_and_varied():
    """Same seed, same class; and does it mix right, wrong, blank and erroring answers?"""
    course = Course.at(ROOT)
    fixtures = ROOT / "tests" / "fixtures"
    first = sampleclass.synthetic_class(course=course, fixtures=fixtures, students=30, seed=7)
    assert first == sampleclass.synthetic_class(course=course, fixtures=fixtures, students=30, seed=7)
    assert first != sampleclass.synthetic_class(course=course, fixtures=fixtures, students=30, seed=8)
    assert len(first) == 30 * len(course.assignments())
    kinds = Counter()
    for text in first.values():
        for cell in notebooks.normalized(notebooks.nbformat.reads(text, as_version=4)).cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and meta.get("solution"):
                source = cell.source
                kinds["blank" if "NotImplementedError" in source else
                      "erroring" if "undefined_helper" in source or "(text:\n" in source else
                      "wrong" if source.startswith("# wrong:") else "right or other"] += 1
    assert all(kinds[k] > 0 for k in ("blank", "erroring", "wrong", "right or other")), kinds
