"""The message contents the cases send: the same data for every implementation."""

from __future__ import annotations

import base64
import random
from datetime import datetime, timezone
from typing import Any

MiB = 1 << 20
GiB = 1 << 30

EXECUTE_REQUEST = {
    "code": "import numpy as np\nprint(np.arange(10).sum())",
    "silent": False,
    "store_history": True,
    "user_expressions": {},
    "allow_stdin": True,
    "stop_on_error": True,
}
EXECUTE_REPLY = {
    "status": "ok",
    "execution_count": 12,
    "user_expressions": {},
    "payload": [],
}
REPLY_METADATA = {
    "started": datetime(2024, 5, 17, 9, 41, 7, 123456, tzinfo=timezone.utc),
    "dependencies_met": True,
    "engine": "0a5f0c8e-5b7c-4b1e-9d1a-3c2f6f1d2e4b",
    "status": "ok",
}
COMM_CONTENT = {"comm_id": "6f1d2e4b0a5f0c8e", "data": {"method": "update", "buffer_paths": [["x"]]}}


def display_data_content(size: int) -> dict[str, Any]:
    """A display_data content whose JSON is about ``size`` bytes: a base64 PNG, as plots send."""
    raw = random.Random(0).randbytes(size * 3 // 4)
    return {
        "data": {
            "image/png": base64.b64encode(raw).decode("ascii"),
            "text/plain": "<Figure size 640x480 with 1 Axes>",
        },
        "metadata": {"image/png": {"width": 640, "height": 480}},
        "transient": {},
    }
