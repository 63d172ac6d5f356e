"""The on-disk result cache: round trip, least recently used out first, the size bound held by
several writer processes at once, damaged entries dropped."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from pathlib import Path

from promptcrop.serve.url.cache import LOW_WATER, CacheEntry, ResultCache

ENTRY_BYTES = 10_000


def _key(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def _entry(i: int) -> CacheEntry:
    return CacheEntry(bytes([i % 256]) * ENTRY_BYTES, {"media_type": "image/png", "i": i})


def _files(folder: Path) -> list[Path]:
    return list(folder.rglob("*.entry"))


def test_round_trip_and_miss(tmp_path):
    cache = ResultCache(tmp_path, 1_000_000)
    assert cache.get(_key(1)) is None
    assert cache.put(_key(1), _entry(1))
    assert cache.get(_key(1)) == _entry(1)
    assert not list(tmp_path.rglob(".tmp-*"))


def test_least_recently_used_entries_leave_first(tmp_path):
    cache = ResultCache(tmp_path, 5 * ENTRY_BYTES + 500)
    for i in range(5):
        cache.put(_key(i), _entry(i))
        os.utime(cache._path(_key(i)), (1000 + i, 1000 + i))  # distinct ages, oldest first
    assert cache.get(_key(0)) is not None  # now the most recently used
    cache.put(_key(5), _entry(5))
    assert cache.size() <= cache.max_bytes
    assert cache.get(_key(1)) is None  # the oldest unused went first
    assert cache.get(_key(0)) is not None and cache.get(_key(5)) is not None


def test_an_entry_larger_than_the_cache_is_not_stored(tmp_path):
    cache = ResultCache(tmp_path, ENTRY_BYTES // 2)
    assert not cache.put(_key(1), _entry(1))
    assert _files(tmp_path) == []


def test_a_damaged_entry_is_a_miss_and_is_removed(tmp_path):
    cache = ResultCache(tmp_path, 1_000_000)
    cache.put(_key(1), _entry(1))
    path = Path(cache._path(_key(1)))
    path.write_bytes(b"\xff\xff\xff\xff{not json")
    assert cache.get(_key(1)) is None and not path.exists()


def _writer(folder: str, start: int, count: int, limit: int) -> None:
    cache = ResultCache(folder, limit)
    for i in range(start, start + count):
        cache.put(_key(i), _entry(i))
        cache.get(_key(start))


def test_several_processes_writing_at_once_keep_the_bound(tmp_path):
    limit = 20 * ENTRY_BYTES
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(str(tmp_path), 1000 * w, 40, limit)) for w in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    cache = ResultCache(tmp_path, limit)
    files = _files(tmp_path)
    assert sum(f.stat().st_size for f in files) <= limit
    assert len(files) >= int(limit * LOW_WATER) // (ENTRY_BYTES + 100) - 1  # eviction stops at the low-water mark
    for f in files:  # every entry on disk is whole
        entry = cache.get(f.stem)
        assert entry is not None and entry.body == bytes([entry.meta["i"] % 256]) * ENTRY_BYTES
    assert int((tmp_path / ".size").read_text()) == sum(f.stat().st_size for f in files)
