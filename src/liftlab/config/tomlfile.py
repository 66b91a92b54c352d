"""Reading TOML files with errors that name the file and line.

`tomllib` reports the line of a syntax error only in its message, and nothing at all about
where a key sits once parsed; `KeyLocator` scans the text once so that later problems (a bad
weight, an unknown key) can still be pointed at `file:line`.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from liftlab.errors import ConfigError

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*)\s*=")
_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


class KeyLocator:
    """Maps a parsed TOML path such as `campaigns[1].arms[0].weight` to its line number.

    Handles `[table]`, `[[array.of.tables]]` and `key = value` lines, which is how liftlab's
    files are written. Paths it cannot place (keys inside inline tables) fall back to the
    nearest enclosing path that it can.
    """

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        counts: dict[str, int] = {}
        prefix = ""
        in_multiline = False
        for number, raw in enumerate(text.splitlines(), start=1):
            # Skip the bodies of multi-line strings: their lines are not keys.
            if raw.count('"""') % 2 == 1 or raw.count("'''") % 2 == 1:
                was_inside = in_multiline
                in_multiline = not in_multiline
                if was_inside:
                    continue
            elif in_multiline:
                continue
            header = _HEADER.match(raw)
            if header and not _ASSIGN.match(raw):
                prefix = self._enter(header.group(1) == "[[", header.group(2), counts)
                self.lines.setdefault(prefix, number)
                continue
            assign = _ASSIGN.match(raw)
            if assign:
                key = ".".join(part.strip() for part in assign.group(1).split("."))
                path = f"{prefix}.{key}" if prefix else key
                self.lines.setdefault(path, number)

    @staticmethod
    def _enter(is_array: bool, dotted: str, counts: dict[str, int]) -> str:
        """The indexed path of a header, counting array-of-tables entries per parent."""
        parts = [p.strip().strip('"') for p in dotted.split(".")]
        path = ""
        for depth, part in enumerate(parts):
            path = f"{path}.{part}" if path else part
            last = depth == len(parts) - 1
            if last and is_array:
                index = counts.get(path, -1) + 1
                counts[path] = index
                # A new parent entry restarts the numbering of its children.
                for child in [c for c in counts if c.startswith(f"{path}[{index - 1}].")]:
                    del counts[child]
                path = f"{path}[{index}]"
            elif path in counts:
                path = f"{path}[{counts[path]}]"
        return path

    def line(self, path: str) -> int | None:
        """Line of `path`, or of its nearest locatable ancestor; None when nothing matches."""
        candidate = path
        while candidate:
            if candidate in self.lines:
                return self.lines[candidate]
            cut = max(candidate.rfind("."), candidate.rfind("["))
            candidate = candidate[:cut] if cut > 0 else ""
        return None


def read_toml(path: str | Path) -> tuple[dict[str, Any], KeyLocator]:
    """Parse a TOML file; ConfigError (with the line) when it cannot be read or parsed."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror or exc}", file=file) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            file=file,
            line=line,
        ) from None
    if not text.strip():
        raise ConfigError("file is empty", file=file)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_LINE.search(message)
        line = int(found.group(1)) if found else None
        message = _TOML_LINE.sub("", message).strip()
        raise ConfigError(f"invalid TOML: {message}", file=file, line=line) from None
    return data, KeyLocator(text)
