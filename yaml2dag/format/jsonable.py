"""Step output values as JSON: what run storage metadata and ``yaml2dag run --format json`` hold.

Plain Python (no Dagster): pandas and numpy values are recognised by their module name, never
imported. Below the tools and the compiler, so both convert values the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def to_jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-compatible copy of a step output (DataFrames become lists of records).

    Used for run-storage metadata and ``yaml2dag run --format json``.
    """
    if depth > 20:
        return str(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    # int() and float(): subclasses such as numpy.float64 or an IntEnum are not storable as
    # Dagster metadata (`{{ frame.temp_max.max() }}` is a numpy.float64)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v, depth + 1) for v in value]
    module = type(value).__module__
    if module.startswith("pandas"):
        if hasattr(value, "to_dict") and hasattr(value, "columns"):
            return json.loads(value.to_json(orient="records", date_format="iso"))
        if hasattr(value, "to_dict"):
            return json.loads(value.to_json(date_format="iso"))
        if hasattr(value, "isoformat"):
            return value.isoformat()
    if module.startswith("numpy"):
        try:
            return to_jsonable(value.tolist(), depth + 1)
        except AttributeError:
            pass
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


__all__ = ["to_jsonable"]
