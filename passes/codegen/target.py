"""The GPU a kernel is generated for: each fact about the hardware that a generator's choices
depend on (how many blocks fill the device, how much shared memory a tile may take), in one
place. Every generator is handed a `Target` (`configure`, `candidates`, `check`: see
`generator.py`); none reads a module-level one.

Where Targets come from: the tables below (`TARGETS`, by NVRTC architecture; what
`configure-kernels{arch=...}` and an engine built for a named arch use), or `measured`, the
GPU in this process as its driver describes it (what an engine built for that GPU uses:
an H100 PCIe has fewer SMs than the SXM part the sm_90 table describes).
"""

from __future__ import annotations

from dataclasses import dataclass

from dialects.errors import OptcError

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
"""What kernels are configured for when no target is named (`configure-kernels`' default
arch, `optc -t cuda` on kernels without a launch): an H100 SXM."""


def named(arch: str) -> Target:
    """The table of `arch` (sm_90a's is sm_90's: the same GPU, named with its
    architecture-specific instructions); an OptcError listing the known ones otherwise."""
    target = TARGETS.get(arch) or TARGETS.get(arch.removesuffix("a"))
    if target is None:
        raise OptcError(f"unknown GPU architecture '{arch}' (known: {', '.join(TARGETS)})")
    return target


def measured(device) -> Target:
    """The Target of `device` (a `runtime.cuda.Device`: anything with `name`,
    `compute_capability` and `attribute(NAME)` reading `CU_DEVICE_ATTRIBUTE_<NAME>`), from
    its driver's attributes rather than a table."""
    major, minor = device.compute_capability
    read = device.attribute
    return Target(
        name=device.name,
        arch=f"sm_{major}{minor}",
        sm_count=read("MULTIPROCESSOR_COUNT"),
        shared_per_block=read("MAX_SHARED_MEMORY_PER_BLOCK"),
        shared_per_block_optin=read("MAX_SHARED_MEMORY_PER_BLOCK_OPTIN"),
        shared_per_sm=read("MAX_SHARED_MEMORY_PER_MULTIPROCESSOR"),
        registers_per_sm=read("MAX_REGISTERS_PER_MULTIPROCESSOR"),
        threads_per_sm=read("MAX_THREADS_PER_MULTIPROCESSOR"),
        l2_bytes=read("L2_CACHE_SIZE"),
    )
