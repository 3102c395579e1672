"""CUDA generators for the matmul family (being written: no op of this family lowers yet)."""

from passes.codegen.generator import Generator

GENERATORS: dict[type, Generator] = {}
