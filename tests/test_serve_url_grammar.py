"""The crop-URL grammar: every option of the table, round trips through sign_url's paths, and the
400s (unknown, repeated, malformed options; paths that could leave a root)."""

from __future__ import annotations

import pytest

from promptcrop.serve.url.grammar import (
    OPTIONS,
    UrlOptions,
    UrlSyntaxError,
    options_from,
    parse_url_path,
    split_path,
    with_width,
)


def _parse(path: str):
    return parse_url_path(path.lstrip("/").split("/"))


def test_the_issue_example_parses_into_options_and_a_request():
    parsed = _parse("ar:4:5/w:1080/q:the%20red%20car/k:1/fmt:webp/products/123.jpg")
    assert parsed.path == ("products", "123.jpg")
    assert parsed.options == UrlOptions(aspect="4:5", width=1080, query="the red car", rank=1, format="webp")
    request = parsed.options.crop_request()
    assert request.output_size == (1080, 1350) and request.k == 1


@pytest.mark.parametrize("given", [
    {"aspect": "16:9", "width": 640},
    {"width": 300, "height": 200, "fit": "pad", "pad": "ff8000"},
    {"aspect": "original", "height": 120, "quality": 70, "format": "jpeg"},
    {"query": "a: colon, a slash/ and 100% text", "exclude": "the watermark", "rank": 3},
    {"source": "store-2", "mode": "offline", "aspect": "1.5"},
    {"format": "auto"},
])
def test_options_round_trip_through_their_url_path(given):
    options = options_from(**given)
    parsed = _parse(options.path("folder/a photo #1.jpg"))
    assert parsed.options == options
    assert parsed.path == ("folder", "a photo #1.jpg")


def test_every_table_row_is_parsed_by_the_grammar():
    # one value per row; a row the parser forgot would be an 'unknown option' here
    values = {"source": "s", "aspect": "1:1", "width": 10, "height": None, "query": "q", "exclude": "x",
              "fit": "crop", "rank": 2, "format": "png", "quality": 50, "mode": "auto"}
    options = options_from(**values)
    keys = [segment.split(":")[0] for segment in options.path("a.jpg").strip("/").split("/")[:-1]]
    assert keys == [o.key for o in OPTIONS if values.get(o.field) is not None]


def test_a_path_whose_first_folder_looks_like_an_option_is_written_after_a_dash():
    options = options_from(width=10)
    path = options.path("ar:1/x.jpg")
    assert path == "/w:10/-/ar%3A1/x.jpg"
    assert _parse(path).path == ("ar:1", "x.jpg")


@pytest.mark.parametrize(("path", "named"), [
    ("zz:1/a.jpg", "'zz'"),
    ("ar:4:5/ar:1:1/a.jpg", "'ar' given twice"),
    ("w:0/a.jpg", "w:"),
    ("w:abc/a.jpg", "w:"),
    ("k:21/a.jpg", "k:"),
    ("qual:101/a.jpg", "qual:"),
    ("fmt:gif/a.jpg", "fmt:"),
    ("fit:stretch/a.jpg", "fit:"),
    ("fit:pad:red/a.jpg", "fit:"),
    ("fit:crop:ffffff/a.jpg", "fit:"),
    ("ar:0:5/a.jpg", "ar:"),
    ("ar:4:5/w:10/h:10/a.jpg", "ar:"),
    ("mode:fast/a.jpg", "mode:"),
    ("src:../x/a.jpg", "src:"),
    ("q:/a.jpg", "q:"),
    ("mode:offline/q:a%20cat/a.jpg", "mode:offline"),
])
def test_bad_options_are_errors_naming_the_option(path, named):
    with pytest.raises(UrlSyntaxError, match=named.replace("'", "'").replace("(", r"\(")):
        _parse(path)


@pytest.mark.parametrize("segments", [
    [], [""], ["a", "", "b"], [".."], ["a", ".."], ["%2e%2e", "x"], ["%2E%2e"], [".%2e"], ["%2e"],
    ["a%2fb"], ["a%2Fb"], ["a%5cb"], ["%252e%252e"], ["%252f"], ["a%00.jpg"], ["%0a"], ["%c0%ae%c0%ae"],
    ["~", "x"], ["~root"], ["C:", "x"],
])
def test_paths_that_could_leave_a_root_are_refused(segments):
    with pytest.raises(UrlSyntaxError):
        split_path(segments)


def test_ordinary_odd_names_are_kept():
    assert split_path(["a%20b", "..c", "c..", "%E2%80%A4.jpg", "x%25y"]) == ("a b", "..c", "c..", "\u2024.jpg", "x%y")


def test_with_width_keeps_the_ratio_of_an_exact_size():
    options = options_from(width=300, height=200)
    wide = with_width(options, 600)
    assert wide.crop_request().output_size == (600, 400)
    assert with_width(options_from(aspect="1:1"), 50).crop_request().output_size == (50, 50)


def test_the_documented_table_has_every_option():
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[1] / "docs" / "URLS.md").read_text()
    table = [line for line in docs.splitlines() if line.startswith("| `")]
    for option in OPTIONS:
        assert any(line.startswith(f"| `{option.key}:") for line in table), option.key
