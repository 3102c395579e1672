"""CUDA C++ to cubin (or PTX) through NVRTC, with a disk cache. Needs no GPU.

    cubin = compile_cuda(source, "saxpy.cu", arch="sm_90")      # bytes, for Module(cubin)
    ptx = compile_ptx(source, "saxpy.cu", arch="sm_90")         # str
    result = compile_program(source, "saxpy.cu", arch="sm_90")  # Compiled: .binary and NVRTC's .log

`arch` names a real GPU architecture: `sm_80`, `sm_90`, or `sm_90a` for Hopper's
arch-specific instructions (wgmma, setmaxnreg); it becomes NVRTC's `-arch=` flag
(`compute_90a` for PTX). `options` are further NVRTC flags (`-std=c++17`, `-lineinfo`,
`-DTILE=64`).

The cache. A result is stored under a key that hashes everything it depends on: the
source, the program name, the options, the arch, the output kind and NVRTC's version; an
entry holds the output and NVRTC's log, so a cache hit reports the same warnings. The
folder is `$OPTC_CACHE_DIR/nvrtc`, by default `~/.cache/optc/nvrtc` (`$XDG_CACHE_HOME/optc`
where that is set). Entries are written to a temporary file and renamed into place, so a
reader never sees half an entry; each starts with a digest of its payload, and an entry
that fails it (a truncated or overwritten file) is compiled again and replaced. Headers
that the source reaches through `-I` paths are not part of the key: generated kernels are
self-contained. The digest is of the entry's key and its payload, so an entry that is
intact but foreign (another compile's entry copied or renamed under this key) fails it
too and is rebuilt. The cache guards against accidents, not attackers: whoever can
write to the folder can put code in every engine built from it. `compile_cuda(..., cache=False)` skips the cache.

Warnings. A compile that succeeds may still leave a log: NVRTC's warnings (an unused
variable, say). `compile_program` returns it with the output (`Compiled.log`), so a test can
demand that generated code compiles without any; the code generators emit none. Each fresh
compile with a log also logs it at WARNING (`runtime.cuda.nvrtc`); compiles and cache hits
are logged at DEBUG.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import struct
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cuda.bindings import nvrtc

from dialects.errors import OptcError
from runtime.cuda.errors import NvrtcCompileError, NvrtcError, NvrtcUnavailable

logger = logging.getLogger(__name__)

_ARCH = re.compile(r"sm_(\d+[af]?)")
_MAGIC = b"optc-nvrtc-3\n"  # the cache entry format; bump it to orphan old entries
_DIGEST = hashlib.sha256().digest_size
_LOG_SIZE = struct.Struct("<I")  # an entry's payload: the log's size, the log, the output


@dataclass(frozen=True)
class Compiled:
    """One compile's output (a cubin, or PTX as bytes) and NVRTC's log, which after a
    successful compile holds only warnings: empty when NVRTC had nothing to say."""

    binary: bytes
    log: str = ""


# -- calls -------------------------------------------------------------------------------


def _call(fn, *args, program: str | None = None):
    """Calls an NVRTC binding; raises NvrtcError on a failed status, else returns the results.

    The bindings return `(status, *results)`: this gives back None, the one result, or the
    tuple of results.
    """
    status, *results = fn(*args)
    if status != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        raise NvrtcError(fn.__name__, status, program=program)
    if not results:
        return None
    return results[0] if len(results) == 1 else tuple(results)


@functools.cache
def nvrtc_version() -> tuple[int, int]:
    """NVRTC's (major, minor), e.g. (13, 0). Raises NvrtcUnavailable if libnvrtc is missing."""
    try:
        return _call(nvrtc.nvrtcVersion)
    except NvrtcError:
        raise
    except Exception as exc:  # the library could not be found or loaded
        raise NvrtcUnavailable(
            "nvrtcVersion", "library not loaded", detail=f"{exc} (pip install nvidia-cuda-nvrtc)"
        ) from exc


def _read(get_size, get, program, name: str) -> bytes:
    """NVRTC writes its outputs into a buffer we pass. It must be a fresh, mutable one:
    `b" " * 1` is CPython's shared one-byte object, and NVRTC writing the empty log's NUL
    into it turned every b" " in the process into b"\0" (torch then failed to import)."""
    buffer = bytearray(_call(get_size, program, program=name))
    _call(get, program, buffer, program=name)
    return bytes(buffer)


def _program_log(program, name: str) -> str:
    log = _read(nvrtc.nvrtcGetProgramLogSize, nvrtc.nvrtcGetProgramLog, program, name)
    return log.rstrip(b"\0").decode(errors="replace")


def _nvrtc_compile(source: str, name: str, arch: str, options: tuple[str, ...], target: str) -> Compiled:
    """One NVRTC compile: `target` is "cubin" or "ptx". The cache sits around this."""
    arch_flag = f"-arch={arch}" if target == "cubin" else f"-arch=compute_{arch[3:]}"
    flags = [arch_flag.encode(), *(option.encode() for option in options)]
    program = _call(nvrtc.nvrtcCreateProgram, source.encode(), name.encode(), 0, [], [], program=name)
    try:
        (status,) = nvrtc.nvrtcCompileProgram(program, len(flags), flags)
        log = _program_log(program, name)
        if status == nvrtc.nvrtcResult.NVRTC_ERROR_COMPILATION:
            raise NvrtcCompileError(name, arch, options, log, status)
        if status != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            raise NvrtcError("nvrtcCompileProgram", status, program=name, detail=f"flags {flags}\n{log}")
        log = log.strip()
        if log:
            logger.warning("NVRTC warnings for %s (%s):\n%s", name, arch, log)
        if target == "cubin":
            return Compiled(_read(nvrtc.nvrtcGetCUBINSize, nvrtc.nvrtcGetCUBIN, program, name), log)
        return Compiled(_read(nvrtc.nvrtcGetPTXSize, nvrtc.nvrtcGetPTX, program, name).rstrip(b"\0"), log)
    finally:
        nvrtc.nvrtcDestroyProgram(program)


# -- the cache ---------------------------------------------------------------------------


def cache_root() -> Path:
    """optc's cache folder: $OPTC_CACHE_DIR, else $XDG_CACHE_HOME/optc, else ~/.cache/optc."""
    if os.environ.get("OPTC_CACHE_DIR"):
        return Path(os.environ["OPTC_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "optc"


def cache_dir() -> Path:
    """Where compiled kernels are kept: `cache_root() / "nvrtc"`."""
    return cache_root() / "nvrtc"


def cache_key(source: str, name: str, arch: str, options: Sequence[str], target: str) -> str:
    """The hex digest that names a compile's cache entry: everything its output depends on."""
    major, minor = nvrtc_version()
    recipe = {
        "format": _MAGIC.decode().strip(),
        "nvrtc": f"{major}.{minor}",
        "target": target,
        "arch": arch,
        "options": list(options),
        "name": name,
        "source": source,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def _entry_digest(key: str, payload: bytes) -> bytes:
    """What an entry's digest covers: its own key (so it is not another key's entry) and payload."""
    return hashlib.sha256(key.encode() + b"\n" + payload).digest()


def _read_entry(path: Path, key: str) -> Compiled | None:
    """The entry's compile, or None if it is missing or does not match its digest."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_MAGIC) + _DIGEST
    if len(data) <= head or not data.startswith(_MAGIC):
        return None
    digest, payload = data[len(_MAGIC) : head], data[head:]
    if _entry_digest(key, payload) != digest or len(payload) < _LOG_SIZE.size:
        return None
    (log_size,) = _LOG_SIZE.unpack_from(payload)
    log_end = _LOG_SIZE.size + log_size
    if len(payload) <= log_end:
        return None
    return Compiled(payload[log_end:], payload[_LOG_SIZE.size : log_end].decode(errors="replace"))


def _write_entry(path: Path, key: str, compiled: Compiled) -> None:
    """Writes atomically: a temporary file in the same folder, renamed over the entry."""
    log = compiled.log.encode()
    payload = _LOG_SIZE.pack(len(log)) + log + compiled.binary
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(_MAGIC + _entry_digest(key, payload) + payload)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _check_arch(arch: str) -> None:
    if not _ARCH.fullmatch(arch):
        raise OptcError(
            f"NVRTC arch must be a real architecture such as sm_80, sm_90 or sm_90a, got '{arch}'"
        )


def _check_options(options: Sequence[str]) -> tuple[str, ...]:
    options = tuple(options)
    for option in options:
        if not isinstance(option, str):
            raise TypeError(f"NVRTC options are strings, got {option!r}")
        if option.startswith(("-arch", "--gpu-architecture")):
            raise OptcError(f"NVRTC option '{option}': give the architecture as arch=, not as an option")
    return options


def _compile(source: str, name: str, arch: str, options: Sequence[str], target: str, cache: bool) -> Compiled:
    _check_arch(arch)
    options = _check_options(options)
    path = key = None
    if cache:
        key = cache_key(source, name, arch, options, target)
        path = cache_dir() / f"{key}.{target}"
        cached = _read_entry(path, key)
        if cached is not None:
            logger.debug("nvrtc cache hit: %s (%s) %s", name, arch, path)
            return cached
        if path.exists():
            logger.warning("nvrtc cache entry %s is corrupt or not this compile's; compiling %s again", path, name)
    started = time.perf_counter()
    compiled = _nvrtc_compile(source, name, arch, options, target)
    logger.debug("nvrtc compiled %s for %s in %.1f ms", name, arch, 1e3 * (time.perf_counter() - started))
    if path is not None:
        try:
            _write_entry(path, key, compiled)
        except OSError as exc:  # a read-only or full disk costs a recompile, not the build
            logger.warning("could not write the nvrtc cache entry %s: %s", path, exc)
    return compiled


# -- the entry points --------------------------------------------------------------------


def compile_program(
    source: str,
    name: str,
    arch: str = "sm_90",
    options: Sequence[str] = (),
    *,
    target: str = "cubin",
    cache: bool = True,
) -> Compiled:
    """Compiles CUDA C++ `source` to `target` ("cubin" or "ptx") and returns the output with
    NVRTC's log (its warnings). compile_cuda and compile_ptx return the output alone."""
    if target not in ("cubin", "ptx"):
        raise OptcError(f"NVRTC target must be 'cubin' or 'ptx', got '{target}'")
    return _compile(source, name, arch, options, target, cache)


def compile_cuda(
    source: str, name: str, arch: str = "sm_90", options: Sequence[str] = (), *, cache: bool = True
) -> bytes:
    """Compiles CUDA C++ `source` to a cubin for `arch` (sm_80, sm_90, sm_90a, ...).

    `name` is the program's name, the file name NVRTC's messages use (`saxpy.cu`). Raises
    NvrtcCompileError, with NVRTC's log, if the source does not compile.
    """
    return compile_program(source, name, arch, options, cache=cache).binary


def compile_ptx(
    source: str, name: str, arch: str = "sm_90", options: Sequence[str] = (), *, cache: bool = True
) -> str:
    """Compiles CUDA C++ `source` to PTX for the virtual architecture of `arch` (compute_90 for sm_90)."""
    return compile_program(source, name, arch, options, target="ptx", cache=cache).binary.decode()
