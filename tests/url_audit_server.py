"""``promptcrop serve`` for the crop-URL tests, run as a script: ``python url_audit_server.py serve ...``.

Before the command runs it installs an audit hook that appends to ``$PROMPTCROP_AUDIT_LOG`` every
file the process opens or lists under ``$PROMPTCROP_AUDIT_DIR`` (the folder that must never be
touched), and registers ``flaky://``, an fsspec local filesystem whose reads fail with an error
naming a server path (a source that answers ``stat`` but cannot be read).
"""

from __future__ import annotations

import os
import sys


def _install_audit() -> None:
    forbidden = os.environ["PROMPTCROP_AUDIT_DIR"]
    log = open(os.environ["PROMPTCROP_AUDIT_LOG"], "a", buffering=1)  # noqa: SIM115 - lives with the process

    def hook(event: str, args: tuple) -> None:
        if event in ("open", "os.listdir", "os.scandir", "os.chdir") and args:
            path = args[0]
            if isinstance(path, (str, bytes)) and os.fsdecode(path).startswith(forbidden):
                log.write(f"{event} {os.fsdecode(path)}\n")

    sys.addaudithook(hook)


def _register_flaky() -> None:
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    class FlakyFileSystem(LocalFileSystem):
        protocol = "flaky"

        def _open(self, path, mode="rb", **kwargs):  # noqa: ANN001, ANN202
            raise OSError(5, "Input/output error", "/srv/very/secret/disk/" + str(path))

    fsspec.register_implementation("flaky", FlakyFileSystem, clobber=True)


if __name__ == "__main__":
    _install_audit()
    _register_flaky()
    from promptcrop.cli import main

    sys.exit(main(sys.argv[1:]))
