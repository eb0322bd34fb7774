"""The duty dashboard (/ui) in a real headless Chromium (Debian's chromium and
chromium-driver, installed by the test set-up): sign in with a token, trigger a workflow,
watch the execution go from RUNNING to SUCCEEDED with its steps, jobs and log, then the
forecast's map and coastal-segment levels. A screenshot is saved as a test artifact
(``build/test-artifacts/dashboard.png``, or ``$TOSCA_TEST_ARTIFACTS``)."""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api_server import TEMPLATE, running_api

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = Path(os.environ.get("TOSCA_TEST_ARTIFACTS") or ROOT / "build" / "test-artifacts")

# The API test template, with a `products` output the run step fills in.
WITH_PRODUCTS = TEMPLATE.replace(
    "    derived_from: tosca.nodes.Root\n    interfaces:",
    "    derived_from: tosca.nodes.Root\n    attributes:\n      products_dir: {type: string}\n"
    "    interfaces:",
).replace(
    "topology_template:\n",
    "topology_template:\n  outputs:\n    products:\n"
    "      value: {get_attribute: [job, products_dir]}\n",
    1,
)
# A 2 x 2 PNG (red, green, blue, white).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwPCfgYGBgYGBAQAk/wP9"
    "mW1TDQAAAABJRU5ErkJggg=="
)


def products(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "max_height.png").write_bytes(PNG)
    levels = {"information": 3, "advisory": 1}
    summary = {"highest_level": "advisory", "segments_by_level": levels}
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "coastal_segments.csv").write_text(
        "segment,level,max_height_p84_m\nS01,information,0.08\nS02,advisory,0.31\n"
    )
    (folder / "run.sh").write_text("#!/bin/sh\n")  # never served
    return folder


@pytest.fixture
def browser() -> Iterator[object]:
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail("chromium / chromedriver missing: run scripts/system-deps.sh (make test)")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1600"):  # fmt: skip
        options.add_argument(arg)
    service = webdriver.ChromeService(executable_path=driver_path)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def test_trigger_and_watch_an_execution_to_success(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    folder = products(tmp_path / "products")
    with running_api(tmp_path, template=WITH_PRODUCTS,
                     run_outputs={"products_dir": str(folder)}) as api:  # fmt: skip
        wait = WebDriverWait(browser, 30)
        browser.get(api.url + "/ui")
        browser.find_element(By.ID, "token").send_keys(api.tokens["alice"])
        browser.find_element(By.CSS_SELECTOR, "#login button").click()
        trigger = wait.until(ec.element_to_be_clickable(
            (By.CSS_SELECTOR, "button.trigger[data-workflow='quake@d@exec_job']")))  # fmt: skip
        browser.find_element(By.CSS_SELECTOR, "#workflows input[name='magnitude']").send_keys("7.1")
        trigger.click()
        status = (By.ID, "detail-status")
        wait.until(ec.text_to_be_present_in_element(status, "RUNNING"))
        wait.until(ec.text_to_be_present_in_element((By.ID, "steps"), "101"))  # the job id
        (execution,) = [e for e in api.service.list_executions() if e.workflow == "exec_job"]
        assert browser.find_element(By.ID, "detail-id").text == execution.id
        # Typed by the workflow's input definition (the page sends the text "7.1").
        assert api.service.execution(execution.id)["inputs"]["magnitude"] == 7.1
        api.release.set()  # the job completes
        wait.until(ec.text_to_be_present_in_element(status, "SUCCEEDED"))
        wait.until(ec.text_to_be_present_in_element((By.ID, "levels"), "highest level ADVISORY"))
        image_shown = (
            "const i = document.getElementById('max-height'); return i.complete && i.naturalWidth"
        )
        wait.until(lambda d: d.execute_script(image_shown))
        rows = browser.find_elements(By.CSS_SELECTOR, "#segments tbody tr")
        assert [r.get_attribute("class") for r in rows] == ["information", "advisory"]
        assert "exec_job" in browser.find_element(By.ID, "executions").text
        wait.until(ec.text_to_be_present_in_element((By.ID, "log"), "job"))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
        assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000

        # The products API: the shown files only, never another user's.
        with api.client("alice") as alice:
            listed = alice.get(f"/executions/{execution.id}/products").json()["products"]
            assert {p["name"] for p in listed} == {"max_height.png", "summary.json",
                                                   "coastal_segments.csv"}  # fmt: skip
            assert alice.get(f"/executions/{execution.id}/products/run.sh").status_code == 404
            got = alice.get(f"/executions/{execution.id}/products/max_height.png")
            assert got.content == PNG and got.headers["content-type"] == "image/png"
            assert alice.get(f"/executions/{execution.id}/products/..%2Fsecrets").status_code == 404
        with api.client("bob") as bob:
            assert bob.get(f"/executions/{execution.id}/products").status_code == 404


def test_the_page_needs_no_token_but_the_data_does(tmp_path: Path) -> None:
    with running_api(tmp_path) as api:
        page = httpx.get(api.url + "/ui", timeout=10)
        assert page.status_code == 200 and "tosca duty dashboard" in page.text
        assert (
            httpx.get(api.url + "/ui/app.js", timeout=10)
            .headers["content-type"]
            .startswith("text/javascript")
        )
        assert httpx.get(api.url + "/ui/../app.py", timeout=10).status_code == 404
        assert httpx.get(api.url + "/executions", timeout=10).status_code == 401
