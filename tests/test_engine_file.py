"""Engine files are checked before anything runs (no GPU): damaged files, old formats and
crafted headers, re-sealed with a valid checksum so that the schema check is what must
catch them, are each one EngineFileError naming the cause."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import struct

import pytest

from dialects.errors import OptcError
from runtime.engine import EngineFileError, read_engine, write_engine
from runtime.engine.file import FORMAT_VERSION, MAGIC, MAX_JSON_DEPTH, EngineImage
from runtime.engine.plan import PlanError
from tests.test_engine import TWO_RELUS, image_of


@pytest.fixture(scope="module")
def image():
    return image_of()  # one kernel: (input, weights) -> arena; one cubin for sm_90


@pytest.fixture
def path(tmp_path, image):
    write_engine(image, tmp_path / "m.engine")
    return tmp_path / "m.engine"


def split(path):
    """The header (as JSON) and the payload of an engine file."""
    data = path.read_bytes()
    (length,) = struct.unpack_from("<Q", data, 12)
    return json.loads(data[52 : 52 + length]), data[52 + length :]


def seal(path, header, payload, version: int = FORMAT_VERSION):
    """Write an engine file with a valid checksum, as someone crafting one would."""
    encoded = header if isinstance(header, bytes) else json.dumps(header).encode()
    covered = struct.pack("<IQ", version, len(encoded)) + encoded + payload
    path.write_bytes(MAGIC + covered[:12] + hashlib.sha256(covered).digest() + covered[12:])


def read_error(path) -> str:
    with pytest.raises(EngineFileError) as info:
        read_engine(path)
    message = str(info.value)
    assert "\n" not in message and isinstance(info.value, OptcError)
    return message


def crafted(path, edit) -> str:
    """The error of the file after `edit(header)` changed its header (and it was re-sealed)."""
    header, payload = split(path)
    edit(header)
    seal(path, json.dumps(header).encode().replace(b'"@RAW@"', getattr(edit, "raw", b'"@RAW@"')), payload)
    return read_error(path)


def test_round_trip_passes_the_checks(path, image):
    again = read_engine(path)
    assert (again.plan, again.images, again.weights) == (image.plan, image.images, image.weights)


def test_round_trip_keeps_each_kernels_tactic_and_tile(path, image):
    """The plan records the tactic #kernel.launch names, and its tile (format v3)."""
    (kernel,) = read_engine(path).plan.kernels
    assert (kernel.tactic, kernel.tile) == ("grid_stride", {"vector": 4}) == (image.plan.kernels[0].tactic, image.plan.kernels[0].tile)


def test_two_images_round_trip(tmp_path):
    image = image_of(TWO_RELUS)
    write_engine(image, tmp_path / "two.engine")
    assert read_engine(tmp_path / "two.engine").images == image.images


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def edit(header):
        node = header
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return edit


def _delete(*keys):
    def edit(header):
        node = header
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return edit


def _raw(*keys_and_text):
    """Set a field to JSON text that Python's json module would not write (or read back)."""
    *keys, text = keys_and_text
    edit = _set(*keys, "@RAW@")
    edit.raw = text.encode()
    return edit


CRAFTED = {
    # the examples
    "offset-2^40": (_set("plan", "launches", 0, "args", 1, "offset", 2**40),
                    r"plan.launches\[0\].args\[1\] of 'k0_fused_elementwise' \(float32 \[5\]\) needs bytes 1099511627776..1099511627796 of the weights region, which has 20"),
    "offset-negative": (_set("plan", "launches", 0, "args", 0, "offset", -4096), r"plan.launches\[0\].args\[0\].offset is -4096, outside 0..1099511627776"),
    "image-999": (_set("plan", "kernels", 0, "image", 999), r"plan.kernels\[0\] 'k0_fused_elementwise' is in image 999, but the file has 1 image"),
    "region-negative": (_set("plan", "region_bytes", "arena", -256), r"plan.region_bytes.arena is -256, outside 0.."),
    "blob-overlap": (_set("blobs", 1, "offset", 0), r"blobs\[1\] spans 0..20; it must start at \d+, where the previous blob ends"),
    "blob-past-end": (_set("blobs", 1, "size", 10**6), r"the blobs end at byte \d+ of a \d+-byte payload"),
    "blob-not-ints": (_set("blobs", 0, "size", "8"), r"blobs\[0\] must be an object of two integers, offset and size"),
    "blobs-empty": (_set("blobs", []), "the blob table is empty"),
    "arch-other": (lambda h: (h.update(arch="sm_80"), h["plan"].update(arch="sm_80")), "image 0 is a cubin for sm_90, but the engine's arch is sm_80"),
    "arch-header-only": (_set("arch", "sm_100"), "the header's arch 'sm_100' is not the plan's 'sm_90'"),
    "arch-garbage": (lambda h: (h.update(arch="gfx90a"), h["plan"].update(arch="gfx90a")), "plan.arch 'gfx90a' is not a GPU architecture"),
    # slots against regions and tensors
    "output-past-arena": (_set("plan", "outputs", 0, "slot", "offset", 250), r"plan.outputs\[0\] 'output0' needs bytes 250..310 of the arena region, which has 256"),
    "input-in-weights": (_set("plan", "inputs", 0, "slot", "region", "weights"), r"plan.inputs\[0\] 'input0' needs bytes 0..60 of the weights region, which has 20"),
    "region-unknown": (_set("plan", "launches", 0, "args", 2, "region", "host"), r"plan.launches\[0\].args\[2\].region 'host' is not a region"),
    "param-bigger": (_set("plan", "kernels", 0, "params", 1, "shape", [6]), r"args\[1\] of 'k0_fused_elementwise' \(float32 \[6\]\) needs bytes 0..24 of the weights region, which has 20"),
    "args-missing": (lambda h: h["plan"]["launches"][0]["args"].pop(), "plan.launches\\[0\\] passes 2 pointer\\(s\\) to 'k0_fused_elementwise', which takes 3"),
    "launch-unknown": (_set("plan", "launches", 0, "kernel", "k9"), r"plan.launches\[0\] launches 'k9', which is not one of the plan's kernels"),
    "weights-size": (_set("plan", "region_bytes", "weights", 24), "plan.region_bytes.weights is 24, but the file holds 20 bytes of weights"),
    "dtype-object": (_set("plan", "inputs", 0, "dtype", "object"), r"plan.inputs\[0\].dtype 'object' is not an element type"),
    "duplicate-input": (lambda h: h["plan"]["inputs"].append(h["plan"]["inputs"][0]), "plan.inputs has 'input0' twice"),
    "block-too-big": (_set("plan", "kernels", 0, "block", [1024, 2, 1]), r"plan.kernels\[0\].block \[1024, 2, 1\] has more than 1024 threads"),
    "grid-zero": (_set("plan", "kernels", 0, "grid", [0, 1, 1]), r"plan.kernels\[0\].grid\[0\] is 0, outside 1..2147483647"),
    "entry-not-c": (_set("plan", "kernels", 0, "entry", "x); system(1"), r"plan.kernels\[0\].entry 'x\); system\(1' is not a C identifier"),
    "buffer-lifetime": (_set("plan", "buffers", 0, "last", 7), r"plan.buffers\[0\] 'k0_fused_elementwise' lives from launch 0 to 7 of 1"),
    # missing keys, wrong types, nesting, huge numbers
    "no-plan": (_delete("plan"), "the header has no 'plan'"),
    "no-kernels": (_delete("plan", "kernels"), "plan has no 'kernels'"),
    "no-grid": (_delete("plan", "kernels", 0, "grid"), r"plan.kernels\[0\] has no 'grid'"),
    "no-params": (_delete("plan", "kernels", 0, "params"), r"plan.kernels\[0\] has no 'params'"),
    "plan-list": (_set("plan", []), "the header's 'plan' must be dict, got list"),
    "grid-string": (_set("plan", "kernels", 0, "grid", "1,1,1"), r"plan.kernels\[0\].grid must be a list, got a string"),
    "grid-short": (_set("plan", "kernels", 0, "grid", [1, 1]), r"plan.kernels\[0\].grid must have 3 entries, got 2"),
    "offset-float": (_set("plan", "launches", 0, "args", 0, "offset", 0.0), r"plan.launches\[0\].args\[0\].offset must be an integer, got the number 0.0"),
    "shape-bool": (_set("plan", "inputs", 0, "shape", [True, 5]), r"plan.inputs\[0\].shape\[0\] must be an integer, got a boolean"),
    "slot-null": (_set("plan", "outputs", 0, "slot", None), r"plan.outputs\[0\].slot must be an object, got null"),
    "kernel-name-int": (_set("plan", "kernels", 0, "name", 7), r"plan.kernels\[0\].name must be a string, got the number 7"),
    "version-in-header": (_set("format_version", 3), "the header says format v3, the file's prefix v4"),
    # the tactic and its tile
    "no-tactic": (_delete("plan", "kernels", 0, "tactic"), r"plan.kernels\[0\] has no 'tactic'"),
    "no-tile": (_delete("plan", "kernels", 0, "tile"), r"plan.kernels\[0\] has no 'tile'"),
    "tactic-int": (_set("plan", "kernels", 0, "tactic", 3), r"plan.kernels\[0\].tactic must be a string, got the number 3"),
    "tactic-name": (_set("plan", "kernels", 0, "tactic", "Grid Stride"), r"plan.kernels\[0\] 'k0_fused_elementwise' has tactic 'Grid Stride', not a lower-case identifier"),
    "tile-list": (_set("plan", "kernels", 0, "tile", [4]), r"plan.kernels\[0\].tile must be an object, got a list"),
    "tile-negative": (_set("plan", "kernels", 0, "tile", {"vector": -1}), r"plan.kernels\[0\].tile.vector is -1, outside 0..2147483647"),
    "tile-bool": (_set("plan", "kernels", 0, "tile", {"vector": True}), r"plan.kernels\[0\].tile.vector must be an integer, got a boolean"),
    "tile-key": (_set("plan", "kernels", 0, "tile", {"x); y": 1}), r"plan.kernels\[0\] 'k0_fused_elementwise' has tile parameter 'x\); y', not a C identifier"),
    "deep-nesting": (_raw("plan", "memory", "[" * 100_000 + "]" * 100_000), f"has a header nested 100002 deep, more than the limit of {MAX_JSON_DEPTH}"),
    "huge-int": (_set("plan", "launches", 0, "args", 0, "offset", 10**30), r"offset is 1000000000000000000000000000000, outside"),
    "huge-digits": (_raw("plan", "region_bytes", "arena", "9" * 5000), "has a damaged header: Exceeds the limit"),
    "rank-huge": (_set("plan", "inputs", 0, "shape", [1] * 17), r"plan.inputs\[0\].shape has rank 17, more than 16"),
    "elements-huge": (_set("plan", "inputs", 0, "shape", [2**30, 2**30]), r"plan.inputs\[0\].shape \[1073741824, 1073741824\] has more than"),
    "nan": (_set("plan", "memory", "bytes", float("nan")), "has a damaged header: NaN is not a number the engine format allows"),
}


@pytest.mark.parametrize(("edit", "message"), CRAFTED.values(), ids=CRAFTED.keys())
def test_crafted_header_is_refused(path, edit, message):
    error = crafted(path, edit)
    assert re.search(message, error), error


def test_kernel_in_image_that_is_not_a_cubin(tmp_path, image):
    write_engine(EngineImage(image.plan, (b"\x7fELF" + bytes(100),), image.weights), tmp_path / "m.engine")
    assert "image 0 is not a CUDA cubin" in read_error(tmp_path / "m.engine")


def _flip(at):
    def damage(path):
        data = bytearray(path.read_bytes())
        data[at(len(data))] ^= 0x01
        path.write_bytes(bytes(data))

    return damage


DAMAGED = {
    "magic": (lambda p: p.write_bytes(b"PK\x03\x04 not an engine"), "is not an optc engine file"),
    "empty": (lambda p: p.write_bytes(b""), "is not an optc engine file"),
    "truncated-prefix": (lambda p: p.write_bytes(p.read_bytes()[:30]), "is truncated: 30 bytes"),
    "truncated-header": (lambda p: p.write_bytes(p.read_bytes()[:200]), r"is truncated: its header needs \d+ bytes, 148 follow"),
    "truncated-payload": (lambda p: p.write_bytes(p.read_bytes()[:-1]), "is damaged: its checksum does not match"),
    "payload-byte": (_flip(lambda n: n - 1), "is damaged: its checksum does not match"),
    "header-byte": (_flip(lambda n: 60), "is damaged: its checksum does not match"),
    "length-field": (_flip(lambda n: 14), "is truncated: its header needs"),
    "length-huge": (_flip(lambda n: 19), "declares a 72057594037\\d+-byte header, more than the limit of 1073741824"),
    "checksum-byte": (_flip(lambda n: 30), "is damaged: its checksum does not match"),
    "version-99": (_flip(lambda n: 8 + 1), "is engine format v260, this optc reads v4: rebuild the engine"),
    "missing": (lambda p: p.unlink(), "cannot read engine file"),
}


@pytest.mark.parametrize(("damage", "message"), DAMAGED.values(), ids=DAMAGED.keys())
def test_damaged_file_is_refused(path, damage, message):
    damage(path)
    assert re.search(message, read_error(path))


def test_version_1_file_says_rebuild(path):
    """Version 1 kept the checksum in the header, covering only the payload."""
    header, payload = split(path)
    header["sha256"] = hashlib.sha256(payload).hexdigest()
    encoded = json.dumps(header).encode()
    path.write_bytes(MAGIC + struct.pack("<IQ", 1, len(encoded)) + encoded + payload)
    assert read_error(path).endswith(f"is engine format v1, this optc reads v{FORMAT_VERSION}: rebuild the engine")


def test_version_2_file_says_rebuild(path):
    """Version 2 had no tactics: its plans cannot say what each kernel runs."""
    header, payload = split(path)
    for kernel in header["plan"]["kernels"]:
        del kernel["tactic"], kernel["tile"]
    header["format_version"] = 2
    seal(path, header, payload, version=2)
    assert read_error(path).endswith(f"is engine format v2, this optc reads v{FORMAT_VERSION}: rebuild the engine")


def test_version_3_file_says_rebuild(path):
    """Version 3 had no library kernels: its readers would run a cuBLASLt kernel's epilogue alone."""
    header, payload = split(path)
    header["format_version"] = 3
    seal(path, header, payload, version=3)
    assert read_error(path).endswith(f"is engine format v3, this optc reads v{FORMAT_VERSION}: rebuild the engine")


def test_header_that_is_not_json_or_an_object(path):
    _, payload = split(path)
    seal(path, b"\xff\xfe not utf-8", payload)
    assert "has a damaged header" in read_error(path)
    seal(path, b"[1, 2]", payload)
    assert read_error(path).endswith("is not a valid engine: the header must be a JSON object")


def test_loader_checks_before_touching_the_device(image):
    """Engine() refuses an inconsistent image with PlanError before it asks for a GPU
    (without one, reaching the device would raise CudaUnavailable instead)."""
    from runtime.engine.engine import Engine

    bad = json.loads(json.dumps(image.plan.to_json()))
    bad["kernels"][0]["image"] = 3
    from runtime.engine.plan import EnginePlan

    with pytest.raises(PlanError, match=r"plan.kernels\[0\] 'k0_fused_elementwise' is in image 3"):
        Engine(EngineImage(EnginePlan.from_json(bad), image.images, image.weights))


def test_optc_run_reports_a_bad_engine_without_a_gpu(path, capsys):
    from compiler.optc_run import main

    crafted(path, _set("plan", "launches", 0, "args", 1, "offset", 2**40))
    assert main([str(path), "--device", "cuda"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("optc-run: error: ") and "is not a valid engine: plan.launches[0].args[1]" in err
    assert err.count("\n") == 1


# --- a seeded mini-fuzz over the header ----------------------------------------------------

ODD_VALUES = [None, True, -1, 0, 2**40, 2**64, 10**30, 1.5, "", "sm_90", "x" * 300, [], [0], {}, {"region": "arena"}]


def _paths(node, at=()):
    """Every (path, value) of a JSON tree."""
    yield at, node
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, (*at, key))


def _mutate(header, rng):
    paths = [p for p, _ in _paths(header) if p and p[0] != "ir"]
    at = rng.choice(paths)
    parent = header
    for key in at[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and rng.random() < 0.25:
        del parent[at[-1]]
    else:
        parent[at[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))


def test_fuzzed_headers_are_read_or_refused_by_name(path):
    """200 seeded mutations of one or two header fields (re-sealed): each file reads, and
    then passed every check, or is refused with one line; never another exception."""
    original, payload = split(path)
    rng = random.Random(10)
    refused = 0
    for _ in range(200):
        header = copy.deepcopy(original)
        for _ in range(rng.choice((1, 2))):
            _mutate(header, rng)
        seal(path, header, payload)
        try:
            read_engine(path)
        except EngineFileError as error:
            assert "\n" not in str(error) and str(error).startswith(f"'{path}' ")
            refused += 1
    assert refused > 150  # most fields matter; the rest (ops, labels, memory stats) are free text or counts
