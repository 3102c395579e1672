"""The GPU a kernel is generated for: each fact about the hardware that a generator's choices
depend on (how many blocks fill the device, how much shared memory a tile may take), in one
place. Generators read `DEFAULT` today; threading a `Target` through `configure` (and the
tactics' `candidates`/`check`, DESIGN.md "Tactics and tuning") is the next step."""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Target:
    """One GPU model, as the CUDA programming guide's "Compute Capabilities" table and the
    vendor's data sheet give it."""

    name: str
    arch: str
    """The NVRTC architecture, "sm_80"."""
    sm_count: int
    """Streaming multiprocessors: blocks fill the device in waves of `sm_count` (times the
    blocks resident per SM)."""
    shared_per_block: int
    """Shared memory a block gets without opting in (static, or dynamic below the default
    limit): 48 KiB on every architecture since sm_20."""
    shared_per_block_optin: int
    """The most dynamic shared memory one block may have after
    `cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)`."""
    shared_per_sm: int
    """Shared memory of one SM, shared by its resident blocks."""
    registers_per_sm: int
    """32-bit registers of one SM."""
    threads_per_sm: int
    """Resident threads of one SM at full occupancy."""
    l2_bytes: int


SM_80 = Target(
    name="A100",
    arch="sm_80",
    sm_count=108,
    shared_per_block=48 * KIB,
    shared_per_block_optin=163 * KIB,
    shared_per_sm=164 * KIB,
    registers_per_sm=64 * KIB,
    threads_per_sm=2048,
    l2_bytes=40 * MIB,
)

SM_90 = Target(
    name="H100 SXM",
    arch="sm_90",
    sm_count=132,
    shared_per_block=48 * KIB,
    shared_per_block_optin=227 * KIB,
    shared_per_sm=228 * KIB,
    registers_per_sm=64 * KIB,
    threads_per_sm=2048,
    l2_bytes=50 * MIB,
)

TARGETS = {t.arch: t for t in (SM_80, SM_90)}

DEFAULT = SM_90
"""What the generators size launches for: an H100 SXM."""
