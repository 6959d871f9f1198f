"""The dashboard in a real browser: headless Chromium opens the page from disk.

It checks that plotly drew the figure (no console errors, one plot, a line per
configuration and a marker trace per configuration with a change), that a
dropdown filters the lines, and saves a screenshot (``$SNNBENCH_SCREENSHOT_DIR``,
else the test's temporary folder). Skipped, with the reason, where Chromium or
its driver is absent (CI installs Debian's ``chromium`` and ``chromium-driver``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from history_runs import damage_run, step_tree

from snnbench.history import build_history, find_changes
from snnbench.render import dashboard

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1800")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _page(tmp_path: Path):
    root = step_tree(tmp_path / "results")
    damage_run(root)
    history = build_history(root)
    changes = find_changes(history)
    out = tmp_path / "site"
    out.mkdir()
    page = out / dashboard.PAGE
    page.write_text(dashboard.build_page(history, changes, dashboard.tree_links(tmp_path, out)))
    return page, history, changes


def _visible_lines(browser) -> int:
    return browser.execute_script(
        "return document.querySelectorAll('#history-plot g.trace.scatter').length"
    )


def test_the_dashboard_renders_without_errors_and_filters(tmp_path, browser):
    page, history, changes = _page(tmp_path)
    browser.get(page.as_uri())
    browser.implicitly_wait(10)
    browser.find_element("css selector", "#history-plot .main-svg")
    traces = len(history.series) + len({c.series.key for c in changes})

    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    assert browser.execute_script("return document.querySelectorAll('.js-plotly-plot').length") == 1
    assert (
        browser.execute_script("return document.getElementById('history-plot').data.length")
        == traces
    )
    assert _visible_lines(browser) == traces
    assert len(browser.find_elements("css selector", "table")) == 3  # changes, runs, left out

    folder = Path(os.environ.get("SNNBENCH_SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "dashboard.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000

    # The backend dropdown is plotly's first menu: open it, choose "dense", and only the
    # dense lines stay (plotly's menus are SVG: clicked the way its own tests click them).
    browser.execute_script(
        "document.querySelector('#history-plot .updatemenu-header')"
        ".dispatchEvent(new MouseEvent('click', {bubbles: true}))"
    )
    clicked = browser.execute_script(
        "var b = Array.from(document.querySelectorAll('#history-plot .updatemenu-dropdown-button'))"
        ".filter(e => e.textContent === 'dense');"
        "if (b.length) { b[0].dispatchEvent(new MouseEvent('click', {bubbles: true})); }"
        "return b.length;"
    )
    assert clicked == 1
    shown = sum(s.facet("backend") == "dense" for s in history.series)
    assert (
        browser.execute_script(
            "return document.getElementById('history-plot').data.filter("
            "t => t.visible !== false).length"
        )
        == shown
    )
