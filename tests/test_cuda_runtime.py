"""runtime.cuda: NVRTC compiles and its disk cache (no GPU needed), then the driver layer on
a GPU (marked `gpu`: skipped where there is none; see conftest.py)."""

from __future__ import annotations

import importlib.util
import json
import re
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from cuda.bindings import driver as cu

import runtime.cuda.nvrtc as nvrtc_module
from dialects.errors import OptcError
from runtime.cuda import (
    CudaError,
    DeviceBuffer,
    Event,
    Kernel,
    KernelArgumentError,
    Module,
    NvrtcCompileError,
    Stream,
    cache_dir,
    compile_cuda,
    compile_program,
    compile_ptx,
    nvrtc_version,
)

SAXPY = """
extern "C" __global__ void saxpy(const float* x, const float* y, float* out, float a, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a * x[i] + y[i];
}
"""

# SAXPY with a variable it never reads: compiles, with a warning.
UNUSED = SAXPY.replace("int i =", "int unused = n;\n    int i =")

# wgmma's register companion: accepted for sm_90a only, so it shows which target NVRTC used.
SETMAXNREG = """
extern "C" __global__ void __launch_bounds__(128, 1) grow(float* y)
{
    asm volatile("setmaxnreg.inc.sync.aligned.u32 240;");
    y[threadIdx.x] = 1.0f;
}
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache folder, and a list that records every real NVRTC compile."""
    monkeypatch.setenv("OPTC_CACHE_DIR", str(tmp_path))
    compiles: list[tuple[str, str, tuple[str, ...], str]] = []
    real = nvrtc_module._nvrtc_compile

    def counting(source, name, arch, options, target):
        compiles.append((name, arch, options, target))
        return real(source, name, arch, options, target)

    monkeypatch.setattr(nvrtc_module, "_nvrtc_compile", counting)
    return compiles


def cubin_sm(cubin: bytes) -> int:
    """The SM version a cubin's ELF header names (e_flags; its layout depends on the ABI version)."""
    assert cubin[:4] == b"\x7fELF"
    flags = struct.unpack_from("<I", cubin, 48)[0]
    return (flags >> 8) & 0xFF if cubin[8] >= 8 else flags & 0xFF


# -- NVRTC (no GPU) ----------------------------------------------------------------------


def test_nvrtc_version():
    major, minor = nvrtc_version()
    assert major >= 12 and minor >= 0


@pytest.mark.parametrize("arch, sm", [("sm_80", 80), ("sm_90", 90), ("sm_90a", 90)])
def test_compiles_saxpy_to_cubin(cache, arch, sm):
    cubin = compile_cuda(SAXPY, "saxpy.cu", arch=arch)
    assert cubin_sm(cubin) == sm
    assert b"saxpy" in cubin


def test_sm_90a_reaches_hopper_only_instructions(cache):
    assert cubin_sm(compile_cuda(SETMAXNREG, "grow.cu", arch="sm_90a")) == 90
    with pytest.raises(NvrtcCompileError, match="setmaxnreg"):
        compile_cuda(SETMAXNREG, "grow.cu", arch="sm_90")


def test_compiles_to_ptx(cache):
    ptx = compile_ptx(SAXPY, "saxpy.cu", arch="sm_90a")
    assert ".target sm_90a" in ptx
    assert ".entry saxpy(" in ptx
    assert "\0" not in ptx


def test_second_compile_is_a_cache_hit(cache):
    first = compile_cuda(SAXPY, "saxpy.cu", arch="sm_90")
    assert len(cache) == 1
    entries = list(cache_dir().glob("*.cubin"))
    assert len(entries) == 1
    second = compile_cuda(SAXPY, "saxpy.cu", arch="sm_90")
    assert second == first
    assert len(cache) == 1, "the second compile called NVRTC"
    assert [p.name for p in cache_dir().iterdir()] == [entries[0].name], "stray files in the cache"


@pytest.mark.parametrize(
    "change",
    [
        {"arch": "sm_80"},
        {"arch": "sm_90a"},
        {"options": ("-DSCALE=2",)},
        {"options": ("-lineinfo",)},
        {"source": SAXPY + "\n// another kernel\n"},
        {"name": "other.cu"},
    ],
    ids=["sm_80", "sm_90a", "define", "lineinfo", "source", "name"],
)
def test_cache_key_follows_what_the_output_depends_on(cache, change):
    base = {"source": SAXPY, "name": "saxpy.cu", "arch": "sm_90", "options": ()}
    compile_cuda(**base)
    compile_cuda(**{**base, **change})
    assert len(cache) == 2
    assert len(list(cache_dir().glob("*.cubin"))) == 2


def test_cache_key_follows_the_nvrtc_version(cache, monkeypatch):
    key = nvrtc_module.cache_key(SAXPY, "saxpy.cu", "sm_90", (), "cubin")
    assert key == nvrtc_module.cache_key(SAXPY, "saxpy.cu", "sm_90", [], "cubin")
    assert key != nvrtc_module.cache_key(SAXPY, "saxpy.cu", "sm_90", (), "ptx")
    monkeypatch.setattr(nvrtc_module, "nvrtc_version", lambda: (99, 9))
    assert key != nvrtc_module.cache_key(SAXPY, "saxpy.cu", "sm_90", (), "cubin")


def test_cubin_and_ptx_are_cached_apart(cache):
    compile_cuda(SAXPY, "saxpy.cu")
    compile_ptx(SAXPY, "saxpy.cu")
    compile_ptx(SAXPY, "saxpy.cu")
    assert [target for *_, target in cache] == ["cubin", "ptx"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # one bit flipped
        lambda data: b"",  # empty
        lambda data: b"not a cache entry at all",
    ],
    ids=["truncated", "bit-flip", "empty", "garbage"],
)
def test_corrupt_cache_entry_is_compiled_again(cache, damage):
    cubin = compile_cuda(SAXPY, "saxpy.cu")
    (entry,) = cache_dir().glob("*.cubin")
    entry.write_bytes(damage(entry.read_bytes()))
    assert compile_cuda(SAXPY, "saxpy.cu") == cubin
    assert len(cache) == 2
    assert compile_cuda(SAXPY, "saxpy.cu") == cubin  # the entry was repaired
    assert len(cache) == 2


def test_foreign_cache_entry_is_compiled_again(cache):
    """An intact entry copied under another compile's key fails that key's digest: the
    copy is not taken for the other kernel's cubin."""
    saxpy = compile_cuda(SAXPY, "saxpy.cu")
    (saxpy_entry,) = cache_dir().glob("*.cubin")
    other = compile_cuda(SAXPY, "saxpy.cu", options=["-DOTHER"])
    (other_entry,) = set(cache_dir().glob("*.cubin")) - {saxpy_entry}
    other_entry.write_bytes(saxpy_entry.read_bytes())
    assert compile_cuda(SAXPY, "saxpy.cu", options=["-DOTHER"]) == other
    assert len(cache) == 3  # compiled again, not served saxpy's entry
    assert compile_cuda(SAXPY, "saxpy.cu") == saxpy and len(cache) == 3


def test_cache_can_be_skipped(cache):
    compile_cuda(SAXPY, "saxpy.cu", cache=False)
    compile_cuda(SAXPY, "saxpy.cu", cache=False)
    assert len(cache) == 2
    assert not cache_dir().exists()


def test_default_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("OPTC_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "optc" / "nvrtc"
    monkeypatch.setenv("OPTC_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere" / "nvrtc"


@pytest.mark.parametrize("target", ["cubin", "ptx"])
def test_compiling_leaves_python_objects_alone(cache, target):
    """NVRTC writes into the buffers we hand it; a shared interned object (b" " for an
    empty log) must never be one of them."""
    space, nul = bytes([32]), bytes([0])
    compile = compile_cuda if target == "cubin" else compile_ptx
    compile(SAXPY, "clean.cu", arch="sm_80", cache=False)
    assert b" " == space and b" " != nul
    assert " ".encode() == space


@pytest.mark.parametrize("target", ["cubin", "ptx"])
def test_compile_result_carries_the_warnings(cache, target):
    result = compile_program(UNUSED, "unused.cu", arch="sm_80", target=target)
    assert "unused.cu(4): warning" in result.log and '"unused" was declared but never referenced' in result.log
    assert compile_program(UNUSED, "unused.cu", arch="sm_80", target=target) == result  # a cache hit
    assert len(cache) == 1
    assert compile_program(SAXPY, "saxpy.cu", arch="sm_80", target=target).log == ""


def test_compile_warnings_are_logged_once(cache, caplog):
    compile_cuda(UNUSED, "unused.cu", arch="sm_80")
    compile_cuda(UNUSED, "unused.cu", arch="sm_80")
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "NVRTC warnings for unused.cu (sm_80)" in warned[0].getMessage()


def test_unknown_target_is_refused(cache):
    with pytest.raises(OptcError, match="NVRTC target must be 'cubin' or 'ptx', got 'fatbin'"):
        compile_program(SAXPY, "saxpy.cu", target="fatbin")


def test_syntax_error_names_program_line_and_log(cache):
    source = 'extern "C" __global__ void broken(float* y)\n{\n    y[0] = undefined_name;\n}\n'
    with pytest.raises(NvrtcCompileError) as info:
        compile_cuda(source, "broken.cu", arch="sm_80", options=["-DX=1"])
    error = info.value
    assert isinstance(error, OptcError)
    assert error.program == "broken.cu" and error.arch == "sm_80"
    assert "broken.cu(3): error" in error.log
    assert "undefined_name" in error.log
    message = str(error)
    assert message.startswith("NVRTC could not compile 'broken.cu' for sm_80 (options: -DX=1):")
    assert "broken.cu(3): error" in message
    assert not list(cache_dir().glob("*.cubin")), "a failed compile left a cache entry"


def test_bad_option_is_an_nvrtc_error(cache):
    with pytest.raises(
        OptcError, match=r"nvrtcCompileProgram failed for program 'saxpy.cu': NVRTC_ERROR_INVALID_OPTION"
    ):
        compile_cuda(SAXPY, "saxpy.cu", options=["--no-such-option"])


@pytest.mark.parametrize("arch", ["90", "sm90", "compute_90", "sm_90b"])
def test_bad_arch_is_refused(cache, arch):
    with pytest.raises(OptcError, match="real architecture such as sm_80"):
        compile_cuda(SAXPY, "saxpy.cu", arch=arch)


def test_arch_in_options_is_refused(cache):
    with pytest.raises(OptcError, match="give the architecture as arch="):
        compile_cuda(SAXPY, "saxpy.cu", options=["-arch=sm_80"])


# -- errors and kernel arguments (no GPU) ------------------------------------------------


def test_cuda_error_names_call_kernel_and_status():
    error = CudaError(
        "cuLaunchKernel", cu.CUresult.CUDA_ERROR_INVALID_VALUE, kernel="saxpy", detail="block (2048, 1, 1)"
    )
    assert isinstance(error, OptcError)
    assert str(error).startswith("cuLaunchKernel failed for kernel 'saxpy': CUDA_ERROR_INVALID_VALUE")
    assert str(error).endswith("; block (2048, 1, 1)")
    assert error.status_name == "CUDA_ERROR_INVALID_VALUE"


class FakeTensor:
    """Anything with __cuda_array_interface__ passes as its device address."""

    __cuda_array_interface__ = {"data": (0xDEAD0000, False), "shape": (4,), "typestr": "<f4", "version": 3}


def read_parameters(parameters, sizes):
    """The bytes each pointer of a built `void**` array points at."""
    import ctypes

    pointers = parameters.pointers.tolist()
    return [ctypes.string_at(pointer, size) for pointer, size in zip(pointers, sizes, strict=True)]


def test_kernel_parameters_are_built_from_typed_values():
    kernel = Kernel(module=None, name="saxpy", handle=None)
    kernel.parameter_sizes = (8, 8, 8, 4, 4, 8, 2, 16)  # as the driver would report
    struct_bytes = bytes(range(16))
    args = [
        FakeTensor(),
        np.uint64(0x1234),
        np.int64(-5),
        2.5,
        7,
        np.float64(0.25),
        np.float16(1.5),
        struct_bytes,
    ]
    built = read_parameters(kernel._arguments(args), kernel.parameter_sizes)
    assert built == [
        (0xDEAD0000).to_bytes(8, "little"),
        (0x1234).to_bytes(8, "little"),
        (-5).to_bytes(8, "little", signed=True),
        np.float32(2.5).tobytes(),
        np.int32(7).tobytes(),
        np.float64(0.25).tobytes(),
        np.float16(1.5).tobytes(),
        struct_bytes,
    ]
    assert all(pointer % 16 == 0 for pointer in kernel._arguments(args).pointers.tolist())


@pytest.mark.parametrize(
    "args, message",
    [
        ([np.float32(1)], r"kernel 'saxpy' takes 3 parameters \(8, 4, 4 bytes\), got 1 arguments"),
        ([FakeTensor(), np.float64(2.0), 3], r"parameter 1 is 4 bytes, got 8 bytes \(float64\)"),
        ([FakeTensor(), 2.0, 2**40], r"2\*\*40|1099511627776 does not fit int32: pass np.int64"),
        ([FakeTensor(), 2.0, True], r"Python bool is ambiguous"),
        ([FakeTensor(), 2.0, "3"], r"cannot pass str to a kernel"),
    ],
)
def test_kernel_arguments_are_checked(args, message):
    kernel = Kernel(module=None, name="saxpy", handle=None)
    kernel.parameter_sizes = (8, 4, 4)
    with pytest.raises(KernelArgumentError, match=message):
        kernel._arguments(args)


# -- the driver (GPU) --------------------------------------------------------------------


@pytest.fixture(scope="module")
def saxpy(gpu):
    return Module(compile_cuda(SAXPY, "saxpy.cu", arch=gpu.arch), "saxpy.cu").function("saxpy")


def random(n, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(n).astype(dtype)


@pytest.mark.gpu
def test_device_query(gpu):
    assert gpu.name
    major, minor = gpu.compute_capability
    assert major >= 7
    assert gpu.arch == f"sm_{major}{minor}"
    assert gpu.sm_count > 0
    assert gpu.total_memory > 1 << 30
    assert gpu.shared_memory_per_block == 48 * 1024
    assert gpu.shared_memory_per_block_optin >= gpu.shared_memory_per_block
    assert gpu.l2_cache_size > 0


@pytest.mark.gpu
def test_copies_round_trip(gpu):
    host = random(100_003)
    a = DeviceBuffer.from_numpy(host)
    assert a.shape == host.shape and a.dtype == np.float32 and a.ptr % 256 == 0
    np.testing.assert_array_equal(a.to_numpy(), host)

    b = DeviceBuffer.empty(host.shape, np.float32)
    b.fill_bytes(0xFF)
    assert np.isnan(b.to_numpy()).all()
    b.copy_from(a)
    np.testing.assert_array_equal(b.to_numpy(), host)

    stream = Stream()
    c = DeviceBuffer(host.nbytes, np.float32, host.shape)
    c.copy_from_host(host[::-1], stream)
    c.copy_from(c.view(np.float32, (10,), offset=40), nbytes=40, stream=stream)
    expected = np.ascontiguousarray(host[::-1])
    expected[:10] = expected[10:20]
    np.testing.assert_array_equal(c.to_numpy(stream), expected)

    with pytest.raises(ValueError, match="does not fit"):
        a.copy_from_host(np.zeros(200_000, np.float32))
    for buffer in (a, b, c):
        buffer.close()
    stream.close()


@pytest.mark.gpu
def test_launch_saxpy(gpu, saxpy):
    n = 1_000_003  # not a multiple of the block
    x, y = random(n, 1), random(n, 2)
    dx, dy = DeviceBuffer.from_numpy(x), DeviceBuffer.from_numpy(y)
    out = DeviceBuffer.empty((n,), np.float32)
    out.fill_bytes(0xFF)  # NaN: every element must be written
    assert saxpy.parameter_sizes == (8, 8, 8, 4, 4)
    assert saxpy.num_registers > 0 and saxpy.local_bytes == 0
    saxpy.launch(grid=(n + 255) // 256, block=256, args=[dx, dy, out, np.float32(2.5), n])
    np.testing.assert_allclose(out.to_numpy(), 2.5 * x.astype(np.float64) + y, rtol=1e-6, atol=1e-6)


@pytest.mark.gpu
def test_launch_checks_arguments(gpu, saxpy):
    x = DeviceBuffer.empty((16,), np.float32)
    with pytest.raises(KernelArgumentError, match="takes 5 parameters"):
        saxpy.launch(1, 16, [x, x, x, 1.0])
    with pytest.raises(KernelArgumentError, match="parameter 3 is 4 bytes, got 8 bytes"):
        saxpy.launch(1, 16, [x, x, x, np.float64(1.0), 16])


@pytest.mark.gpu
def test_events_time_a_kernel(gpu, saxpy):
    n = 1 << 24
    x = DeviceBuffer.from_numpy(random(n))
    out = DeviceBuffer.empty((n,), np.float32)
    stream = Stream()
    start, end = Event(), Event()
    start.record(stream)
    for _ in range(10):
        saxpy.launch((n + 255) // 256, 256, [x, x, out, 1.0, n], stream=stream)
    end.record(stream)
    elapsed = start.elapsed_ms(end)
    assert 0 < elapsed < 1000
    assert stream.last_kernel == "saxpy"


@pytest.mark.gpu
def test_graph_capture_and_replay(gpu, saxpy):
    n = 4096
    x, y0 = random(n, 3), random(n, 4)
    dx, dy = DeviceBuffer.from_numpy(x), DeviceBuffer.from_numpy(y0)
    stream = Stream()
    with stream.capture() as graph:  # y += 0.5 x, recorded, not run
        saxpy.launch(n // 256, 256, [dx, dy, dy, np.float32(0.5), n], stream=stream)
    stream.synchronize()
    np.testing.assert_array_equal(dy.to_numpy(), y0)
    assert graph.node_count == 1
    for _ in range(3):
        graph.launch(stream)
    stream.synchronize()
    np.testing.assert_allclose(dy.to_numpy(), y0 + 1.5 * x, rtol=1e-5, atol=1e-5)
    dx.copy_from_host(np.zeros(n, np.float32))  # a replay reads the buffers as they are now
    graph.launch(stream)
    np.testing.assert_allclose(dy.to_numpy(stream), y0 + 1.5 * x, rtol=1e-5, atol=1e-5)
    graph.close()


@pytest.mark.gpu
def test_failed_capture_leaves_the_stream_usable(gpu, saxpy):
    stream = Stream()
    with pytest.raises(RuntimeError, match="inside the capture"):
        with stream.capture():
            raise RuntimeError("inside the capture")
    x = DeviceBuffer.from_numpy(np.ones(256, np.float32))
    saxpy.launch(1, 256, [x, x, x, 1.0, 256], stream=stream)
    np.testing.assert_array_equal(x.to_numpy(stream), 2.0)


@pytest.mark.gpu
def test_too_many_threads_is_a_named_error(gpu, saxpy):
    x = DeviceBuffer.empty((4096,), np.float32)
    with pytest.raises(CudaError) as info:
        saxpy.launch(1, 2048, [x, x, x, 1.0, 4096])
    error = info.value
    assert error.call == "cuLaunchKernel" and error.kernel == "saxpy"
    assert error.status_name == "CUDA_ERROR_INVALID_VALUE"
    assert "cuLaunchKernel failed for kernel 'saxpy': CUDA_ERROR_INVALID_VALUE" in str(error)
    assert "block (2048, 1, 1)" in str(error)
    saxpy.launch(1, 1024, [x, x, x, 1.0, 4096])  # the context is still good
    Stream().synchronize()


@pytest.mark.gpu
def test_dynamic_shared_memory_needs_opting_in(gpu):
    source = """
    extern "C" __global__ void stage(float* out)
    {
        extern __shared__ float tile[];
        tile[threadIdx.x] = threadIdx.x;
        __syncthreads();
        out[threadIdx.x] = tile[blockDim.x - 1 - threadIdx.x];
    }
    """
    stage = Module(compile_cuda(source, "stage.cu", arch=gpu.arch), "stage.cu").function("stage")
    out = DeviceBuffer.empty((256,), np.float32)
    big = gpu.shared_memory_per_block_optin
    with pytest.raises(CudaError, match="cuLaunchKernel failed for kernel 'stage'"):
        stage.launch(1, 256, [out], shared_mem=big)
    stage.set_max_dynamic_shared_memory(big)
    stage.launch(1, 256, [out], shared_mem=big)
    np.testing.assert_array_equal(out.to_numpy(), np.arange(255, -1, -1, dtype=np.float32))


@pytest.mark.gpu
def test_missing_kernel_is_a_named_error(gpu):
    module = Module(compile_cuda(SAXPY, "saxpy.cu", arch=gpu.arch), "saxpy.cu")
    with pytest.raises(
        CudaError, match="cuModuleGetFunction failed for kernel 'saxpz': CUDA_ERROR_NOT_FOUND"
    ):
        module.function("saxpz")


@pytest.mark.gpu
def test_cubin_for_another_architecture_is_a_named_error(gpu):
    other = "sm_80" if gpu.compute_capability[0] != 8 else "sm_90"
    with pytest.raises(CudaError, match=r"cuModuleLoadData failed: .*loading 'saxpy.cu' on "):
        Module(compile_cuda(SAXPY, "saxpy.cu", arch=other), "saxpy.cu")


@pytest.mark.gpu
def test_sm_90a_kernel_runs_on_hopper(gpu):
    if gpu.compute_capability != (9, 0):
        pytest.skip(f"sm_90a needs a Hopper GPU, this is {gpu.arch}")
    grow = Module(compile_cuda(SETMAXNREG, "grow.cu", arch="sm_90a"), "grow.cu").function("grow")
    y = DeviceBuffer.empty((128,), np.float32)
    grow.launch(1, 128, [y])
    np.testing.assert_array_equal(y.to_numpy(), 1.0)


@pytest.mark.gpu
def test_cuda_array_interface_with_torch(gpu, saxpy):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("this torch has no CUDA")
    host = random(1024, 5)
    ours = DeviceBuffer.from_numpy(host)
    theirs = torch.as_tensor(ours, device="cuda")  # no copy: the same memory
    assert theirs.data_ptr() == ours.ptr
    np.testing.assert_array_equal(theirs.cpu().numpy(), host)

    t = torch.ones(1024, device="cuda")
    wrapped = DeviceBuffer.wrap(t)
    assert wrapped.ptr == t.data_ptr() and wrapped.shape == (1024,)
    torch.cuda.synchronize()
    saxpy.launch(4, 256, [ours, t, t, np.float32(2.0), 1024])  # tensors pass as pointers
    np.testing.assert_allclose(wrapped.to_numpy(), 2.0 * host + 1.0, rtol=1e-6)


# -- the copy-bandwidth benchmark --------------------------------------------------------


def load_benchmark():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "copy_bandwidth.py"
    spec = importlib.util.spec_from_file_location("copy_bandwidth", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("copy_bandwidth", module)
    spec.loader.exec_module(module)
    return module


def test_copy_kernel_moves_16_bytes_per_access(cache):
    bench = load_benchmark()
    source = "".join(bench.KERNEL.format(block=bench.BLOCK, unroll=unroll) for unroll in bench.UNROLLS)
    ptx = compile_ptx(source, "copy16.cu", arch="sm_90")
    accesses = set(re.findall(r"(?:ld|st)\.global[.\w]*", ptx))
    assert accesses == {"ld.global.nc.v4.u32", "st.global.v4.u32"}
    for arch in ("sm_80", "sm_90"):
        compile_cuda(source, "copy16.cu", arch=arch)


@pytest.mark.gpu
def test_copy_bandwidth_benchmark_runs(gpu, tmp_path, capsys):
    out = tmp_path / "copy.json"
    assert (
        load_benchmark().main(["--sizes-mib", "64", "--repeats", "3", "--iters", "2", "--json", str(out)])
        == 0
    )
    report = json.loads(out.read_text())
    assert report["device"] == gpu.name
    assert len(report["results"]) == 5  # cuMemcpyDtoD and four kernel variants
    assert all(result["gbps"] > 0 for result in report["results"])
    assert "copy ceiling:" in capsys.readouterr().out
