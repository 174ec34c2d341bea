"""The demo page in a real headless browser (Debian's chromium + chromedriver through Selenium)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pairsim.serve.app import create_app

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (dev extra)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="chromium / chromedriver not installed (apt-get install chromium chromium-driver)"
)


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="pairsim-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_text(driver: Any, element_id: str, *, not_in: tuple[str, ...] = ("", "scoring...", "identifying...")) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 60).until(lambda d: d.find_element("id", element_id).text not in not_in)
    return driver.find_element("id", element_id).text


def open_page(driver: Any, url: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "/")
    WebDriverWait(driver, 60).until(lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "1")


def test_page_scores_two_texts_and_identifies(
    text_model, live_server, browser, token: str, write: dict[str, str], tmp_path: Path
) -> None:
    import httpx

    url = live_server(create_app(text_model, gallery=tmp_path / "g.safetensors", token=token))
    assert (
        httpx.post(f"{url}/enroll", json={"identity": "ann", "items": ["how old are you"]}, headers=write).status_code
        == 200
    )
    open_page(browser, url)
    assert "side A takes text" in browser.find_element("id", "model-info").text
    a, b = "How old are you?", "what is your age"
    browser.find_element("id", "text-a").send_keys(a)
    browser.find_element("id", "text-b").send_keys(b)
    browser.find_element("id", "score-btn").click()
    shown = wait_text(browser, "result")
    expected = httpx.post(f"{url}/score", json={"a": a, "b": b}).json()
    verdict = "same" if expected["same"][0] else "different"
    assert shown == f"score {expected['scores'][0]:.4f}: {verdict} (threshold 0.5000)"
    assert browser.find_element("id", "gallery").is_displayed()
    browser.find_element("id", "text-probe").send_keys("how old are you")
    browser.find_element("id", "identify-btn").click()
    assert wait_text(browser, "identity").startswith("ann (score 1.0000")


def test_page_scores_two_dropped_images_and_shows_errors(image_model, live_server, browser, faces) -> None:
    import httpx

    url = live_server(create_app(image_model))
    open_page(browser, url)
    assert not browser.find_element("id", "text-a").is_displayed()  # an image model: drop zones, no text boxes
    assert not browser.find_element("id", "gallery").is_displayed()  # no gallery: no identify section
    browser.find_element("id", "score-btn").click()
    assert wait_text(browser, "result") == "error: drop an image for side A"
    browser.find_element("id", "file-a").send_keys(faces[0])
    browser.find_element("id", "file-b").send_keys(faces[2])
    browser.find_element("id", "score-btn").click()
    shown = wait_text(browser, "result", not_in=("", "scoring...", "error: drop an image for side A"))
    with open(faces[0], "rb") as fa, open(faces[2], "rb") as fb:
        expected = httpx.post(f"{url}/score", files={"a": fa, "b": fb}).json()
    verdict = "same" if expected["same"][0] else "different"
    assert shown == f"score {expected['scores'][0]:.4f}: {verdict} (threshold 1.0000)"
