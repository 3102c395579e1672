"""Named pipelines (`optc -p default`) and the levels `--compile-to` can stop at.

A pipeline is a plain pass list in xDSL's pipeline syntax. Levels beyond `graph` arrive
with their dialects (fused, quant, kernel); until then `--compile-to` names only those
that exist.
"""

PIPELINES: dict[str, str] = {
    # the whole compilation as far as optc goes today
    "default": "graph-dce",
}

LEVELS: dict[str, str] = {
    # level -> the pipeline that takes freshly imported IR to it
    "graph": "graph-dce",
}
PLANNED_LEVELS = ("fused", "quant", "kernel")
