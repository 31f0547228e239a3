"""Deployment packages built in memory, for Lambda's CreateFunction / UpdateFunctionCode in tests.

    handler_zip("def handler(event, context):\\n    return event\\n")   # app.py with app.handler
    zip_of({"pkg/__init__.py": "", "pkg/mod.py": "..."})
    zip_of({"../escape.txt": "x"})                                      # a hostile package
"""

from __future__ import annotations

import io
import stat
import textwrap
import zipfile
from collections.abc import Mapping


def zip_of(files: Mapping[str, str | bytes], *, symlinks: Mapping[str, str] | None = None) -> bytes:
    """A zip with these entries, names written exactly as given (so `../x` and `/x` stay hostile)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def handler_zip(source: str, *, module: str = "app", extra: Mapping[str, str | bytes] | None = None) -> bytes:
    """A package whose `module.py` is `source` (dedented)."""
    return zip_of({f"{module}.py": textwrap.dedent(source), **(extra or {})})


ECHO = """
import json, os

def handler(event, context):
    print("event:", json.dumps(event))
    return {"event": event, "version": "v1", "env": os.environ.get("GREETING"),
            "function": context.function_name, "memory": context.memory_limit_in_mb,
            "remaining_ms": context.get_remaining_time_in_millis()}
"""
"""A function that returns its event and a few facts about its configuration."""
