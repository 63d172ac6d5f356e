"""Sources: a path below a folder root cannot leave it (symlinks included) and nothing outside the
root is looked up; filesystem-URI roots (pyarrow's local filesystem, fsspec's memory filesystem)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from promptcrop.errors import RequestError
from promptcrop.serve.url.sources import (
    LocalSource,
    SourceFailure,
    SourceMissing,
    SourceTooLarge,
    StoreSource,
    parse_source,
    resolve_inside,
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"SECRET")
    (root / "sub" / "a.jpg").write_bytes(b"inside")
    (root / "in_link.jpg").symlink_to("sub/a.jpg")
    (root / "sub" / "up_link.jpg").symlink_to("../sub/a.jpg")
    (root / "abs_out.jpg").symlink_to(outside / "secret.jpg")
    (root / "rel_out.jpg").symlink_to("../outside/secret.jpg")
    (root / "dir_out").symlink_to(outside)
    (root / "loop").symlink_to("loop")
    return tmp_path


def test_files_and_symlinks_inside_the_root_resolve(tree):
    source = LocalSource("s", tree / "root")
    for parts in (("sub", "a.jpg"), ("in_link.jpg",), ("sub", "up_link.jpg")):
        assert source.read(parts, 100) == b"inside"
        assert source.stat(parts).size == len(b"inside")


@pytest.mark.parametrize("parts", [
    ("abs_out.jpg",), ("rel_out.jpg",), ("dir_out", "secret.jpg"), ("loop",), ("..", "outside", "secret.jpg"),
    ("sub", "..", "..", "outside", "secret.jpg"), ("sub",), ("missing.jpg",), ("sub", "a.jpg", "x"),
])
def test_paths_leaving_the_root_or_naming_no_file_are_missing(tree, parts):
    source = LocalSource("s", tree / "root")
    with pytest.raises(SourceMissing) as info:
        source.read(parts, 100)
    assert str(tree) not in str(info.value)


def test_resolving_never_looks_at_anything_outside_the_root(tree):
    outside = str(tree / "outside")
    seen: list[str] = []

    def hook(event: str, args: tuple) -> None:
        if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes)):
            seen.append(os.fsdecode(args[0]))

    sys.addaudithook(hook)  # cannot be removed: it only records
    root = str((tree / "root").resolve())
    for parts in (("abs_out.jpg",), ("rel_out.jpg",), ("dir_out", "secret.jpg")):
        with pytest.raises(SourceMissing):
            resolve_inside(root, parts)
    assert not [p for p in seen if p.startswith(outside)]


def test_size_limit_and_io_errors_say_nothing_of_the_server(tree, monkeypatch):
    source = LocalSource("s", tree / "root")
    with pytest.raises(SourceTooLarge):
        source.read(("sub", "a.jpg"), 3)

    def broken(*_args, **_kwargs):
        raise OSError(5, "Input/output error", str(tree / "root" / "sub" / "a.jpg"))

    monkeypatch.setattr("builtins.open", broken)
    with pytest.raises(SourceFailure) as info:
        source.read(("sub", "a.jpg"), 100)
    assert str(tree) not in str(info.value)


def test_a_file_uri_goes_through_pyarrow_and_keeps_the_symlink_rule(tree):
    source = parse_source(f"photos=file://{tree / 'root'}", 0)
    assert isinstance(source, StoreSource) and source.name == "photos"
    assert source.read(("sub", "a.jpg"), 100) == b"inside"
    assert source.stat(("in_link.jpg",)).size == len(b"inside")
    for parts in (("abs_out.jpg",), ("dir_out", "secret.jpg"), ("sub",), ("nope.jpg",)):
        with pytest.raises(SourceMissing):
            source.read(parts, 100) if parts != ("sub",) else source.stat(parts)


def test_an_fsspec_scheme_pyarrow_does_not_know_is_opened_through_fsspec():
    import fsspec

    memory = fsspec.filesystem("memory")
    memory.pipe("/bucket/photos/p.jpg", b"bytes in memory")
    source = parse_source("memory://bucket/photos", 0)
    assert source.name == "default"
    assert source.stat(("p.jpg",)).size == len(b"bytes in memory")
    assert source.read(("p.jpg",), 100) == b"bytes in memory"
    with pytest.raises(SourceMissing):
        source.stat(("q.jpg",))


def test_source_specs(tree):
    assert parse_source(str(tree / "root"), 1).name == "source2"
    with pytest.raises(RequestError, match="not a folder"):
        parse_source(f"x={tree / 'nope'}", 0)
    with pytest.raises(RequestError, match="source name"):
        parse_source(f"a b={tree / 'root'}", 0)
