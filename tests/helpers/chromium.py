"""Open a page in real headless Chromium and report what a reader would see.

The page is copied with a probe script injected at the top of ``<head>``: it records load
errors (a broken image, a blocked fetch) and ``console.error`` calls, and once the page has
loaded, whether each ``<img>`` is complete with a natural size. Chromium's ``--dump-dom``
returns the DOM with that record in it, and ``--enable-logging=stderr`` adds every console
message Chromium saw. Outside requests are sent to an unresolvable host, so a page that needs
the network shows broken images here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PROBE = """<script>
window.__gs = {errors: []};
window.addEventListener('error', function (e) {
  var t = e.target;
  window.__gs.errors.push(t && t.tagName ? 'failed to load ' + t.tagName : String(e.message));
}, true);
var __ce = console.error;
console.error = function () {
  window.__gs.errors.push(Array.prototype.join.call(arguments, ' '));
  __ce.apply(console, arguments);
};
window.addEventListener('load', function () {
  var images = Array.prototype.map.call(document.images, function (i) {
    return {ok: i.complete && i.naturalWidth > 0, width: i.naturalWidth,
            height: i.naturalHeight, alt: i.alt};
  });
  var then = null;
  if (window.__gsThen) {  // a test's own check, run once the page has loaded
    try { then = String(window.__gsThen()); } catch (e) { window.__gs.errors.push(String(e)); }
  }
  var p = document.createElement('pre');
  p.id = 'gs-probe';
  p.textContent = JSON.stringify({images: images, errors: window.__gs.errors, then: then});
  document.body.appendChild(p);
});
</script>"""


@dataclass(frozen=True)
class Rendered:
    images: list[dict]
    errors: list[str]
    console: list[str]
    then: str | None = None  # what the page's ``window.__gsThen()`` returned after load


def ensure_chromium() -> str:
    """Chromium's path, installing Debian's package first when it is missing (CI runs as
    root on a fresh Debian 12)."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError("chromium is not installed and the tests are not root: "
                           "apt-get install -y --no-install-recommends chromium")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True,
                   timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"],
                   check=True, env=env, capture_output=True, timeout=1200)
    found = shutil.which("chromium")
    if not found:
        raise RuntimeError("apt-get installed chromium but it is not on PATH")
    return found


def render(page: Path, workdir: Path) -> Rendered:
    """Load ``page`` in headless Chromium and return what the probe and the console saw."""
    chromium = ensure_chromium()
    text = page.read_text(encoding="utf-8")
    probed, count = re.subn(r"<head>", "<head>" + PROBE, text, count=1)
    assert count == 1, "page has no <head>"
    copy = workdir / f"probed-{page.name}"
    copy.write_text(probed, encoding="utf-8")
    profile = workdir / "chromium-profile"
    result = subprocess.run(
        [chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
         f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom",
         copy.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    match = re.search(r'<pre id="gs-probe">(.*?)</pre>', result.stdout, re.S)
    assert match, f"probe missing; chromium rc {result.returncode}: {result.stderr[-2000:]}"
    record = json.loads(match.group(1).replace("&quot;", '"').replace("&lt;", "<")
                        .replace("&gt;", ">").replace("&amp;", "&"))
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return Rendered(record["images"], record["errors"], console, record.get("then"))
