"""The engine file: everything needed to run a model without compiling anything.

    magic     8 bytes   b"OPTCENG\\0"
    version   4 bytes   little-endian u32 (FORMAT_VERSION)
    length    8 bytes   little-endian u64, the header's length
    header    JSON      format version, GPU architecture, the plan, the blob table, the IR
                        (for reading), and the SHA-256 of the payload
    payload   bytes     the blobs: one cubin per kernel image, then the weights region

No pickle: the header is JSON and the blobs are raw bytes. Reading checks the magic, the
version, the header and the checksum, and says which of them is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass

from runtime.engine.plan import EnginePlan

MAGIC = b"OPTCENG\0"
FORMAT_VERSION = 1


class EngineFileError(Exception):
    """An engine file that cannot be read: not an engine, another version, or damaged."""


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


def write_engine(image: EngineImage, path: str | os.PathLike) -> None:
    blobs = [*image.images, image.weights]
    table, offset = [], 0
    for blob in blobs:
        table.append({"offset": offset, "size": len(blob)})
        offset += len(blob)
    payload = b"".join(blobs)
    header = {
        "format_version": FORMAT_VERSION,
        "arch": image.plan.arch,
        "plan": image.plan.to_json(),
        "blobs": table,
        "ir": image.ir,
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    encoded = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<IQ", FORMAT_VERSION, len(encoded)) + encoded + payload)


def read_engine(path: str | os.PathLike) -> EngineImage:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise EngineFileError(f"cannot read engine file '{path}': {exc.strerror}") from None
    if data[:8] != MAGIC:
        raise EngineFileError(f"'{path}' is not an optc engine file (no OPTCENG header)")
    if len(data) < 20:
        raise EngineFileError(f"'{path}' is truncated: {len(data)} bytes")
    version, length = struct.unpack("<IQ", data[8:20])
    if version != FORMAT_VERSION:
        raise EngineFileError(
            f"'{path}' is engine format version {version}; this optc reads version {FORMAT_VERSION}: rebuild the engine"
        )
    try:
        header = json.loads(data[20 : 20 + length])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EngineFileError(f"'{path}' has a damaged header") from None
    payload = data[20 + length :]
    if hashlib.sha256(payload).hexdigest() != header["sha256"]:
        raise EngineFileError(f"'{path}' is damaged: its checksum does not match its contents")
    blobs = [payload[b["offset"] : b["offset"] + b["size"]] for b in header["blobs"]]
    return EngineImage(EnginePlan.from_json(header["plan"]), tuple(blobs[:-1]), blobs[-1], header.get("ir", ""))
