"""``promptcrop serve`` on the command line: options → settings, usage errors, the install hint."""

from __future__ import annotations

import importlib.util

from promptcrop.cli import build_parser, main
from promptcrop.serve import INSTALL_HINT, require_serve_dependencies
from promptcrop.serve.commands import settings_from_args


def test_every_option_reaches_the_settings(monkeypatch):
    monkeypatch.delenv("PROMPTCROP_API_KEY", raising=False)
    args = build_parser().parse_args([
        "serve", "--host", "0.0.0.0", "--port", "9000", "--model", "m", "--decoder", "d", "--offline",
        "--threads", "3", "--max-queue", "0", "--max-upload-mb", "2.5", "--max-pixels", "1000",
        "--timeout-s", "7", "--api-key", "k", "--cors-origin", "https://a.example", "--cors-origin", "*",
    ])
    s = settings_from_args(args)
    p = s.predictor
    assert (s.host, s.port, p.model, p.decoder, p.offline, s.threads, s.max_queue) == ("0.0.0.0", 9000, "m", "d", True, 3, 0)
    assert (s.max_upload_mb, s.max_pixels, s.timeout_s, s.api_key) == (2.5, 1000, 7.0, "k")
    assert s.cors_origins == ("https://a.example", "*") and not s.loopback


def test_bad_values_are_usage_errors(capsys):
    assert main(["serve", "--threads", "0"]) == 2
    assert main(["serve", "--max-queue", "-1"]) == 2
    assert "max_queue must be an integer >= 0" in capsys.readouterr().err
    assert main(["serve", "--cors-origin", "example.com"]) == 2


def test_missing_serve_extra_is_one_line_naming_the_install_command(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    assert main(["serve"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"promptcrop: error: the service needs fastapi (not installed); install them with: {INSTALL_HINT}"
    monkeypatch.setattr(importlib.util, "find_spec", real)
    require_serve_dependencies()  # everything installed here


def test_a_decoder_that_cannot_load_stops_the_start_with_one_line(tiny_owlvit_dir, tmp_path, capsys):
    code = main(["serve", "--model", str(tiny_owlvit_dir), "--decoder", str(tmp_path / "no-decoder"),
                 "--port", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("promptcrop: error: ") and "no-decoder" in err[0]
