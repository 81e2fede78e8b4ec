"""The import shim lives in :mod:`legacy_ref.shim`; kept here for the tests' imports."""

from legacy_ref.shim import load_legacy_program, load_program_source

__all__ = ["load_legacy_program", "load_program_source"]
