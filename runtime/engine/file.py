"""The engine file: everything needed to run a model without compiling anything.

    magic     8 bytes   b"OPTCENG\\0"
    version   4 bytes   little-endian u32 (FORMAT_VERSION)
    length    8 bytes   little-endian u64, the header's length
    sha256   32 bytes   the SHA-256 of everything after it and of version and length
    header    JSON      format version, GPU architecture, the plan, the blob table and the IR
                        (for reading)
    payload   bytes     the blobs: one cubin per kernel image, then the weights region

No pickle: the header is JSON and the blobs are raw bytes. An engine file is compiled GPU
code: load only engines you trust, as you would run only executables you trust. Reading
checks everything the runtime relies on before a GPU is touched (`check_image`), so a
damaged or inconsistent file is an EngineFileError naming the cause, never a traceback or
a kernel handed a pointer outside its buffers; it cannot check what the cubins' code does.

Version 2 moved the checksum out of the header so that it covers the header too (version
1 trusted the header). Version 3 records each kernel's tactic and tile (`KernelSpec.tactic`,
`.tile`). Version 4 records library kernels (`KernelSpec.library`: the cuBLASLt call, its
algorithm's bytes and the library's version; `image` -1 where the call writes the result).
cuDNN's calls (a conv or attention graph, the plan's name, cuDNN's and the frontend's
versions, the operands past the first two in `extra`) came within version 4: their fields
are optional for cuBLASLt's, and a reader without them refuses the library by name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dialects.errors import OptcError
from runtime.engine.plan import ARCH, EnginePlan, PlanError

MAGIC = b"OPTCENG\0"
FORMAT_VERSION = 4
_PREFIX = struct.Struct("<IQ32s")  # version, header length, checksum
_START = len(MAGIC) + _PREFIX.size

MAX_HEADER_BYTES = 1 << 30
"""The JSON header's size limit (1 GiB; the IR text of a large model is tens of MiB)."""
MAX_JSON_DEPTH = 32
"""How deeply the header's JSON may nest (a plan nests 6 deep); checked before parsing,
so a crafted header cannot exhaust Python's recursion."""

_SM_IN_FLAGS: dict[int, Callable[[int], int]] = {
    7: lambda flags: flags & 0xFF,  # ELFABIVERSION_CUDA_V1 (CUDA 12 and before)
    8: lambda flags: (flags >> 8) & 0xFF,  # ELFABIVERSION_CUDA_V2 (CUDA 13)
}
"""A cubin's ELF ABI version → its SM number (90 for sm_90) from the header's e_flags
(LLVM's BinaryFormat/ELF.h: EF_CUDA_SM, EF_CUDA_SM_MASK)."""
_ELF_CUDA = (b"\x7fELF\x02", (0x33, 0x41), 190)  # 64-bit ELF, OS ABI CUDA (v1, v2), EM_CUDA


class EngineFileError(OptcError):
    """An engine file that cannot be read: not an engine, another version, damaged, or
    inconsistent (a plan that does not fit its own regions or images)."""


@dataclass(frozen=True)
class EngineImage:
    """An engine in memory, before it is loaded on a GPU."""

    plan: EnginePlan
    images: tuple[bytes, ...]
    """One cubin per kernel image (`KernelSpec.image` indexes it)."""
    weights: bytes
    """The weights region, exactly `plan.region_bytes["weights"]` bytes."""
    ir: str = ""
    """The kernel-level IR the engine came from (for people; the runtime does not read it)."""


def check_image(image: EngineImage) -> None:
    """Raises PlanError unless the plan fits itself, its weights and its images, and every
    image is a cubin for the plan's architecture. Needs no GPU; `Engine` calls it first."""
    image.plan.check(len(image.images), len(image.weights))
    want = int(ARCH.fullmatch(image.plan.arch).group(1))
    for i, cubin in enumerate(image.images):
        sm = _cubin_sm(cubin, f"image {i}")
        if sm != want:
            raise PlanError(f"image {i} is a cubin for sm_{sm}, but the engine's arch is {image.plan.arch}")


def _cubin_sm(cubin: bytes, what: str) -> int:
    """The SM number a cubin was compiled for, from its ELF header."""
    magic, osabi, machine = _ELF_CUDA
    if len(cubin) < 64 or not cubin.startswith(magic) or cubin[7] not in osabi or struct.unpack_from("<H", cubin, 18)[0] != machine:
        raise PlanError(f"{what} is not a CUDA cubin (no 64-bit CUDA ELF header)")
    abi = cubin[8]
    if abi not in _SM_IN_FLAGS:
        raise PlanError(f"{what} is a cubin of CUDA ELF ABI version {abi}, which this optc does not read")
    return _SM_IN_FLAGS[abi](struct.unpack_from("<I", cubin, 48)[0])


def write_engine(image: EngineImage, path: str | os.PathLike) -> None:
    blobs = [*image.images, image.weights]
    table, offset = [], 0
    for blob in blobs:
        table.append({"offset": offset, "size": len(blob)})
        offset += len(blob)
    header = {
        "format_version": FORMAT_VERSION,
        "arch": image.plan.arch,
        "plan": image.plan.to_json(),
        "blobs": table,
        "ir": image.ir,
    }
    encoded = json.dumps(header).encode()
    covered = struct.pack("<IQ", FORMAT_VERSION, len(encoded)) + encoded + b"".join(blobs)
    digest = hashlib.sha256(covered).digest()
    with open(path, "wb") as f:
        f.write(MAGIC + covered[:12] + digest + covered[12:])


def read_engine(path: str | os.PathLike) -> EngineImage:
    """The engine in `path`, checked (see the module's docstring); EngineFileError says
    what is wrong with it."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise EngineFileError(f"cannot read engine file '{path}': {exc.strerror}") from None
    try:
        return _parse(data, path)
    except PlanError as exc:
        raise EngineFileError(f"'{path}' is not a valid engine: {exc}") from None


def _parse(data: bytes, path) -> EngineImage:
    if data[:8] != MAGIC:
        raise EngineFileError(f"'{path}' is not an optc engine file (no OPTCENG header)")
    if len(data) >= 12:
        (version,) = struct.unpack_from("<I", data, 8)
        if version != FORMAT_VERSION:
            raise EngineFileError(
                f"'{path}' is engine format v{version}, this optc reads v{FORMAT_VERSION}: rebuild the engine"
            )
    if len(data) < _START:
        raise EngineFileError(f"'{path}' is truncated: {len(data)} bytes")
    _, length, digest = _PREFIX.unpack_from(data, len(MAGIC))
    if length > MAX_HEADER_BYTES:
        raise EngineFileError(f"'{path}' declares a {length}-byte header, more than the limit of {MAX_HEADER_BYTES}")
    if _START + length > len(data):
        raise EngineFileError(f"'{path}' is truncated: its header needs {length} bytes, {len(data) - _START} follow")
    if hashlib.sha256(data[8:20] + data[_START:]).digest() != digest:
        raise EngineFileError(f"'{path}' is damaged: its checksum does not match its contents")
    header = _header(data[_START : _START + length], path)
    payload = data[_START + length :]
    blobs = _blobs(header["blobs"], payload)
    plan = EnginePlan.from_json(header["plan"])
    if header["arch"] != plan.arch:
        raise PlanError(f"the header's arch '{header['arch']}' is not the plan's '{plan.arch}'")
    image = EngineImage(plan, tuple(blobs[:-1]), blobs[-1], header["ir"])
    check_image(image)
    return image


_HEADER_TYPES = {"format_version": int, "arch": str, "plan": dict, "blobs": list, "ir": str}


def _header(raw: bytes, path) -> dict:
    """The header's JSON: within the depth limit, parseable, an object with its keys."""
    depth = _json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise EngineFileError(f"'{path}' has a header nested {depth} deep, more than the limit of {MAX_JSON_DEPTH}")
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except ValueError as exc:  # bad UTF-8 or JSON, NaN, an integer of thousands of digits
        raise EngineFileError(f"'{path}' has a damaged header: {str(exc)[:80]}") from None
    if not isinstance(header, dict):
        raise PlanError("the header must be a JSON object")
    for key, kind in _HEADER_TYPES.items():
        if key not in header:
            raise PlanError(f"the header has no '{key}'")
        if type(header[key]) is not kind:
            raise PlanError(f"the header's '{key}' must be {kind.__name__}, got {type(header[key]).__name__}")
    if header["format_version"] != FORMAT_VERSION:
        raise PlanError(f"the header says format v{header['format_version']}, the file's prefix v{FORMAT_VERSION}")
    return header


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPEN, _CLOSE = b"[{", b"]}"
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(_OPEN + _CLOSE)))


def _json_depth(raw: bytes) -> int:
    """The deepest nesting of brackets outside strings (an over-estimate if the JSON is
    broken, which json.loads then reports)."""
    brackets = np.frombuffer(_JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS), np.uint8)
    steps = np.where(np.isin(brackets, list(_OPEN)), 1, -1)
    return int(np.cumsum(steps).max(initial=0))


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number the engine format allows")


def _blobs(table: list, payload: bytes) -> list[bytes]:
    """The payload cut as the table says: blob after blob, from its start to its end."""
    if not table:
        raise PlanError("the blob table is empty (it needs at least the weights)")
    blobs, end = [], 0
    for i, entry in enumerate(table):
        if not isinstance(entry, dict) or set(entry) != {"offset", "size"} or any(type(v) is not int for v in entry.values()):
            raise PlanError(f"blobs[{i}] must be an object of two integers, offset and size")
        if entry["offset"] != end or entry["size"] < 0:
            raise PlanError(f"blobs[{i}] spans {entry['offset']}..{entry['offset'] + entry['size']}; it must start at {end}, where the previous blob ends")
        end += entry["size"]
        blobs.append(payload[entry["offset"] : end])
    if end != len(payload):
        raise PlanError(f"the blobs end at byte {end} of a {len(payload)}-byte payload")
    return blobs
