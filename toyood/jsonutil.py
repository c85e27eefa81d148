"""Strict JSON: every number a reader can parse (no NaN or Infinity)."""
from __future__ import annotations

import json
import math


def strict_json(obj):
    """``obj`` with every NaN or infinite float replaced by None (JSON has no such numbers)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    return obj


def dumps(obj, **kwargs) -> str:
    """``json.dumps`` of ``strict_json(obj)`` that refuses NaN/inf anywhere."""
    return json.dumps(strict_json(obj), allow_nan=False, **kwargs)
