"""GraphiQL in a real browser: headless Chromium loads /graphql from the
gateway, the editor renders, and no request leaves the machine."""
import json
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTIFACTS = os.path.join(ROOT, "test-artifacts")
LOCAL = re.compile(r"^(https?://(127\.0\.0\.1|localhost)(:\d+)?/|data:|blob:|about:|chrome:|chrome-extension:)")


def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is needed for the browser check; scripts/test installs Debian's chromium package")
    return path


def run_chromium(tmp_path, *args):
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", "--user-data-dir={}".format(tmp_path / "profile"),
           # Anything not on this machine fails to resolve, so an outside fetch
           # would leave GraphiQL unrendered as well as show in the net log.
           "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--virtual-time-budget=15000",
           *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def page_requests(net_log, origin):
    """URLs the page itself asked for: Chromium's net log names the page's
    origin as the initiator, and its own background fetches (update checks,
    clock sync) as none."""
    log = json.loads(net_log.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return {e["params"]["url"] for e in log["events"]
            if e["type"] == start_job and e.get("params", {}).get("initiator") == origin}


def test_graphiql_renders_offline_and_is_captured(gateway, tmp_path):
    url = gateway.url + "/graphql"
    net_log = tmp_path / "net-log.json"
    dom = run_chromium(tmp_path, "--log-net-log={}".format(net_log), "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "graphiql-container" in dom.stdout, dom.stdout[:2000]
    assert "Loading GraphiQL" not in dom.stdout
    assert "extensions" not in dom.stdout, "GraphiQL's schema query was refused"
    assert "graphiql-query-editor" in dom.stdout or "graphiql-editor" in dom.stdout

    by_page = page_requests(net_log, gateway.url)
    assert {"/static/graphiql/graphiql.min.js", "/static/graphiql/react.production.min.js",
            "/graphql"} <= {re.sub(r"^https?://[^/]+", "", u) for u in by_page}, by_page
    outside = sorted(u for u in by_page if not LOCAL.match(u))
    assert outside == [], outside

    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "graphiql.png")
    if os.path.exists(shot):
        os.remove(shot)
    result = run_chromium(tmp_path, "--window-size=1280,800", "--screenshot={}".format(shot), url)
    assert result.returncode == 0, result.stderr[-2000:]
    assert os.path.getsize(shot) > 10_000  # a rendered page, not a blank one
