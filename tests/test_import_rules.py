"""The import rules of docs/architecture.md hold: import-linter's contracts (pyproject.toml) and no import cycle among
the files of webapp/, counting imports inside functions too. Both checks are also commands anyone can run:
`.venv/bin/lint-imports` and `.venv/bin/python scripts/import_cycles.py webapp`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scripts.import_cycles import cycle_groups

REPO = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and " KEPT" in done.stdout


def test_no_import_cycle_among_the_files_of_webapp():
    assert cycle_groups("webapp") == []


def test_the_cycle_check_finds_a_cycle_hidden_in_a_function(tmp_path, monkeypatch):
    package = tmp_path / "circle_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circle_pkg import b\n")
    (package / "b.py").write_text("def later():\n    from circle_pkg.c import value\n    return value\n")
    (package / "c.py").write_text("import circle_pkg.a\nvalue = 1\n")
    (package / "d.py").write_text("from circle_pkg import a\n")  # imports into the circle, is not part of it
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cycle_groups("circle_pkg") == [["circle_pkg.a", "circle_pkg.b", "circle_pkg.c"]]
