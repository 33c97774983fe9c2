"""A real browser for the web page tests: Debian's headless Chromium driven by Selenium 4 through
Debian's chromedriver (given by path, so that Selenium never tries to download a driver), with
axe-core injected from the selenium-axe-python package (axe-core 4.9; axe-selenium-python's
release for Python 3.11 ships axe-core 3.1, which has no WCAG 2.2 rules).

Where Chromium, its driver or the Python packages are missing, ``browser()`` skips the test and
says how to install them."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("KPIFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("KPIFLOW_CHROMEDRIVER", "/usr/bin/chromedriver")
INSTALL_HINT = ("the web page tests need Chromium and its driver: run make system-deps (or apt-get install "
                "chromium chromium-driver), then make install for selenium and selenium-axe-python")
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
OPTIONS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
           "--hide-scrollbars", "--force-device-scale-factor=1")


def axe_source() -> str:
    import selenium_axe_python

    return (Path(selenium_axe_python.__file__).parent / "axe-core" / "axe.min.js").read_text(encoding="utf-8")


@contextmanager
def browser(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium window ``width`` CSS pixels wide (the viewport, not the window frame)."""
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")) or not Path(CHROMEDRIVER).exists():
        pytest.skip(INSTALL_HINT)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip(INSTALL_HINT)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for o in OPTIONS:
        opts.add_argument(o)
    opts.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        set_width(driver, width, height)
        yield driver
    finally:
        driver.quit()


def set_width(driver: Any, width: int, height: int = 900) -> None:
    """Make the viewport exactly ``width`` CSS pixels wide, as a phone's would be."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def open_file(driver: Any, path: Path) -> None:
    driver.get(path.resolve().as_uri())


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    """axe-core's violations of the WCAG 2.0, 2.1 and 2.2 A and AA rules on the open page."""
    driver.execute_script(axe_source())
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})"
        ".then(r => done(JSON.stringify(r.violations))).catch(e => done(JSON.stringify({error: String(e)})));",
        WCAG_TAGS)
    data = json.loads(result)
    if isinstance(data, dict):
        raise AssertionError(f"axe-core failed: {data['error']}")
    return list(data)


def describe_violations(violations: list[dict[str, Any]]) -> str:
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:5]]}"
                     for v in violations)


def sideways_scroll(driver: Any) -> tuple[int, int]:
    """(scrollWidth, clientWidth) of the document: the page scrolls sideways when the first is larger."""
    return tuple(driver.execute_script(  # type: ignore[return-value]
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];"))


def screenshot(driver: Any, path: Path) -> Path:
    """The whole page as a PNG (the viewport stretched to the page's height)."""
    width = driver.execute_script("return document.documentElement.clientWidth;")
    height = driver.execute_script("return document.documentElement.scrollHeight;")
    set_width(driver, int(width), min(int(height), 16000))
    path.write_bytes(driver.get_screenshot_as_png())
    return path
