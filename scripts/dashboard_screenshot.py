"""A PNG of a history dashboard as headless Chromium draws it (for a README or an issue).

    python scripts/dashboard_screenshot.py DASHBOARD/index.html OUT.png [--filter phase=forward]

``--filter NAME=VALUE`` (repeatable) chooses a dropdown's value first; the names are
the page's menus (backend, phase, precision, platform, batch_size, size). Needs
Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package (the test
extras). Exit 2 with one line when the page, a filter or the browser is missing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from snnbench.render.dashboard import FILTERS, PLOT_ID

_CHOOSE = """
var plot = document.getElementById(arguments[2]);
var menus = plot.querySelectorAll('.updatemenu-header');
menus[arguments[0]].dispatchEvent(new MouseEvent('click', {bubbles: true}));
var value = String(arguments[1]);
var wanted = Array.from(plot.querySelectorAll('.updatemenu-dropdown-button'))
  .filter(function (b) { return b.textContent === value; });
if (wanted.length) { wanted[0].dispatchEvent(new MouseEvent('click', {bubbles: true})); }
return wanted.length;
"""


def _fail(message: str) -> int:
    print(f"dashboard_screenshot: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--filter", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args(argv)
    names = [name for name, _ in FILTERS]
    if not args.page.is_file():
        return _fail(f"`page` must be a dashboard's index.html; got {str(args.page)!r}")
    chosen = []
    for text in args.filter:
        name, _, value = text.partition("=")
        if name not in names or not value:
            return _fail(f"`--filter` must be NAME=VALUE with NAME one of {names}; got {text!r}")
        chosen.append((names.index(name), value))
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        return _fail("needs chromium and chromedriver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={args.width},{args.height}")
    browser = webdriver.Chrome(service=Service(driver), options=options)
    try:
        browser.get(args.page.resolve().as_uri())
        browser.implicitly_wait(10)
        browser.find_element("css selector", f"#{PLOT_ID} .main-svg")
        for index, value in chosen:
            if browser.execute_script(_CHOOSE, index, value, PLOT_ID) != 1:
                return _fail(f"`--filter`: the {names[index]} menu has no value {value!r}")
            time.sleep(0.3)  # plotly redraws after the click
        browser.save_screenshot(str(args.out))
    finally:
        browser.quit()
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
