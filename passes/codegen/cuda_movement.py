"""CUDA generators for the movement family (being written: no op of this family lowers yet)."""

from passes.codegen.generator import Generator

GENERATORS: dict[type, Generator] = {}
