"""Is the course data intact, found from anywhere in the course, and loud when it is not?"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from conftest import ROOT

from coursekit import seeds

ARTICLE_SHA256 = "040f446ec8486a8d36241adfb31e1464879613e0f73b3b8c976833f4051fdd1e"
STATEMENT_SHA256 = "b6800011f1ae7ed0db91501bab464c3d3adbb41a9688038d764ba1b57642041b"


def test_article_is_the_published_text_byte_for_byte():
    """Does seeds/kfor-article.txt have the checksum and length the spec gives?"""
    raw = (ROOT / "seeds" / "kfor-article.txt").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == ARTICLE_SHA256
    text = raw.decode("utf-8")
    assert len(text) == 3756
    assert not text.endswith("\n")
    assert text.startswith("European Western Balkans\n\nNATO authorizes additional forces")


def test_article_metadata_describes_the_article():
    """Does the metadata carry outlet, headline, URL, date, language and the checksum?"""
    meta = json.loads((ROOT / "seeds" / "kfor-article.json").read_text(encoding="utf-8"))
    assert meta["outlet"] == "European Western Balkans"
    assert meta["published"] == "2023-09-29"
    assert meta["url"].startswith("https://europeanwesternbalkans.com/2023/09/29/")
    assert meta["language"] == "en"
    assert meta["sha256"] == ARTICLE_SHA256
    assert meta["characters"] == 3756
    assert meta["headline"] in (ROOT / "seeds" / "kfor-article.txt").read_text(encoding="utf-8")
    assert meta["capture"]


def test_nato_statement_is_natos_text():
    """Is NATO's statement stored as NATO prints it: title, six paragraphs, British spelling?"""
    text = seeds.nato_statement(seeds_dir=ROOT / "seeds")
    raw = (ROOT / "seeds" / "nato-statement-2023-09-29.txt").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == STATEMENT_SHA256
    assert raw.decode("utf-8") == text
    paragraphs = text.split("\n\n")
    assert paragraphs[0] == "Secretary General statement on the situation in Kosovo"
    assert len(paragraphs) == 7
    assert all(p and p == p.strip() and "\n" not in p for p in paragraphs)
    assert not text.endswith("\n")
    assert ("Only yesterday the North Atlantic Council authorised additional forces to address "
            "the current situation.") in text
    assert "We call on all parties to urgently de-escalate." in text
    assert "authorized" not in text
    assert "NATO\u2019s KFOR mission" in text and "'" not in text
    assert "Last updated" not in text


def test_nato_statement_metadata_matches_the_text():
    """Does the metadata name NATO as publisher and origin and carry the text's true sizes?"""
    meta = seeds.nato_statement_metadata(seeds_dir=ROOT / "seeds")
    text = seeds.nato_statement(seeds_dir=ROOT / "seeds")
    assert meta["file"] == "nato-statement-2023-09-29.txt"
    assert meta["publisher"] == meta["origin"] == "NATO"
    assert meta["url"] == "https://www.nato.int/cps/en/natohq/official_texts_218898.htm"
    assert meta["published"] == "2023-09-29"
    assert meta["title"] == text.split("\n\n")[0]
    assert meta["characters"] == len(text)
    assert meta["bytes"] == len(text.encode("utf-8"))
    assert meta["sha256"] == STATEMENT_SHA256 == seeds.verify(ROOT / "seeds")[meta["file"]]
    assert any("Last updated: 29 Sep. 2023" in item for item in meta["page_chrome"])
    assert meta["how_read"] and meta["capture"]


def test_altered_nato_statement_is_refused(course_copy):
    """Does an Americanised spelling in the stored statement stop nato_statement()?"""
    path = course_copy / "seeds" / "nato-statement-2023-09-29.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("authorised", "authorized"), encoding="utf-8")
    with pytest.raises(seeds.SeedError, match="nato-statement-2023-09-29.txt: altered"):
        seeds.nato_statement(seeds_dir=course_copy / "seeds")


def test_every_seed_file_is_listed_and_verified():
    """Is every file in seeds/ (but the manifest and README) covered by SHA256SUMS?"""
    listed = set(seeds.verify(ROOT / "seeds"))
    present = {p.name for p in (ROOT / "seeds").iterdir() if p.is_file()}
    assert "SHA256SUMS" in present
    assert present - listed <= {"SHA256SUMS", "README.md"}


@pytest.mark.parametrize("start", ["lessons", "exercises", "solutions", "src/coursekit"])
def test_seeds_are_found_from_any_course_folder(start, monkeypatch):
    """Does read_article work from the lessons, the exercises and deeper folders?"""
    monkeypatch.delenv(seeds.SEEDS_ENV, raising=False)
    monkeypatch.chdir(ROOT / start)
    assert seeds.find_seeds_dir() == ROOT / "seeds"
    assert len(seeds.read_article()) == 3756


def test_seeds_are_found_from_the_autograders_copy(course_copy, monkeypatch):
    """Is the data found from build/autograded/<student>/<assignment>/, where nbgrader runs?"""
    deep = course_copy / "build" / "autograded" / "ada" / "01-reading-the-source"
    deep.mkdir(parents=True)
    monkeypatch.delenv(seeds.SEEDS_ENV, raising=False)
    monkeypatch.chdir(deep)
    assert seeds.find_seeds_dir() == course_copy / "seeds"


def test_environment_variable_points_at_the_seeds(course_copy, monkeypatch, tmp_path):
    """Does $COURSEKIT_SEEDS win over the folder search?"""
    monkeypatch.setenv(seeds.SEEDS_ENV, str(course_copy / "seeds"))
    monkeypatch.chdir(tmp_path)
    assert seeds.find_seeds_dir() == course_copy / "seeds"


def test_no_seeds_anywhere_is_a_clear_error(tmp_path, monkeypatch):
    """Is the error for a folder outside the course one that says what to do?"""
    monkeypatch.delenv(seeds.SEEDS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(seeds.SeedError, match=r"seeds/SHA256SUMS: not found .*COURSEKIT_SEEDS"):
        seeds.find_seeds_dir()


def test_altered_article_is_named_with_what_differs(course_copy):
    """Does one changed character make verify() name the file and the checksums?"""
    article = course_copy / "seeds" / "kfor-article.txt"
    article.write_text(article.read_text(encoding="utf-8").replace("3,735", "3,736"), encoding="utf-8")
    with pytest.raises(seeds.SeedError, match=r"seeds/kfor-article.txt: altered \(sha256 .*expected 040f446ec848"):
        seeds.verify(course_copy / "seeds")
    with pytest.raises(seeds.SeedError, match="kfor-article.txt: altered"):
        seeds.read_article(seeds_dir=course_copy / "seeds")


def test_missing_seed_file_is_named(course_copy):
    """Does a deleted seed file give an error naming it and the folder?"""
    (course_copy / "seeds" / "kfor-article.json").unlink()
    with pytest.raises(seeds.SeedError, match=r"seeds/kfor-article.json: missing from .*seeds"):
        seeds.verify(course_copy / "seeds")


def test_unlisted_name_is_refused(course_copy):
    """Can a lesson only read files the manifest vouches for?"""
    with pytest.raises(seeds.SeedError, match="not a course data file"):
        seeds.read_text("notes.txt", seeds_dir=course_copy / "seeds")


def test_cli_reports_an_altered_seed_in_one_line(course_copy):
    """Does every coursekit command stop with one line naming the altered file?"""
    article = course_copy / "seeds" / "kfor-article.txt"
    article.write_bytes(article.read_bytes() + b"\n")
    for command in (["verify-seeds"], ["build", "--check"], ["check"], ["grade", "anything"]):
        done = subprocess.run(
            [sys.executable, "-m", "coursekit.cli", "--course", str(course_copy), *command],
            capture_output=True, text=True,
        )
        assert done.returncode == 1, command
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert "seeds/kfor-article.txt: altered" in lines[0]
