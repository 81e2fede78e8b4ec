"""Errors of the weight porter; each names the file and the weight or layer."""

from __future__ import annotations


class PortError(Exception):
    """A port cannot go on. The message is one line for the user: it names the
    file, the weight or layer at fault, and what to do about it."""

    exit_code = 2

    def __init__(self, path: object, message: str) -> None:
        self.path = str(path)
        self.detail = message
        super().__init__(f"{self.path}: {message}")


class UnsafeSourceError(PortError):
    """The source file contains something a port never follows or executes
    (external links, external or virtual datasets, absurd shapes, code)."""
