"""Issue 14, part 4 (found by the "Daily Weather Digest" example): a workflow output such as
``{{ frame.temp_max.max() }}`` is a ``numpy.float64``, a *subclass* of ``float``, which
``runtime.to_jsonable`` passed through unchanged; the outputs op then stored it as
``MetadataValue.float(numpy.float64)``, which Dagster cannot serialize, and the run failed at
``workflow_outputs`` with ``SerializationError: Unhandled value type <class 'numpy.float64'>``.
``to_jsonable`` must return only built-in types, whatever subclass or numpy type it is given."""

from __future__ import annotations

import enum
import json

import numpy as np
import pandas as pd
import pytest

from yaml2dag.compiler.op_io import metadata_value as _metadata_value
from yaml2dag.compiler.runtime import to_jsonable

BUILTIN = (type(None), bool, int, float, str, list, dict)


class Level(enum.IntEnum):
    LOW = 1


class Ratio(float):
    pass


def _only_builtins(value) -> None:
    """Every value inside ``value`` is exactly one of the JSON builtin types (no subclasses),
    except ``str`` subclasses, which Dagster stores as text."""
    if isinstance(value, str):
        return
    assert type(value) in BUILTIN, f"{value!r} is a {type(value).__module__}.{type(value).__name__}"
    if isinstance(value, list):
        for item in value:
            _only_builtins(item)
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            _only_builtins(item)


SCALARS = [np.float64(21.5), np.float32(1.25), np.float16(2.0), np.int64(7), np.int8(-3), np.uint16(9),
           np.bool_(True), np.str_("sun"), np.datetime64("2015-12-31"), Level.LOW, Ratio(0.5), 1.5, 3, True,
           np.float64("nan"), float("inf")]


@pytest.mark.parametrize("value", SCALARS, ids=lambda v: f"{type(v).__module__}.{type(v).__name__}")
def test_scalars_become_builtins(value):
    converted = to_jsonable(value)
    _only_builtins(converted)
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        assert converted is None
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        assert converted == value


@pytest.mark.parametrize("value", SCALARS, ids=lambda v: f"{type(v).__module__}.{type(v).__name__}")
def test_every_output_value_serializes_as_dagster_metadata(value):
    """What the outputs op stores for one output: Dagster serializes it (the failing step)."""
    from dagster._serdes import serialize_value

    converted = to_jsonable({"out": value})["out"]
    serialize_value(_metadata_value(converted))
    json.dumps(converted, allow_nan=False)


def test_nested_values_and_frame_cells_become_builtins():
    frame = pd.DataFrame({"year": [2012, 2013], "max_c": [34.4, 33.9]})
    value = {"max": frame.max_c.max(), "years": frame.year.tolist(), "frame": frame,
             "row": frame.iloc[0], "pair": (np.float64(1.0), Ratio(2.0)), "by_year": {np.int64(2012): np.float64(1.5)}}
    converted = to_jsonable(value)
    _only_builtins(converted)
    assert converted["max"] == 34.4 and converted["frame"] == [{"year": 2012, "max_c": 34.4}, {"year": 2013, "max_c": 33.9}]
    assert converted["by_year"] == {"2012": 1.5}
