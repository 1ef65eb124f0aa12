"""Accessibility of every page a person uses: axe-core in Chromium, desktop and 360 px.

The page list is data (tests/accessibility_pages.py). A page fails on any axe-core
violation of WCAG 2.0-2.2 A/AA (label-in-name, 2.5.3, included), on any
Content-Security-Policy violation the browser reports (the policy is enforced, as
in production) and, at 360 px, on horizontal overflow (the page scrolls sideways,
or content is cut off at the left in right-to-left languages).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.accessibility_pages import PAGES, PageSpec, Scenario
from tests.browser import csp_violations, screenshot

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_SOURCE = AXE.read_text(encoding="utf-8") if AXE.exists() else ""
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDTHS = {"desktop": (1280, 900), "360": (360, 740)}

AXE_RUN = """async ([tags]) => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: tags},
    // 2.5.3 label-in-name is "experimental" in axe-core: asked for explicitly.
    rules: {"label-content-name-mismatch": {enabled: true}},
    resultTypes: ["violations"],
  });
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""

OVERFLOW = """() => {
  const doc = document.documentElement;
  const wide = [];
  if (doc.scrollWidth > doc.clientWidth + 1) {
    const clipped = (el) => {
      for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
        if (getComputedStyle(up).overflowX !== "visible") return true;
      }
      return false;
    };
    for (const el of document.body.querySelectorAll("*")) {
      if (clipped(el)) continue;  // inside a box that scrolls or clips: not the page's width
      const box = el.getBoundingClientRect();
      if (box.width && (box.right > doc.clientWidth + 1 || box.left < -1)) {
        const cls = typeof el.className === "string" ? el.className.trim() : "";
        const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
          + (cls ? "." + cls.split(/\\s+/).join(".") : "");
        wide.push(name + " [" + Math.round(box.left) + ", " + Math.round(box.right) + "]");
      }
    }
  }
  return {scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth, wide: wide.slice(0, 8)};
}"""


@pytest.fixture(autouse=True)
def policies(transactional_db: None) -> None:
    """Live-server tests run on a flushed database: put back the policies the migration seeds."""
    from django.apps import apps

    importlib.import_module("core.migrations.0002_seed_policies").forwards(apps, None)


def _session_cookie(user: Any, url: str) -> list[dict[str, Any]]:
    """Log the user in without the login page (that page has its own entry)."""
    client = Client()
    client.force_login(user)
    return [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}]


def _check(browser: Any, live_server: Any, spec: PageSpec, scenario: Scenario) -> list[str]:
    """Load the page in each language at both widths; the problems found, as text."""
    problems: list[str] = []
    user = getattr(scenario.demo, spec.user) if spec.user else None
    cookies = _session_cookie(user, live_server.url) if user is not None else []
    for lang in spec.languages:
        url = live_server.url + spec.url(scenario, lang)
        for width_name in spec.widths:
            width, height = WIDTHS[width_name]
            # The site's Content-Security-Policy stays on: axe-core is evaluated through the
            # DevTools protocol (not a <script> the policy would refuse), and any violation the
            # page itself causes is a problem of the page.
            context = browser.new_context(
                viewport={"width": width, "height": height}, locale="en-US"
            )
            try:
                context.add_cookies(cookies)
                tab = context.new_page()
                tab.set_default_timeout(10_000)
                violations = csp_violations(tab)
                response = tab.goto(url)
                assert response is not None
                where = f"{spec.name} [{lang}, {width_name}]"
                if response.status != spec.status:
                    problems.append(f"{where}: HTTP {response.status}, expected {spec.status}")
                    continue
                tab.wait_for_load_state("networkidle")
                if spec.reach is not None:
                    spec.reach(tab, scenario)
                screenshot(tab, f"a11y-{spec.name}-{lang}-{width_name}")
                if spec.axe:
                    tab.evaluate(AXE_SOURCE)
                for v in tab.evaluate(AXE_RUN, [WCAG_TAGS]) if spec.axe else []:
                    nodes = "; ".join(f"{n['target']}" for n in v["nodes"])
                    problems.append(
                        f"{where}: axe {v['id']} ({v['impact']}): {v['help']} — {nodes}"
                    )
                if width_name == "360":
                    overflow = tab.evaluate(OVERFLOW)
                    if overflow["scrollWidth"] > overflow["clientWidth"] + 1:
                        problems.append(
                            f"{where}: overflows at 360 px ({overflow['scrollWidth']} px wide): "
                            + json.dumps(overflow["wide"], ensure_ascii=False)
                        )
                problems.extend(f"{where}: {text}" for text in violations)
            finally:
                context.close()
    return problems


@pytest.mark.browser
@pytest.mark.parametrize("spec", PAGES, ids=[p.name for p in PAGES])
def test_page_has_no_axe_violation_and_fits_360px(spec, demo, browser, live_server):
    assert AXE.exists(), "axe-core is missing: scripts/setup --dev installs it (npm ci)"
    problems = _check(browser, live_server, spec, Scenario(demo))
    assert not problems, "\n".join(problems)
