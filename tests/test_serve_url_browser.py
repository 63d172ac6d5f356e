"""Crop URLs in a real browser (headless Chromium from the system's packages, background networking
off — see tests/test_serve_browser.py, whose browser fixture this module shares): a page whose
``<img>`` tags point at signed URLs shows decoded images of the sizes the URLs ask for, and the
service page's URL panel signs a URL server-side for a caller with the API key."""

from __future__ import annotations

import functools
import html
import http.server
import threading

import pytest

from promptcrop.serve.url.settings import UrlSettings
from promptcrop.serve.url.signing import key_pairs, sign_url
from serve_helpers import astronaut_jpeg
from test_serve_browser import _serve, _wait, browser  # noqa: F401 - the shared Chromium fixture

KEY, SALT = "3c" * 32, "b0b0"


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    (folder / "shop").mkdir()
    (folder / "shop" / "astronaut.jpg").write_bytes(astronaut_jpeg())
    return folder


def _url_settings(photos, tmp_path_factory) -> UrlSettings:
    return UrlSettings(sources=(str(photos),), keys=key_pairs([KEY], [SALT]),
                       cache_dir=str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def server(photos, tmp_path_factory):
    yield from _serve(url=_url_settings(photos, tmp_path_factory))


@pytest.fixture(scope="module")
def keyed_server(photos, tmp_path_factory):
    yield from _serve(url=_url_settings(photos, tmp_path_factory), api_key="page-key")


SIZES = [
    ({"aspect": "4:5", "width": 120}, (120, 150)),
    ({"aspect": "16:9", "width": 160}, (160, 90)),
    ({"width": 100, "height": 40, "fit": "pad", "pad": "ffffff"}, (100, 40)),
    ({"aspect": "1:1", "width": 64, "format": "webp"}, (64, 64)),
    ({"aspect": "9:16", "height": 128, "format": "png"}, (72, 128)),
]


@pytest.fixture(scope="module")
def page_host(tmp_path_factory):
    """Another origin on loopback serving a folder: the web page that embeds the crop URLs."""
    folder = tmp_path_factory.mktemp("site")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join(10)


def test_img_tags_with_signed_urls_decode_at_the_asked_sizes(browser, server, page_host):  # noqa: F811
    tags = "".join(
        f'<img id="i{n}" src="{html.escape(server + sign_url("shop/astronaut.jpg", key=KEY, salt=SALT, **options))}">'
        for n, (options, _size) in enumerate(SIZES)
    )
    unsigned = server + sign_url("shop/astronaut.jpg", key=None, width=50)
    folder, origin = page_host
    (folder / "shop.html").write_text(
        f"<!doctype html><html><body>{tags}<img id='bad' src='{html.escape(unsigned)}'></body></html>")
    browser.get(origin + "/shop.html")
    _wait(browser, lambda d: d.execute_script(
        "return [...document.images].every((img) => img.complete)"))
    decoded = browser.execute_script(
        "return [...document.images].map((img) => [img.id, img.naturalWidth, img.naturalHeight])")
    assert decoded[:-1] == [[f"i{n}", *size] for n, (_options, size) in enumerate(SIZES)]
    assert decoded[-1] == ["bad", 0, 0]  # the unsigned URL is refused: no image decoded


def test_the_url_panel_signs_for_the_api_key_holder(browser, keyed_server):  # noqa: F811
    from selenium.webdriver.common.by import By

    browser.get(keyed_server + "/")
    key_field = _wait(browser, lambda d: d.find_element(By.ID, "api-key") if d.find_element(
        By.ID, "key-form").is_displayed() else None)
    assert not browser.find_element(By.ID, "url-panel").is_displayed()  # nothing before the key
    key_field.send_keys("page-key")
    browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
    _wait(browser, lambda d: d.find_element(By.ID, "url-panel").is_displayed())
    assert "signed by the server" in browser.find_element(By.ID, "url-signing").text
    for box in browser.find_elements(By.CSS_SELECTOR, "input[name=ratio]"):
        if box.is_selected() != (box.get_attribute("value") == "16:9"):
            box.click()
    browser.find_element(By.ID, "url-path").send_keys("shop/astronaut.jpg")
    widths = browser.find_element(By.ID, "url-widths")
    widths.clear()
    widths.send_keys("200 400")
    browser.find_element(By.ID, "url-run").click()
    _wait(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-url-state") == "done")
    url = browser.find_element(By.ID, "url-text").get_attribute("value")
    expected = sign_url("shop/astronaut.jpg", key=KEY, salt=SALT, aspect="16:9", width=200, base=keyed_server)
    assert url == expected
    snippet = browser.find_element(By.ID, "url-snippet").get_attribute("value")
    assert snippet.count(" 200w") == 1 and snippet.count(" 400w") == 1 and "srcset=" in snippet
    size = browser.execute_script("const i = document.getElementById('url-preview'); return [i.naturalWidth, i.naturalHeight]")
    assert size == [200, 112]
    assert browser.find_element(By.ID, "url-error").text == ""
