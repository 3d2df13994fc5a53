"""Appending one dated section to bench/RESULTS.md: the heading, the command that reproduced the figures, the machine
and commit they ran on, and the table. Every figure in that file carries these, so a reader can rerun it."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def append_section(title: str, *, setup: str, header: str, rows: list[str]) -> None:
    """`title` names the bench's script; `setup` says what differs from the defaults (threads, versions, sizes);
    `header` is the table's two header lines; `rows` its rows."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%a %b %d %H:%M UTC %Y")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    script = Path(sys.argv[0]).resolve().relative_to(ROOT)
    with open(ROOT / "bench" / "RESULTS.md", "a") as out:
        out.write(f"\n## {title}, {stamp}\n\n")
        out.write(f"Command: `.venv/bin/python {script} {' '.join(sys.argv[1:])}`  \n")
        out.write(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; commit {commit}. {setup}\n\n")
        out.write(header.rstrip("\n") + "\n" + "\n".join(rows) + "\n")
