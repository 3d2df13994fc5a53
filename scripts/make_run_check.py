"""What a new user sees after `make run`, checked in real headless Chromium against the running app: log in with the
printed demo login, upload a contract into the demo workspace, wait for its analysis, open the report, and check
that it holds the model's findings under the engine's notice. Prints one JSON line of what it saw and how long each
part took; screenshots go to var/make-run-check/. Not a test (it needs `make run` up and takes minutes on a CPU).

    make run                                                   # in one terminal (HF_HUB_OFFLINE=1: no hub)
    .venv/bin/python scripts/make_run_check.py FILE.pdf        # in another, from the same checkout
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("document", type=Path)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--var", type=Path, default=REPO / "var", help="make run's var/ (holds demo_password)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the analysis")
    args = parser.parse_args()
    out = args.var / "make-run-check"
    out.mkdir(parents=True, exist_ok=True)
    password = (args.var / "demo_password").read_text().strip()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    from playwright.sync_api import sync_playwright

    seen: dict = {"document": args.document.name}
    started = time.monotonic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--headless=new", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        page.goto(f"{args.url}/accounts/login/")
        page.fill("#id_login", "demo")
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{args.url}/")
        page.click("text=Demo workspace")
        page.wait_for_url(re.compile(r".*/w/[0-9a-f-]{36}/$"))
        seen["banner"] = page.inner_text(".engine-banner") if page.locator(".engine-banner").count() else None

        page.set_input_files("#upload-input", str(args.document))
        row = "#documents tbody tr[data-doc-id]"
        page.wait_for_selector(row)
        uploaded = time.monotonic()
        stages = []
        while time.monotonic() - uploaded < args.timeout:
            page.reload()
            state = page.evaluate(f"""() => {{ const r = document.querySelector('{row}');
                const p = r.querySelector('progress'); return [r.getAttribute('data-status'), p ? p.value : null,
                r.innerText.replace(/\\s+/g, ' ').slice(0, 160)]; }}""")
            if not stages or stages[-1][:2] != state[:2]:
                stages.append(state)
            if state[0] in ("ready", "failed"):
                break
            time.sleep(5)
        seen["ready_seconds"] = round(time.monotonic() - uploaded, 1)
        seen["states"] = stages
        page.screenshot(path=str(out / "workspace.png"), full_page=True)

        page.click(f"{row} a.doc-name")
        page.click("text=Open report")
        page.wait_for_load_state()
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and not page.locator(".finding").count():
            # The analysis may still be running after ingestion: its bar is on the report page.
            time.sleep(10)
            page.reload()
        seen["analysis_seconds"] = round(time.monotonic() - uploaded, 1)
        seen["report_banner"] = page.inner_text(".engine-banner") if page.locator(".engine-banner").count() else None
        seen["findings"] = page.locator(".finding").count()
        seen["verified_quotes"] = page.locator(".finding .quote.verified").count()
        seen["marked_quotes"] = page.locator(".finding .quote:not(.verified)").count()
        seen["first_findings"] = [f.inner_text()[:200] for f in page.locator(".finding").all()[:3]]
        page.screenshot(path=str(out / "report.png"), full_page=False)
        browser.close()
    seen["total_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(seen, ensure_ascii=False))
    ok = bool(seen["findings"]) and bool(seen["report_banner"]) and "demo model" in (seen["report_banner"] or "")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
