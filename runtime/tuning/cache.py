"""The timing cache: how long each tactic of each kernel signature took on one device, kept
on disk and shared by every model and build, so a rebuild times nothing it has timed before
and two builds from one cache choose the same tactics.

    cache = TimingCache()                       # $OPTC_TIMING_CACHE, else <cache root>/optc/timing-cache.json
    cache.lookup(device, signature, tactic)     # ms, Failed("why") or None
    cache.record(device, signature, tactic, 0.0123)
    cache.save()                                # merged with the file under a lock, written atomically

The key says what a timing depends on, in three levels:
- the device (`DeviceKey`): the GPU's name, its compute capability, the CUDA version its
  driver supports, NVRTC's version and the versions of the libraries tactics call
  (`{"cublasLt": "12.9.1"}` where nvmath-python loads cuBLASLt, `"cudnn": "9.10.2"` and
  `"cudnn-frontend": "1.14.1"` where the frontend loads cuDNN); a timing taken under any
  other key is never used;
- the kernel signature: a digest the autotuner computes (the kernel's IR without its name
  and launch, the architecture, the generators' code);
- the tactic: the printed `#kernel.launch<...>`.
A value is the median milliseconds of one launch, or `Failed(why)`: a tactic that did not
compile, launch or give the right answer is not tried again under the same key.

The file is JSON in a versioned format (`FORMAT`). It is never trusted blindly: a file that
is unreadable, corrupt, truncated, of another format or another key schema is reported in
one line (`warnings`, for the caller to print) and replaced by a new one at the next save.

Concurrency. `save` takes an exclusive `fcntl.flock` on a sibling lock file, reads what is
on disk now, merges (this session's new timings win over the file, the file over what was
read when the cache was opened) and writes a temporary file in the same folder that
`os.replace` renames over the cache. Readers take no lock: they see the old file or the
new one, never half of one. Two builds saving at once lose nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dialects.errors import OptcError

FORMAT = "optc-timing-cache-1"
"""The file's format; bump it when the layout or the meaning of a key changes."""
ENV = "OPTC_TIMING_CACHE"
"""Environment variable naming the cache file (instead of the default path)."""
FILE_NAME = "timing-cache.json"
FAILED = "failed: "
"""How a failure is written in the file: `"failed: why"` where a time would be."""


def default_path() -> Path:
    """$OPTC_TIMING_CACHE, else `timing-cache.json` in optc's cache folder (beside the NVRTC
    cache: $OPTC_CACHE_DIR, $XDG_CACHE_HOME/optc or ~/.cache/optc)."""
    from runtime.cuda.nvrtc import cache_root

    return Path(os.environ[ENV]) if os.environ.get(ENV) else cache_root() / FILE_NAME


def check_path(path: str | os.PathLike) -> Path:
    """`path` as a timing cache file; a folder is refused (the file may not exist yet)."""
    path = Path(path)
    if path.is_dir():
        raise OptcError(f"timing cache '{path}' is a directory: give a file, e.g. '{path / FILE_NAME}'")
    return path


@dataclass(frozen=True)
class Failed:
    """A tactic that failed on this device: `why` says how (compile, launch, wrong output)."""

    why: str


Timing = float | Failed
"""Median ms of one launch, or why the tactic failed."""


@dataclass(frozen=True)
class DeviceKey:
    """What a timing depends on besides the kernel and the tactic: the GPU and the software
    that compiles and runs its code."""

    gpu: str
    """The device's name, "NVIDIA H100 80GB HBM3"."""
    compute_capability: str
    """"9.0"."""
    driver: str
    """The CUDA version the driver supports, "13.0" (cuDriverGetVersion)."""
    nvrtc: str
    """NVRTC's version, "13.0"."""
    libraries: tuple[tuple[str, str], ...] = field(default=())
    """(name, version) of every library a tactic may call here (cuBLASLt, cuDNN and its
    frontend), sorted: a
    library tactic's timing, or failure, is a fact about that version."""

    @classmethod
    def of(cls, device) -> DeviceKey:
        """The key of a `runtime.cuda.Device` with this process's driver, NVRTC and libraries."""
        from runtime.cuda import driver_version, nvrtc_version

        major, minor = device.compute_capability
        return cls(
            device.name, f"{major}.{minor}", "{}.{}".format(*driver_version()), "{}.{}".format(*nvrtc_version()), library_versions()
        )

    def to_json(self) -> dict:
        return {
            "gpu": self.gpu,
            "compute_capability": self.compute_capability,
            "driver": self.driver,
            "nvrtc": self.nvrtc,
            "libraries": dict(self.libraries),
        }

    @classmethod
    def from_json(cls, data: object) -> DeviceKey:
        """The key a file holds; raises _Foreign unless it has exactly this schema."""
        fields = ("gpu", "compute_capability", "driver", "nvrtc", "libraries")
        if not isinstance(data, dict) or sorted(data) != sorted(fields):
            raise _Foreign(f"a device key has other fields than {', '.join(fields)}")
        libraries = data["libraries"]
        strings = [data[f] for f in fields[:-1]]
        if not isinstance(libraries, dict) or not all(isinstance(v, str) for v in [*strings, *libraries, *libraries.values()]):
            raise _Foreign("a device key holds something other than strings")
        return cls(*strings, tuple(sorted(libraries.items())))


def library_versions() -> tuple[tuple[str, str], ...]:
    """(name, version) of the vendor libraries that load in this process: cuBLASLt where
    nvmath-python is installed and finds it, cuDNN and cudnn-frontend where the frontend
    is installed and finds cuDNN 9; none elsewhere."""
    from runtime.library import LibraryUnavailable, cublaslt, cudnn

    versions = []
    try:
        versions.append((cublaslt.NAME, cublaslt.library_version()))
    except LibraryUnavailable:
        pass
    try:
        versions += [(cudnn.NAME, cudnn.library_version()), (cudnn.FRONTEND, cudnn.frontend_version())]
    except LibraryUnavailable:
        pass
    return tuple(sorted(versions))


Entries = dict[DeviceKey, dict[str, dict[str, Timing]]]
"""device → kernel signature → tactic → timing."""


class _Foreign(Exception):
    """A file that is not a timing cache of this format; the message says why."""


class TimingCache:
    """The timings of one cache file, read when opened; `warnings` holds the one-line notes
    for the caller to print (a file that was rebuilt, one that could not be written)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = check_path(path if path is not None else default_path())
        self.warnings: list[str] = []
        self._fresh: Entries = {}
        self._entries, why = _read(self.path)
        self._rebuild = why is not None
        if why is not None:
            self.warnings.append(f"optc: warning: timing cache '{self.path}' is {why}; starting a new one")

    def lookup(self, device: DeviceKey, signature: str, tactic: str) -> Timing | None:
        return self.timings(device, signature).get(tactic)

    def timings(self, device: DeviceKey, signature: str) -> Mapping[str, Timing]:
        """Every tactic of `signature` timed on `device`: tactic → timing."""
        return self._entries.get(device, {}).get(signature, {})

    def record(self, device: DeviceKey, signature: str, tactic: str, timing: Timing) -> None:
        """Remember a timing (kept in memory until `save`)."""
        _check_timing(timing)
        for entries in (self._entries, self._fresh):
            entries.setdefault(device, {}).setdefault(signature, {})[tactic] = timing

    def save(self) -> None:
        """Merge this session's timings into the file, under the lock, atomically. A file
        that cannot be written costs the next build its timings, not this build: the
        reason goes to `warnings`."""
        if not self._fresh and not self._rebuild:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with _locked(self.path):
                on_disk, _ = _read(self.path)  # a file broken since we read it is rebuilt too
                merged = _merge(_merge(self._entries, on_disk), self._fresh)
                _write(self.path, merged)
        except OSError as exc:
            self.warnings.append(
                f"optc: warning: could not write timing cache '{self.path}' ({exc.strerror or exc}); "
                "this build's timings are not kept"
            )
            return
        self._entries, self._fresh, self._rebuild = merged, {}, False


def _check_timing(timing: Timing) -> None:
    if isinstance(timing, Failed):
        return
    if isinstance(timing, bool) or not isinstance(timing, (int, float)) or not math.isfinite(timing) or timing < 0:
        raise ValueError(f"a timing is a finite, non-negative number of ms or Failed, got {timing!r}")


def _merge(base: Entries, newer: Entries) -> Entries:
    """`base` with every entry of `newer` added or replacing its own (both left as they are)."""
    merged = {device: {sig: dict(tactics) for sig, tactics in kernels.items()} for device, kernels in base.items()}
    for device, kernels in newer.items():
        for signature, tactics in kernels.items():
            merged.setdefault(device, {}).setdefault(signature, {}).update(tactics)
    return merged


# --- the file -----------------------------------------------------------------------------


def _read(path: Path) -> tuple[Entries, str | None]:
    """The entries of the file (none if there is no file) and, if it cannot be used, why."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, f"unreadable ({exc.strerror or exc})"
    if not data.strip():
        return {}, "empty"
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, f"corrupt or truncated (not JSON: {exc})"
    try:
        return _from_json(document), None
    except _Foreign as exc:
        return {}, str(exc)


def _from_json(document: object) -> Entries:
    if not isinstance(document, dict) or "format" not in document:
        raise _Foreign("not an optc timing cache (no 'format' field)")
    if document["format"] != FORMAT:
        raise _Foreign(f"in format {document['format']!r}, not {FORMAT!r}")
    devices = document.get("devices")
    if sorted(document) != ["devices", "format"] or not isinstance(devices, list):
        raise _Foreign("not an optc timing cache (other fields than 'format' and a 'devices' list)")
    entries: Entries = {}
    for entry in devices:
        if not isinstance(entry, dict) or sorted(entry) != ["device", "kernels"] or not isinstance(entry["kernels"], dict):
            raise _Foreign("not an optc timing cache (a device entry is not {device, kernels})")
        device = DeviceKey.from_json(entry["device"])
        entries[device] = {signature: _tactics(signature, tactics) for signature, tactics in entry["kernels"].items()}
    return entries


def _tactics(signature: str, tactics: object) -> dict[str, Timing]:
    if not isinstance(tactics, dict):
        raise _Foreign(f"not an optc timing cache (kernel {signature[:16]} holds no tactics)")
    return {tactic: _timing(signature, value) for tactic, value in tactics.items()}


def _timing(signature: str, value: object) -> Timing:
    if isinstance(value, str) and value.startswith(FAILED):
        return Failed(value.removeprefix(FAILED))
    try:
        _check_timing(value)
    except ValueError:
        raise _Foreign(f"not an optc timing cache (kernel {signature[:16]} has the timing {value!r})") from None
    return float(value)


def _to_json(entries: Entries) -> dict:
    def value(timing: Timing):
        return FAILED + timing.why if isinstance(timing, Failed) else timing

    devices = [
        {"device": device.to_json(), "kernels": {sig: {t: value(v) for t, v in tactics.items()} for sig, tactics in kernels.items()}}
        for device, kernels in entries.items()
    ]
    devices.sort(key=lambda d: json.dumps(d["device"], sort_keys=True))
    return {"format": FORMAT, "devices": devices}


def _write(path: Path, entries: Entries) -> None:
    """Atomically: a temporary file in the same folder, renamed over the cache."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as file:
            json.dump(_to_json(entries), file, indent=1, sort_keys=True)
            file.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Holds an exclusive lock on `<path>.lock` (created if missing) for the block."""
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
