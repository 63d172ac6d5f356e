"""Command-line parts of crop URLs: ``serve``'s URL options and ``promptcrop sign-url``.

``sign-url``'s crop options come from the grammar table (:data:`~.grammar.OPTIONS`), one flag per
row, so the command and the URL grammar cannot drift apart.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from promptcrop.serve.url.grammar import OPTIONS
from promptcrop.serve.url.settings import (
    DEFAULT_CACHE_MB,
    DEFAULT_FALLBACK_MAX_AGE_S,
    DEFAULT_MAX_AGE_S,
    URL_KEY_ENV,
    URL_SALT_ENV,
    UrlSettings,
    env_list,
)


def add_url_options(p: argparse.ArgumentParser) -> None:
    """``serve``'s options for crops by URL (all off until a ``--source`` is given)."""
    group = p.add_argument_group("crops by URL (GET /v1/img/..., see docs/URLS.md)")
    group.add_argument("--source", action="append", default=[], metavar="[NAME=]ROOT",
                       help="serve crops of the images under ROOT (a folder or a filesystem URI such as "
                            "s3://bucket/prefix), repeatable; the first is the default source")
    group.add_argument("--url-key", action="append", default=[], metavar="HEX",
                       help=f"URL signing key (hex, >= 16 bytes), repeatable for rotation; the first signs "
                            f"(default ${URL_KEY_ENV}, comma-separated)")
    group.add_argument("--url-salt", action="append", default=[], metavar="HEX",
                       help=f"URL signing salt (hex), one per --url-key (default ${URL_SALT_ENV})")
    group.add_argument("--allow-unsigned", action="store_true",
                       help="also answer unsigned /v1/img/unsafe/... URLs (development only)")
    group.add_argument("--cache-dir", metavar="DIR", help="on-disk result cache shared by the workers (default: none)")
    group.add_argument("--cache-mb", type=float, default=DEFAULT_CACHE_MB, metavar="MB",
                       help=f"largest size of the result cache (default {DEFAULT_CACHE_MB:g})")
    group.add_argument("--max-age", type=int, default=DEFAULT_MAX_AGE_S, metavar="S",
                       help=f"Cache-Control max-age of a crop (default {DEFAULT_MAX_AGE_S})")
    group.add_argument("--fallback-max-age", type=int, default=DEFAULT_FALLBACK_MAX_AGE_S, metavar="S",
                       help=f"max-age of a crop that fell back, e.g. the query was not found "
                            f"(default {DEFAULT_FALLBACK_MAX_AGE_S})")


def url_settings_from_args(args: argparse.Namespace) -> UrlSettings | None:
    """The URL settings of a parsed ``serve`` command line (``None`` without ``--source``)."""
    if not args.source:
        if args.url_key or args.url_salt or args.allow_unsigned or args.cache_dir:
            raise ValueError("--url-key, --url-salt, --allow-unsigned and --cache-dir need a --source")
        return None
    return UrlSettings.from_options(
        args.source, args.url_key, args.url_salt, allow_unsigned=args.allow_unsigned,
        cache_dir=args.cache_dir, cache_mb=args.cache_mb, max_age_s=args.max_age,
        fallback_max_age_s=args.fallback_max_age,
    )


def add_sign_url_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``sign-url`` to the sub-command parsers ``sub``."""
    p = sub.add_parser(
        "sign-url", help="print a signed crop URL for promptcrop serve --source",
        description="Print the URL of a crop of PATH (inside a source of promptcrop serve), signed with "
                    f"the key and salt (hex; default ${URL_KEY_ENV} / ${URL_SALT_ENV}, the first pair).",
    )
    p.add_argument("path", help="the image's path inside the source, e.g. products/123.jpg")
    for option in OPTIONS:
        kwargs: dict[str, Any] = {"type": int} if option.field in ("width", "height", "rank", "quality") else {}
        p.add_argument(option.flag, dest=option.field, metavar=option.field.upper(),
                       help=f"{option.syntax}: {option.help}", **kwargs)
    p.add_argument("--pad", metavar="RRGGBB", help="pad colour with --fit pad")
    p.add_argument("--key", metavar="HEX", help="signing key (hex)")
    p.add_argument("--salt", metavar="HEX", help="signing salt (hex)")
    p.add_argument("--unsigned", action="store_true", help="an unsigned /unsafe/ URL (servers with --allow-unsigned)")
    p.add_argument("--base", default="", metavar="URL", help="the server's origin, e.g. https://img.example.com")
    p.add_argument("--info", action="store_true", help="the /v1/info/ URL (the JSON record) instead of the image")
    p.set_defaults(handler=run_sign_url, parser=p)
    return p


def run_sign_url(args: argparse.Namespace) -> int:
    """Print one URL; a bad option or key is a one-line usage error."""
    from promptcrop.errors import RequestError
    from promptcrop.serve.url.signing import sign_url

    key, salt = args.key, args.salt
    if not args.unsigned and key is None and salt is None:
        keys, salts = env_list(URL_KEY_ENV), env_list(URL_SALT_ENV)
        key, salt = (keys[0] if keys else None), (salts[0] if salts else None)
    options = {option.field: getattr(args, option.field) for option in OPTIONS}
    try:
        if args.unsigned:
            key = None
        elif key is None or salt is None:
            raise RequestError(f"give --key and --salt (or set ${URL_KEY_ENV} and ${URL_SALT_ENV}), or --unsigned")
        url = sign_url(args.path, key=key, salt=salt, base=args.base, info=args.info, pad=args.pad, **options)
    except RequestError as exc:
        from promptcrop.cli import UsageError

        raise UsageError(str(exc)) from None
    sys.stdout.write(url + "\n")
    return 0
