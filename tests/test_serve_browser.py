"""The page in a real browser: headless Chromium from the operating system's packages (Debian
``chromium`` + ``chromium-driver``) driven by Selenium — no browser download at test time.

Without Chromium these tests skip with one reason line; with ``CI=true`` a missing browser fails.
Set ``PROMPTCROP_SCREENSHOT`` to a path to keep a copy of the page's screenshot there (the
README's picture is made this way).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from optional import missing
from promptcrop.serve.app import create_app
from promptcrop.serve.service import build_predictor
from serve_helpers import astronaut_jpeg, free_port, serve_settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# Never phone home: no background networking, updates, sync or first-run pages.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
    "--window-size=1200,1500",
)


def _missing_browser() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} not found: install Chromium (apt-get install -y chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    absent = _missing_browser()
    if absent:
        missing(f"browser tests: {absent}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _serve(**settings_kwargs):
    import uvicorn

    settings = serve_settings(offline=True, port=free_port(), **settings_kwargs)
    app = create_app(settings, build_predictor(settings))
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{settings.port}"
    uv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def server():
    yield from _serve()


@pytest.fixture(scope="module")
def keyed_server():
    yield from _serve(api_key="page-key")


def _wait(driver, condition, timeout: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _upload_and_run(driver, url: str, photo: Path, ratios: tuple[str, ...], k: int) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url + "/")
    _wait(driver, lambda d: d.find_element(By.ID, "notice").text)  # /v1/info answered
    for box in driver.find_elements(By.CSS_SELECTOR, "input[name=ratio]"):
        if box.is_selected() != (box.get_attribute("value") in ratios):
            box.click()
    driver.find_element(By.ID, "image").send_keys(str(photo))
    k_field = driver.find_element(By.ID, "k")
    k_field.clear()
    k_field.send_keys(str(k))
    driver.execute_script("document.body.dataset.state = ''")
    driver.find_element(By.ID, "run").click()


def test_page_draws_the_apis_boxes_and_downloads_a_crop(browser, server, tmp_path):
    from selenium.webdriver.common.by import By

    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg())
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})

    _upload_and_run(browser, server, photo, ("1:1", "16:9"), k=2)
    _wait(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "done")
    drawn = [
        (g.get_attribute("data-ratio"), int(g.get_attribute("data-rank")),
         [int(v) for v in g.get_attribute("data-box").split(",")])
        for g in browser.find_elements(By.CSS_SELECTOR, "#overlay g.crop")
    ]
    api = httpx.post(server + "/v1/crops", files={"image": ("astronaut.jpg", photo.read_bytes(), "image/jpeg")},
                     data={"aspect": ["1:1", "16:9"], "k": "2"}).json()
    assert drawn == [(c["ratio"], c["rank"], c["box"]) for c in api["crops"]]
    assert "mode: offline" in browser.find_element(By.ID, "status").text
    assert browser.find_element(By.ID, "error").text == ""
    assert not browser.find_element(By.ID, "key-form").is_displayed()  # no key on this server
    shot = tmp_path / "page.png"
    assert browser.save_screenshot(str(shot))
    if os.environ.get("PROMPTCROP_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["PROMPTCROP_SCREENSHOT"])

    links = browser.find_elements(By.CSS_SELECTOR, "#crops a.download")
    assert len(links) == len(api["crops"])
    links[0].click()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not [p for p in downloads.iterdir() if p.suffix == ".png"]:
        time.sleep(0.1)
    files = [p for p in downloads.iterdir() if p.suffix == ".png"]
    assert len(files) == 1, list(downloads.iterdir())
    with Image.open(files[0]) as crop:
        assert crop.size == tuple(api["crops"][0]["size"])


def test_a_non_image_upload_shows_the_error_line(browser, server, tmp_path):
    from selenium.webdriver.common.by import By

    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo\n")
    _upload_and_run(browser, server, notes, ("1:1",), k=1)
    error = _wait(browser, lambda d: d.find_element(By.ID, "error").text)
    assert error == "not an image (unrecognised format)"
    assert browser.find_element(By.ID, "result").get_attribute("hidden") is not None


def test_with_an_api_key_the_page_asks_for_it_once_per_tab(browser, keyed_server, tmp_path):
    from selenium.webdriver.common.by import By

    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg())
    browser.get(keyed_server + "/")
    key_field = _wait(browser, lambda d: d.find_element(By.ID, "api-key") if d.find_element(
        By.ID, "key-form").is_displayed() else None)
    key_field.send_keys("page-key")
    browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
    _wait(browser, lambda d: not d.find_element(By.ID, "key-form").is_displayed())
    browser.refresh()  # the same tab remembers the key
    _upload_and_run(browser, keyed_server, photo, ("1:1",), k=1)
    _wait(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "done")
    assert not browser.find_element(By.ID, "key-form").is_displayed()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#overlay g.crop")) == 1


def test_the_api_docs_render_offline_from_the_servers_own_files(browser, server):
    """Swagger UI lists every route with no network beyond the server (its assets are packaged)."""
    from selenium.webdriver.common.by import By

    browser.get(server + "/docs")
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")) >= 4)
    paths = {e.text.strip() for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/v1/crops", "/v1/crop", "/v1/info", "/healthz"} <= paths
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(r => r.name)")
    assert loaded and all(url.startswith(server) for url in loaded), loaded
