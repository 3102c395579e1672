"""The calibration cache (`--calibration-cache FILE`): JSON, versioned.

    {"version": 1, "method": "entropy", "percentile": 99.99, "samples": 64,
     "model": "52 ops, inputs x tensor<1x3x224x224xf32>", "fingerprint": "9f0c...",
     "amax": {"input:x": 2.64, "3:graph.relu:0": 5.91, ...},
     "fallback": {"14:graph.conv:0": "relative error 0.083 > budget 0.05"}}

`fallback` lists the layers `--int8-fallback auto` left float, by their result's key (empty
without it). `amax` has one entry per value `quant-insert-qdq` quantizes, keyed as that pass keys values
(`passes.quant.insert_qdq.value_keys`), which also reads the file and checks its version and
fingerprint: the format has one definition of its keys, the pass's.
"""

from __future__ import annotations

import json
import os

from dialects.errors import OptcError
from passes.quant.insert_qdq import CACHE_VERSION


def write_cache(
    path: str, *, method: str, percentile: float, samples: int, model: str, fingerprint: str,
    amax: dict[str, float], fallback: dict[str, str],
) -> None:
    cache = {
        "version": CACHE_VERSION,
        "method": method,
        "percentile": percentile,
        "samples": samples,
        "model": model,
        "fingerprint": fingerprint,
        "amax": amax,
        "fallback": fallback,
    }
    try:
        with open(path, "w") as f:
            json.dump(cache, f, indent=1, sort_keys=False)
            f.write("\n")
    except OSError as e:
        raise OptcError(f"calibration cache '{path}' cannot be written: {e.strerror}") from None


def exists(path: str | None) -> bool:
    return path is not None and os.path.isfile(path)
