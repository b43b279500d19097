"""Copy the browser tests' screenshots into docs/screenshots/ for the README, small.

Run after the browser tests: `python tests/browser/update_docs_screenshots.py`. Each
1280x800 screenshot is reduced to a 128-colour palette (text stays sharp, the file
shrinks to about a third); nothing else is changed, so the README shows the real pages.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "build" / "screenshots"
TARGET = ROOT / "docs" / "screenshots"
# The pictures the README shows, in its order; each test writes its own.
NAMES = (
    "lesson-01-run-all", "lesson-03-chart", "validate-solved", "validate-blank",
    "formgrader-assignments", "formgrader-submissions",
    # tests/browser/test_hub_roundtrip.py (docs/deploy.md)
    "hub-fetched", "hub-validated", "hub-submitted", "hub-feedback-fetched", "hub-feedback",
    "hub-formgrader",
)


def main() -> int:
    # `update_docs_screenshots.py hub` copies only the pictures whose names start with "hub"
    names = [name for name in NAMES if not sys.argv[1:] or name.startswith(tuple(sys.argv[1:]))]
    missing = [name for name in names if not (SOURCE / f"{name}.png").exists()]
    if missing:
        print(f"missing in {SOURCE}: {', '.join(missing)}; run `python -m pytest -m browser` first", file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    for name in names:
        picture = Image.open(SOURCE / f"{name}.png").convert("RGB")
        small = picture.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        small.save(TARGET / f"{name}.png", optimize=True)
        print(f"{TARGET / f'{name}.png'}: {(TARGET / f'{name}.png').stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
