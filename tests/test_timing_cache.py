"""The timing cache (runtime/tuning/cache.py): its key, its file and what it does with a file
it cannot trust, and writers that save at the same time."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from dialects.errors import OptcError
from runtime.tuning.cache import ENV, FORMAT, DeviceKey, Failed, TimingCache, default_path

H100 = DeviceKey("NVIDIA H100 80GB HBM3", "9.0", "13.0", "13.0")
SIGNATURE = "ab" * 32
FAST = "#kernel.launch<grid = [132, 1, 1], block = [256, 1, 1], shared = 0, tile = {vector = 4}>"
SLOW = "#kernel.launch<grid = [66, 1, 1], block = [128, 1, 1], shared = 0, tile = {vector = 2}>"


def test_timings_and_failures_round_trip(tmp_path):
    path = tmp_path / "cache.json"
    cache = TimingCache(path)
    cache.record(H100, SIGNATURE, FAST, 0.0123)
    cache.record(H100, SIGNATURE, SLOW, Failed("compile: NVRTC could not compile 'k.cu'"))
    cache.save()
    again = TimingCache(path)
    assert again.warnings == []
    assert again.lookup(H100, SIGNATURE, FAST) == 0.0123
    assert again.lookup(H100, SIGNATURE, SLOW) == Failed("compile: NVRTC could not compile 'k.cu'")
    assert again.lookup(H100, SIGNATURE, "#kernel.launch<other>") is None
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT
    (device,) = data["devices"]
    assert device["device"] == {"gpu": H100.gpu, "compute_capability": "9.0", "driver": "13.0", "nvrtc": "13.0", "libraries": {}}
    assert device["kernels"][SIGNATURE][SLOW] == "failed: compile: NVRTC could not compile 'k.cu'"


@pytest.mark.parametrize(
    "other",
    [
        DeviceKey("NVIDIA A100-SXM4-80GB", "8.0", "13.0", "13.0"),
        DeviceKey(H100.gpu, "9.0", "12.8", "13.0"),  # another driver
        DeviceKey(H100.gpu, "9.0", "13.0", "12.9"),  # another NVRTC
        DeviceKey(H100.gpu, "9.0", "13.0", "13.0", (("cublasLt", "13.0.1"),)),
    ],
    ids=["gpu", "driver", "nvrtc", "library"],
)
def test_another_device_key_reuses_nothing(tmp_path, other):
    cache = TimingCache(tmp_path / "cache.json")
    cache.record(H100, SIGNATURE, FAST, 0.5)
    cache.save()
    again = TimingCache(tmp_path / "cache.json")
    assert again.lookup(other, SIGNATURE, FAST) is None and again.timings(other, SIGNATURE) == {}
    assert again.lookup(H100, SIGNATURE, FAST) == 0.5


def _valid_file() -> str:
    return json.dumps({"format": FORMAT, "devices": [{"device": H100.to_json(), "kernels": {SIGNATURE: {FAST: 0.5}}}]})


BROKEN = {
    "empty": ("", "is empty"),
    "truncated": (_valid_file()[:-25], "is corrupt or truncated (not JSON: "),
    "binary": ("\x00\xff\xfe garbage", "is corrupt or truncated (not JSON: "),
    "not an object": ("[1, 2, 3]", "is not an optc timing cache (no 'format' field)"),
    "other format": (json.dumps({"format": "optc-timing-cache-0", "devices": []}), "is in format 'optc-timing-cache-0', not"),
    "devices not a list": (json.dumps({"format": FORMAT, "devices": {}}), "other fields than 'format' and a 'devices' list"),
    "extra field": (json.dumps({"format": FORMAT, "devices": [], "owner": "x"}), "other fields than 'format' and a 'devices' list"),
    "other key schema": (
        json.dumps({"format": FORMAT, "devices": [{"device": {"gpu": "H100", "sm": 90}, "kernels": {}}]}),
        "a device key has other fields than gpu, compute_capability, driver, nvrtc, libraries",
    ),
    "bad timing": (
        json.dumps({"format": FORMAT, "devices": [{"device": H100.to_json(), "kernels": {SIGNATURE: {FAST: -1}}}]}),
        "has the timing -1",
    ),
    "timing as text": (
        json.dumps({"format": FORMAT, "devices": [{"device": H100.to_json(), "kernels": {SIGNATURE: {FAST: "fast"}}}]}),
        "has the timing 'fast'",
    ),
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_file_it_cannot_trust_is_one_warning_and_rebuilt(tmp_path, name):
    text, why = BROKEN[name]
    path = tmp_path / "cache.json"
    path.write_bytes(text.encode("latin-1"))
    cache = TimingCache(path)
    (warning,) = cache.warnings
    assert warning.startswith(f"optc: warning: timing cache '{path}' ") and warning.endswith("; starting a new one")
    assert why in warning and "\n" not in warning
    assert cache.timings(H100, SIGNATURE) == {}
    cache.save()  # rebuilt even with nothing new to add
    assert json.loads(path.read_text()) == {"format": FORMAT, "devices": []}
    assert TimingCache(path).warnings == []


def test_save_merges_with_what_another_build_wrote_meanwhile(tmp_path):
    path = tmp_path / "cache.json"
    first, second = TimingCache(path), TimingCache(path)  # both opened on an empty cache
    first.record(H100, SIGNATURE, FAST, 0.25)
    first.save()
    second.record(H100, SIGNATURE, SLOW, 0.75)
    second.record(H100, "cd" * 32, FAST, 1.5)
    second.save()
    merged = TimingCache(path)
    assert merged.timings(H100, SIGNATURE) == {FAST: 0.25, SLOW: 0.75}
    assert merged.lookup(H100, "cd" * 32, FAST) == 1.5


def test_a_new_timing_replaces_the_file_and_the_file_what_was_read(tmp_path):
    path = tmp_path / "cache.json"
    cache = TimingCache(path)
    cache.record(H100, SIGNATURE, FAST, 1.0)
    cache.save()
    stale, other = TimingCache(path), TimingCache(path)
    other.record(H100, SIGNATURE, FAST, 2.0)
    other.save()
    stale.record(H100, SIGNATURE, SLOW, 3.0)
    stale.save()  # keeps other's 2.0: stale only read 1.0, it did not time FAST again
    assert TimingCache(path).timings(H100, SIGNATURE) == {FAST: 2.0, SLOW: 3.0}
    assert stale.lookup(H100, SIGNATURE, FAST) == 2.0  # and now knows it


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(OptcError, match=f"timing cache '{tmp_path}' is a directory: give a file, e.g. '{tmp_path}/timing-cache.json'"):
        TimingCache(tmp_path)


def test_an_unwritable_cache_is_a_warning_not_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = TimingCache(blocker / "cache.json")  # its folder would be a regular file
    cache.record(H100, SIGNATURE, FAST, 1.0)
    cache.save()
    unreadable, unwritten = cache.warnings
    assert unreadable.startswith(f"optc: warning: timing cache '{blocker / 'cache.json'}' is unreadable (Not a directory)")
    assert unwritten.startswith(f"optc: warning: could not write timing cache '{blocker / 'cache.json'}'")
    assert cache.lookup(H100, SIGNATURE, FAST) == 1.0  # this build still has it


@pytest.mark.parametrize("timing", [-1.0, float("nan"), float("inf"), True, "1.0"])
def test_record_refuses_what_is_not_a_timing(tmp_path, timing):
    with pytest.raises(ValueError, match="a timing is a finite, non-negative number of ms or Failed"):
        TimingCache(tmp_path / "c.json").record(H100, SIGNATURE, FAST, timing)


def test_default_path_follows_the_cache_folder_and_its_override(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("OPTC_CACHE_DIR", str(tmp_path / "root"))
    assert default_path() == tmp_path / "root" / "timing-cache.json"
    monkeypatch.setenv(ENV, str(tmp_path / "mine.json"))
    assert default_path() == tmp_path / "mine.json"
    assert TimingCache().path == tmp_path / "mine.json"


# --- writers at the same time -------------------------------------------------------------

WRITERS = 4
ENTRIES = 40


def _hammer(path: str, writer: int) -> None:
    """One build: records its own entries and saves after each, racing the others."""
    cache = TimingCache(path)
    for n in range(ENTRIES):
        cache.record(H100, f"{writer:02d}" * 32, f"tactic {n}", float(writer * 1000 + n))
        if n % 3 == 0:
            cache.record(H100, SIGNATURE, f"shared {writer} {n}", 1.0)
        cache.save()
    assert cache.warnings == []


@pytest.mark.slow
def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "cache.json"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hammer, args=(str(path), w)) for w in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0] * WRITERS
    cache = TimingCache(path)
    assert cache.warnings == []
    for w in range(WRITERS):
        timings = cache.timings(H100, f"{w:02d}" * 32)
        assert timings == {f"tactic {n}": float(w * 1000 + n) for n in range(ENTRIES)}
    shared = cache.timings(H100, SIGNATURE)
    assert set(shared) == {f"shared {w} {n}" for w in range(WRITERS) for n in range(0, ENTRIES, 3)}
    assert not [p for p in Path(tmp_path).iterdir() if p.suffix == ".tmp"]  # no temporary file left
