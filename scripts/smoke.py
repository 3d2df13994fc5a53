"""Drive a running Quire like a browser would: log in, upload one file, wait for its report.

    python scripts/smoke.py http://127.0.0.1:8000 demo PASSWORD path/to/file.pdf

Used to check `make run` end to end from a fresh clone; exits non-zero if the document does not
become ready. Standard library only.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import sys
import time
import urllib.request
import uuid
from pathlib import Path


def main(base: str, username: str, password: str, path: str) -> int:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def csrf() -> str:
        return next(c.value for c in jar if c.name == "csrftoken")

    def post(url: str, data: bytes, content_type: str, accept: str = "text/html"):
        request = urllib.request.Request(url, data=data, method="POST")
        request.add_header("Content-Type", content_type)
        request.add_header("X-CSRFToken", csrf())
        request.add_header("Referer", url)
        request.add_header("Accept", accept)
        return opener.open(request)

    opener.open(f"{base}/accounts/login/").read()
    form = f"login={username}&password={password}&csrfmiddlewaretoken={csrf()}".encode()
    home = post(f"{base}/accounts/login/", form, "application/x-www-form-urlencoded").read().decode()
    workspace = re.search(r'href="/w/([0-9a-f-]{36})/"', home)
    if not workspace:
        print("login failed or no workspace", file=sys.stderr)
        return 1

    file = Path(path)
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{file.name}\"\r\n"
        f"Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + file.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    upload_url = f"{base}/w/{workspace.group(1)}/upload/"
    result = json.load(post(upload_url, body, f"multipart/form-data; boundary={boundary}", "application/json"))
    outcome = result["results"][0]
    print(f"upload: {outcome['outcome']}: {outcome['message']}")
    if not outcome.get("status_url"):
        return 1
    started = time.monotonic()
    while time.monotonic() - started < 300:
        state = json.load(opener.open(base + outcome["status_url"]))
        print(f"  {state['status']:<10} {state['progress']:>3}%  {state['stage']}")
        if state["terminal"]:
            break
        time.sleep(1)
    if state["status"] != "ready":
        print(f"failed: {state['error']}", file=sys.stderr)
        return 1
    report = opener.open(base + outcome["url"] + "report/").read().decode()
    facts = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", report)
    print("report:", "; ".join(f"{k}: {v}" for k, v in facts))
    runs = re.findall(r'<span class="badge status-(\w+)" data-field="status_label">', report)
    findings = len(re.findall(r'<li class="finding ', report))
    print(f"analyses: {', '.join(runs) or 'none'}; findings shown: {findings}; "
          f"test-model notice: {'yes' if 'Test model:' in report else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
