"""Result comparison against the reference engine (DuckDB).

Rows are compared as multisets: both results are sorted, so row order does not matter (an
ORDER BY is not checked). Values are normalised first:
  - numbers (int, float, Decimal) compare as numbers: integers exactly, anything with a
    fraction within a relative tolerance of 1e-6 or an absolute one of 0.005 (results
    rounded to two decimals agree), since engines differ in decimal scale and float sums;
  - dates and datetimes as ISO strings; bytes as UTF-8; strings without trailing spaces
    (CHAR padding);
  - NULL only equals NULL.
"""

from __future__ import annotations

import datetime
import decimal
import math

REL_TOL = 1e-6
ABS_TOL = 0.005


def normalise_value(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, decimal.Decimal):
        if value == value.to_integral_value() and value.as_tuple().exponent >= 0:
            return int(value)
        return float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value.rstrip(" ")
    return str(value)


def _sort_key(value):
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, round(float(value), 2))
    return (2, value)


def normalise(rows) -> list[tuple]:
    rows = [tuple(normalise_value(v) for v in row) for row in rows]
    rows.sort(key=lambda row: tuple(_sort_key(v) for v in row))
    return rows


def values_equal(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a_number = isinstance(a, (int, float))
    b_number = isinstance(b, (int, float))
    if a_number and b_number:
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if a_number or b_number:
        # A number sent as text (MySQL's text protocol may do that for some types).
        try:
            return values_equal(float(a), float(b))
        except (TypeError, ValueError):
            return False
    return a == b


def rows_equal(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))


def diff(expected, actual, expected_name="duckdb", actual_name="engine", limit=10) -> str | None:
    """None when the results match; otherwise a readable description of the differences."""
    expected = normalise(expected)
    actual = normalise(actual)
    if len(expected) == len(actual) and all(rows_equal(e, a) for e, a in zip(expected, actual)):
        return None
    lines = [f"{expected_name}: {len(expected)} rows, {actual_name}: {len(actual)} rows"]
    if expected and actual and len(expected[0]) != len(actual[0]):
        lines.append(f"column count differs: {len(expected[0])} vs {len(actual[0])}")
    shown = 0
    for index in range(max(len(expected), len(actual))):
        e = expected[index] if index < len(expected) else None
        a = actual[index] if index < len(actual) else None
        if e is not None and a is not None and rows_equal(e, a):
            continue
        lines.append(f"  row {index} (sorted):")
        lines.append(f"    {expected_name:>10}: {e!r}")
        lines.append(f"    {actual_name:>10}: {a!r}")
        shown += 1
        if shown >= limit:
            lines.append("  ...")
            break
    return "\n".join(lines)
