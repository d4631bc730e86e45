"""The report renders in a real browser: headless Chromium loads every image, logs no error, and
(under a content security policy that allows nothing but data: images and inline style) fetches
nothing from anywhere else.

A copy of the report gets a small script in its <head> that records errors and policy violations
and, on `load`, whether each <img> decoded; Chromium's --dump-dom prints the DOM with that record.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import utility_result

from ganguard.metrics.attack_metrics import attack_metrics
from ganguard.report import write_report

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]  # fmt: skip

# Nothing but inline style and data: images may load. Inline scripts are allowed only so that the
# checker below runs: the report has none of its own (asserted).
POLICY = (
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
    "img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
)
CHECKER = """<script>
var problems = [];
window.addEventListener("error", function (e) {
  var t = e.target;
  problems.push(t && t.tagName ? "failed to load " + t.tagName : "error: " + e.message);
}, true);
document.addEventListener("securitypolicyviolation", function (e) {
  problems.push("blocked " + e.blockedURI + " (" + e.violatedDirective + ")");
});
var consoleError = console.error;
console.error = function () {
  problems.push("console.error: " + Array.prototype.join.call(arguments, " "));
  consoleError.apply(console, arguments);
};
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  var pre = document.createElement("pre");
  pre.id = "check";
  pre.textContent = JSON.stringify({
    images: imgs.length,
    broken: bad.map(function (i) { return i.alt; }),
    problems: problems,
  });
  document.body.appendChild(pre);
});
</script>"""


def _fake_audit(seed: int) -> dict:
    """An audit.json as `ganguard audit` writes it, from made-up scores (no attack to run)."""
    rng = np.random.default_rng(seed)
    attacks = {}
    for i, name in enumerate(["logan_wb", "ganleaks_fbb"]):
        metrics = attack_metrics(rng.normal(0.3 * i, 1, 64), rng.normal(0, 1, 64), n_boot=20)
        attacks[name] = {"name": name, "threat_model": ["samples"], "settings": {},
                         "seconds": 0.1, "metrics": metrics, "extra": {}}  # fmt: skip
    return {"source": "test", "n_members": 64, "n_nonmembers": 64, "seed": seed,
            "attacks": attacks, "skipped": {"domias": "needs reference"}}  # fmt: skip


@pytest.fixture
def report(gan_run, tmp_path: Path) -> Path:
    """A report of two copies of the tiny run, each with an audit and a utility.json, so every
    kind of figure is in it."""
    runs = []
    for i in range(2):
        run = tmp_path / f"run{i}"
        shutil.copytree(gan_run[0], run)
        (run / "audit.json").write_text(json.dumps(_fake_audit(i)))
        utility = utility_result(10.0 + 5 * i, 2.0)
        (run / "utility.json").write_text(json.dumps(utility.to_dict()))
        runs.append(run)
    return write_report(runs, tmp_path / "report.html", n_samples=500)


def test_report_renders_in_chromium(report: Path, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed: apt-get update && apt-get install -y chromium "
                    "chromium-driver")  # fmt: skip
    page = report.read_text()
    assert "<script" not in page  # the report itself is script-free
    checked = tmp_path / "checked.html"
    checked.write_text(page.replace("<head>", "<head>\n" + POLICY + CHECKER, 1))
    proc = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
         "--dump-dom", checked.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r'<pre id="check">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"no check result in the DOM (exit {proc.returncode}): {proc.stderr[-2000:]}"
    result = json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<")
                        .replace("&gt;", ">").replace("&quot;", '"'))  # fmt: skip
    assert result["images"] == page.count("<img") >= 2 * (2 + 1 + 2 * 8) + 1
    assert result["broken"] == []
    assert result["problems"] == []
