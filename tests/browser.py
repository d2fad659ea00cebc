"""A report page opened in a real headless Chromium (Debian's `chromium`; `.ci/run` installs it): what a reader's
browser makes of it. `open_page` loads a copy of the page with a probe script added, and returns what the probe saw
once the page had loaded (images that did not load, contents links that lead nowhere, script errors) with the
browser's console errors; a screenshot of the page is written beside it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",  # root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=10000",  # the load event has fired when the DOM is dumped
]
# first in <head>: errors from any later script are caught; on load, the page's images and contents links checked
PROBE = """<script>
window.__probe = {errors: []};
window.addEventListener("error", e => window.__probe.errors.push(String(e.message || e)));
window.addEventListener("load", () => {
  const images = [...document.images];
  window.__probe.images = images.length;
  window.__probe.broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt || i.src.slice(0, 60));
  const links = [...document.querySelectorAll('a[href^="#"]')];
  window.__probe.links = links.length;
  window.__probe.dangling = links.map(a => a.getAttribute("href")).filter(h => !document.getElementById(h.slice(1)));
  document.body.setAttribute("data-probe", JSON.stringify(window.__probe));
});
</script>"""


@dataclass
class Page:
    images: int  # <img> elements on the page
    broken: list[str]  # those that did not load (alt text)
    links: int  # contents links (href="#...")
    dangling: list[str]  # those whose target id is not on the page
    errors: list[str]  # script errors, and the console's errors
    screenshot: Path


def browser() -> str:
    """Chromium's path; a skip (a failure where DNNBENCH_REQUIRE_BROWSER=1, as in CI) where it is not installed."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        why = "chromium is not installed (Debian: apt-get install chromium; .ci/run does)"
        if os.environ.get("DNNBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"DNNBENCH_REQUIRE_BROWSER=1, but {why}")
        pytest.skip(why)
    return found


def open_page(index: Path, out: Path, width: int = 1280, height: int = 2400) -> Page:
    chromium = browser()
    out.mkdir(parents=True, exist_ok=True)
    probed = index.with_name("probed-" + index.name)  # beside the page: its relative links still resolve
    html = index.read_text()
    probed.write_text(html.replace("<head>", "<head>" + PROBE, 1) if "<head>" in html else PROBE + html)
    profile = [f"--user-data-dir={out / 'profile'}", f"--window-size={width},{height}"]
    dump = subprocess.run(
        [chromium, *FLAGS, *profile, "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120
    )
    shot = out / "page.png"
    subprocess.run(
        [chromium, *FLAGS, *profile, f"--screenshot={shot}", index.as_uri()], capture_output=True, timeout=120
    )
    probed.unlink()
    found = re.search(r'data-probe="([^"]*)"', dump.stdout)
    if not found:
        raise AssertionError(f"the page never finished loading in Chromium: {dump.stderr[-2000:]}")
    probe = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    lines = dump.stderr.splitlines()
    console = [line for line in lines if "CONSOLE" in line and ("ERROR" in line or "Uncaught" in line)]
    return Page(probe["images"], probe["broken"], probe["links"], probe["dangling"], probe["errors"] + console, shot)
