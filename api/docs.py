"""OpenAPI helpers: documented error responses with examples on every operation."""
from __future__ import annotations

import http


def errors(blp, *statuses: int):
    """Document error responses for a view; each refers to a shared response
    component that carries the envelope schema and an example."""

    def decorator(fn):
        for status in sorted(statuses, reverse=True):
            fn = blp.alt_response(status, response=http.HTTPStatus(status).name)(fn)
        return fn

    return decorator
