"""The Makefile and the small scripts around it: what `make test` installs, how `make lab`
starts as root, how `make grade` treats a partly graded class, and the ./coursekit wrapper."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import ROOT

ENSURE_CHROMIUM = ROOT / "tools" / "ensure-chromium"


def _fake_bin(folder: Path, *, uid: int, sudo_ok: bool = False, chromium: bool = False) -> Path:
    """A PATH folder holding fakes only: `id` (prints uid), `apt-get` (records its arguments
    and, on install, puts a fake chromium here), optionally `sudo` and `chromium`."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "calls.log"
    scripts = {
        "id": f'#!/bin/sh\n[ "$1" = -u ] && echo {uid}\n',
        "apt-get": (f'#!/bin/sh\necho "apt-get $*" >> {log}\n'
                    f'[ "$1" = install ] && printf "#!/bin/sh\\n" > {folder}/chromium '
                    f'&& chmod +x {folder}/chromium\nexit 0\n'),
    }
    if sudo_ok:
        scripts["sudo"] = f'#!/bin/sh\necho "sudo $*" >> {log}\n[ "$1" = -n ] && shift\n"$@"\n'
    if chromium:
        scripts["chromium"] = "#!/bin/sh\n"
    for name, text in scripts.items():
        (folder / name).write_text(text, encoding="utf-8")
        (folder / name).chmod(0o755)
    return folder


def _ensure(bin_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/bash", str(ENSURE_CHROMIUM)], capture_output=True, text=True,
                          env={"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/")})


def _calls(bin_dir: Path) -> list[str]:
    log = bin_dir / "calls.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def test_ensure_chromium_as_root_installs_chromium_and_a_font(tmp_path):
    fake = _fake_bin(tmp_path / "bin", uid=0)
    done = _ensure(fake)
    assert done.returncode == 0, done.stderr
    calls = _calls(fake)
    assert calls[0].startswith("apt-get update")
    assert calls[-1].startswith("apt-get install -y") and calls[-1].split()[-2:] == ["chromium", "fonts-dejavu-core"]


def test_ensure_chromium_with_passwordless_sudo_installs_through_sudo(tmp_path):
    fake = _fake_bin(tmp_path / "bin", uid=1000, sudo_ok=True)
    done = _ensure(fake)
    assert done.returncode == 0, done.stderr
    assert any(c.startswith("sudo -n apt-get install -y") for c in _calls(fake)), _calls(fake)


def test_ensure_chromium_without_root_stops_and_says_what_to_install(tmp_path):
    fake = _fake_bin(tmp_path / "bin", uid=1000)
    done = _ensure(fake)
    assert done.returncode != 0
    assert "apt-get install -y chromium fonts-dejavu-core" in done.stderr
    assert _calls(fake) == []  # nothing tried


def test_ensure_chromium_does_nothing_when_chromium_is_there(tmp_path):
    fake = _fake_bin(tmp_path / "bin", uid=0, chromium=True)
    done = _ensure(fake)
    assert done.returncode == 0, done.stderr
    assert _calls(fake) == []


def _make_n(*args: str) -> str:
    done = subprocess.run(["make", "-n", "-C", str(ROOT), *args], capture_output=True, text=True, check=True)
    return done.stdout


def test_make_test_and_test_browser_first_ensure_chromium():
    for target in ("test", "test-browser"):
        out = _make_n(target)
        assert "tools/ensure-chromium" in out, target
        assert out.index("tools/ensure-chromium") < out.index("pytest"), target


def test_make_lab_allows_root_only_as_root():
    assert "--allow-root" in _make_n("lab", "USER_ID=0")
    assert "--allow-root" not in _make_n("lab", "USER_ID=1000")
    as_me = _make_n("lab")
    assert ("--allow-root" in as_me) == (os.getuid() == 0)


def _make_grade(tmp_path: Path, status: int) -> subprocess.CompletedProcess:
    """`make grade` with a fake coursekit that prints a summary and exits with `status`
    (-o: the venv counts as set up)."""
    fake = tmp_path / "fake-coursekit"
    fake.write_text(f'#!/bin/sh\necho "summary of $*"\nexit {status}\n', encoding="utf-8")
    fake.chmod(0o755)
    return subprocess.run(["make", "-C", str(ROOT), "-o", ".venv/.installed", "grade",
                           f"SUBMISSIONS={tmp_path}", f"COURSEKIT={fake}"], capture_output=True, text=True)


def test_make_grade_succeeds_with_a_note_when_some_hand_ins_were_refused(tmp_path):
    done = _make_grade(tmp_path, 3)
    assert done.returncode == 0, done.stderr
    assert f"summary of grade {tmp_path}" in done.stdout
    assert any(line.startswith("note: some hand-ins were refused or not graded")
               for line in done.stdout.splitlines())
    assert "Error" not in done.stderr


def test_make_grade_passes_on_success_and_fails_on_an_error(tmp_path):
    ok = _make_grade(tmp_path, 0)
    assert ok.returncode == 0 and not any(line.startswith("note:") for line in ok.stdout.splitlines())
    failed = _make_grade(tmp_path, 1)
    assert failed.returncode != 0 and "Error 1" in failed.stderr


def test_the_coursekit_wrapper_runs_the_cli_from_the_venv(tmp_path):
    done = subprocess.run([str(ROOT / "coursekit"), "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "usage: coursekit" in done.stdout and "bundle" in done.stdout


def test_make_bundle_runs_coursekit_bundle():
    assert "coursekit bundle" in _make_n("-o", ".venv/.installed", "bundle")
