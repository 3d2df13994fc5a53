"""What a web process pays to start: Django set up, every URL pattern resolved and the task modules imported (what
gunicorn's workers and Celery beat load), measured in fresh processes, against the same start plus `import torch`
in the same run (the peer: what every web process paid while the first pass's encoder came in with the pipeline;
configured_finder now imports it only when a first pass asks for the encoder). Also whether torch came in at all.
Measures and never asserts.

    .venv/bin/python bench/web_startup.py [--runs 5] [--write]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_file import append_section  # noqa: E402

START = ("import os, sys, time, resource; started = time.perf_counter();"
         "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'webapp.settings');"
         "import django; django.setup();"
         "from django.urls import get_resolver; get_resolver().url_patterns;"
         "import webapp.pipeline.tasks, analysis.first_pass.pipeline;")
REPORT = ("import json; print(json.dumps({'seconds': time.perf_counter() - started,"
          "'rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 'torch': 'torch' in sys.modules}))")
VARIANTS = {"web process as it starts now": START + REPORT,
            "the same plus import torch (the peer)": START + "import torch;" + REPORT}


def measure(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS.md")
    args = parser.parse_args()
    for code in VARIANTS.values():
        measure(code)  # one untimed start each: the page cache holds the files for both
    runs: dict[str, list[dict]] = {label: [] for label in VARIANTS}
    for _ in range(args.runs):  # interleaved, so a busy moment falls on both
        for label, code in VARIANTS.items():
            runs[label].append(measure(code))
    rows = []
    peer = statistics.median(r["seconds"] for r in runs["the same plus import torch (the peer)"])
    peer_rss = statistics.median(r["rss_mib"] for r in runs["the same plus import torch (the peer)"])
    for label, measured in runs.items():
        seconds = statistics.median(r["seconds"] for r in measured)
        rss = statistics.median(r["rss_mib"] for r in measured)
        loaded = [r["torch"] for r in measured]
        torch_loaded = "yes" if all(loaded) else "some runs" if any(loaded) else "no"
        rows.append(f"| {label} | {seconds:.2f} s | x{seconds / peer:.2f} | {rss:,.0f} MiB | x{rss / peer_rss:.2f} | "
                    f"{torch_loaded} |")
    header = ("| start | median of runs | against the peer | peak RSS | against the peer | torch loaded |\n"
              "| --- | ---: | ---: | ---: | ---: | --- |")
    print(header)
    print("\n".join(rows))
    if args.write:
        append_section("Web process start-up, with and without torch (bench/web_startup.py)",
                       setup=f"{args.runs} fresh processes per row, interleaved, after one untimed start each.",
                       header=header, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
