"""The `mlqa-debug` command."""

from mlqa_debug.cli.main import main

__all__ = ["main"]
