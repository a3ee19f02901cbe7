"""Driving `mendflow serve`'s web UI in a real headless Chromium (Debian's `chromium` and
`chromium-driver`, through Selenium), for any test that needs a person's clicks: log in,
open a run, wait for a step's colour, approve it, wait for the run's end, keep a screenshot.

Statuses are read from what the page shows: a step's node in the plan graph carries
`data-status` (set by the page's script from the event stream), the run's status is
`#run-status[data-status]`. Nothing here reloads a page unless its name says it navigates.

    driver = browser.start()                 # skips, or under CI=true fails, without Chromium
    browser.login(driver, base, APPROVER_TOKEN)
    browser.open_run(driver, base, run_id)
    browser.wait_step_status(driver, step_id, "asking")
    browser.approve_step(driver, run_id, step_id)
    browser.wait_run_status(driver, "succeeded")
    browser.screenshot(driver, "approved")   # kept under MENDFLOW_TEST_ARTIFACTS
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("MENDFLOW_TEST_ARTIFACTS", ROOT / ".artifacts"))


def _missing(why: str) -> None:
    if os.environ.get("CI"):  # CI=true (.ci/run sets it), or any CI's own marker
        pytest.fail(f"{why} (scripts/ensure-system.sh installs chromium and chromium-driver; "
                    "pip install -e '.[dev]' installs selenium)")
    pytest.skip(why)


def start(*, width: int = 1400, height: int = 1000) -> Any:
    """A headless Chromium under chromedriver; skipped when Chromium, its driver or Selenium
    is missing, and failed instead when the CI variable is set."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        _missing("Chromium or chromedriver is not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--disable-extensions",
                "--no-first-run", "--password-store=basic"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # for console_errors
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_page_load_timeout(30)
    return driver


def wait_for(what: str, check: Callable[[], Any], *, timeout: float = 30) -> Any:
    """`check()` once it is truthy (errors while the page changes count as not yet)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # a stale element while a fragment is swapped: look again
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


def login(driver: Any, base: str, token: str) -> None:
    """Log in on the login page with `token`; the session is the HttpOnly cookie it sets."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/ui/login")
    field = driver.find_element(By.ID, "token")
    field.clear()
    field.send_keys(token)
    driver.find_element(By.ID, "login").click()
    wait_for("the runs page after logging in",
             lambda: driver.execute_script("return document.body.dataset.page") == "runs")


def open_run(driver: Any, base: str, run_id: str, *, timeout: float = 30) -> None:
    """Navigate to the run's page and wait until its event stream is open. A run id the
    intake just answered with may not be in the store yet: the page is asked for again until
    it is."""
    def shown() -> bool:
        driver.get(f"{base}/ui/runs/{quote(run_id)}")
        return bool(driver.execute_script("return document.body.dataset.page") == "run")

    wait_for(f"run {run_id}'s page", shown, timeout=timeout)
    wait_for(f"run {run_id}'s event stream",
             lambda: driver.execute_script("return document.body.dataset.live") in
             ("open", "ended"), timeout=timeout)


def step_status(driver: Any, step_id: str) -> str | None:
    """The status the plan graph shows for the step (None before the stream said any)."""
    return driver.execute_script(  # type: ignore[no-any-return]
        "var n = document.getElementById('step-' + arguments[0]);"
        "return n ? n.getAttribute('data-status') : null;", step_id)


def wait_step_status(driver: Any, step_id: str, status: str, *, timeout: float = 30) -> None:
    wait_for(f"step {step_id} to show {status}",
             lambda: step_status(driver, step_id) == status, timeout=timeout)


def run_status(driver: Any) -> str | None:
    return driver.execute_script(  # type: ignore[no-any-return]
        "var s = document.getElementById('run-status');"
        "return s ? s.getAttribute('data-status') : null;")


def wait_run_status(driver: Any, status: str, *, timeout: float = 60) -> None:
    wait_for(f"the run to show {status}", lambda: run_status(driver) == status,
             timeout=timeout)


def approve_step(driver: Any, run_id: str, step_id: str, *, yes: bool = True) -> None:
    """Press Approve (or Deny) for the step's question on the run's page (which must be open:
    this does not navigate), and wait until the page no longer offers it."""
    from selenium.webdriver.common.by import By

    page_run = driver.execute_script("return document.body.dataset.run")
    assert page_run == run_id, f"the page open is run {page_run}, not {run_id}"
    kind = "approve" if yes else "deny"
    selector = f'div.question[data-step="{step_id}"] button.{kind}'

    def click() -> bool:  # found and clicked in one go: the live page may swap the button
        driver.find_element(By.CSS_SELECTOR, selector).click()
        return True

    wait_for(f"a click on the {kind} button of step {step_id}", click)
    wait_for(f"the question of step {step_id} to be answered",
             lambda: not driver.find_elements(By.CSS_SELECTOR, selector))


def console_errors(driver: Any) -> list[str]:
    """The page's console errors since the last call: a script error, or anything the
    Content-Security-Policy blocked."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry.get("level") == "SEVERE"]


def screenshot(driver: Any, name: str) -> Path:
    """Save a PNG of the page under the artifacts folder (MENDFLOW_TEST_ARTIFACTS, default
    .artifacts/ in the repository) and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
