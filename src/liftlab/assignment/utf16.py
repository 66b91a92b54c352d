"""UTF-16 code units of many strings at once, from UTF-8 bytes or code points, with numpy.

GrowthBook hashes the UTF-16 code units JavaScript's `charCodeAt` sees. Arrow (and pandas'
Arrow-backed `str` columns) hold the same strings as one contiguous UTF-8 buffer plus offsets;
this module turns such a buffer into code units without one Python object per string:

- a lead byte (anything but 10xxxxxx) starts a code point of 1 to 4 bytes, whose bits are
  gathered from the lead and its continuation bytes (RFC 3629, section 3);
- a code point above U+FFFF becomes two surrogates, 0xD800 + (c' >> 10) and 0xDC00 + (c' & 0x3FF)
  with c' = c - 0x10000 (RFC 2781, section 2.1).

Lone surrogates, which Python strings may hold and `encode("utf-8", "surrogatepass")` writes
as three-byte sequences, decode to themselves, as JavaScript keeps them.
"""

from __future__ import annotations

import numpy as np


def code_points_from_utf8(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Code points (uint32) of UTF-8 `data` and each string's offsets counted in code points.

    `offsets` (length n + 1) are byte offsets into `data` and must fall on code point starts.
    """
    padded = np.concatenate([data, np.zeros(3, dtype=np.uint8)])
    is_lead = (data & 0xC0) != 0x80
    starts = np.flatnonzero(is_lead)
    lead = data[starts].astype(np.uint32)
    tail1 = (padded[starts + 1] & 0x3F).astype(np.uint32)
    tail2 = (padded[starts + 2] & 0x3F).astype(np.uint32)
    tail3 = (padded[starts + 3] & 0x3F).astype(np.uint32)
    points = np.where(
        lead < 0x80,
        lead,
        np.where(
            lead < 0xE0,
            ((lead & 0x1F) << 6) | tail1,
            np.where(
                lead < 0xF0,
                ((lead & 0x0F) << 12) | (tail1 << 6) | tail2,
                ((lead & 0x07) << 18) | (tail1 << 12) | (tail2 << 6) | tail3,
            ),
        ),
    )
    # Leads before each byte position: a string's first code point is at that rank.
    leads_before = np.zeros(data.size + 1, dtype=np.int64)
    np.cumsum(is_lead, out=leads_before[1:])
    return points, leads_before[offsets]


def utf16_from_code_points(
    points: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """UTF-16 code units (uint16) of `points`, and the offsets recounted in code units."""
    astral = points > 0xFFFF
    if not astral.any():
        return points.astype(np.uint16), offsets
    width = 1 + astral.astype(np.int64)
    position = np.zeros(points.size + 1, dtype=np.int64)
    np.cumsum(width, out=position[1:])
    units = np.empty(int(position[-1]), dtype=np.uint16)
    above = points[astral] - 0x10000
    units[position[:-1]] = np.where(astral, 0, points)
    units[position[:-1][astral]] = 0xD800 + (above >> 10)
    units[position[:-1][astral] + 1] = 0xDC00 + (above & 0x3FF)
    return units, position[offsets]


def utf16_from_utf8(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTF-16 code units of UTF-8 `data` (uint8) with byte `offsets`, and their unit offsets."""
    points, point_offsets = code_points_from_utf8(data, offsets)
    return utf16_from_code_points(points, point_offsets)
