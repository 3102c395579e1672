"""CUDA generators for pooling and the normalisation ops left on their own (being written:
no op of this family lowers yet)."""

from passes.codegen.generator import Generator

GENERATORS: dict[type, Generator] = {}
