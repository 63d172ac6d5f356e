"""Crops by URL: signed, cacheable ``GET`` requests over the operator's own image sources.

Modules: :mod:`.grammar` (the option table and its parser), :mod:`.signing` (HMAC-SHA256 URL
signatures, :func:`sign_url`), :mod:`.sources` (folder and filesystem-URI roots a path cannot
leave), :mod:`.cache` (the bounded on-disk result cache), :mod:`.settings` (:class:`UrlSettings`),
:mod:`.service` (ETag, cache and rendering, no HTTP), :mod:`.routes` (the HTTP routes),
:mod:`.commands` (``promptcrop sign-url``). The grammar and signing import neither FastAPI nor
the model, so templates can sign URLs cheaply. See docs/URLS.md.
"""

from __future__ import annotations

from promptcrop.serve.url.signing import sign_url

__all__ = ["sign_url"]
