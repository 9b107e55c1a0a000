"""JSON embedded in a self-contained HTML page: the one escape every perflab page uses.

The run report, the capacity report and the flame graphs all inline their data in a
``<script>`` element; names come from users (URLs, function names), so ``</script>`` or
``<!--`` inside them must not end or comment out the element.
"""

from __future__ import annotations

import json
import math
from typing import Any

from markupsafe import Markup

__all__ = ["finite", "script_json"]


def finite(value: Any) -> Any:
    """NaN and infinities become null: JSON.parse rejects them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if value and all(type(v) is float for v in value):
            return [v if math.isfinite(v) else None for v in value]
        return [finite(v) for v in value]
    return value


def script_json(value: Any) -> Markup:
    """JSON that is safe inside an HTML ``<script>`` element (non-finite numbers as null)."""
    text = json.dumps(finite(value), separators=(",", ":"), allow_nan=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
