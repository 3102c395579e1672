"""Passes, one folder per level (`graph/`, `fusion/`, `quant/`, `lowering/`, `memory/`,
`codegen/`), one file per pass, all registered in `passes.registry`."""
