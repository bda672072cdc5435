"""What an operator reads: log lines (JSON objects or text, ``LOG_FORMAT``) carrying the request id of the
request that wrote them, and the request id itself (accepted from the client when it is a sane token).

No Flask here: the api sets the request id at the start of each request (``api/observability.py``) and every
line logged while it runs carries it; the scheduler logs its sweeps through the same formatter.
"""
from __future__ import annotations

import json
import logging
import os
import random
import re
import sys
import threading
import time
from contextvars import ContextVar

import orjson

FORMATS = ("json", "text")
# A request id a client (or the proxy in front) may choose: a short token that is safe in a log line.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# The id of the request this thread is serving (None outside a request).
_REQUEST_ID: ContextVar[str | None] = ContextVar("linli_request_id", default=None)
# The attribute of a LogRecord holding the fields a line carries besides its message (``extra={FIELDS: {…}}``).
FIELDS = "fields"
_HANDLER_MARK = "_linli_handler"


def request_id_from(header: str | None) -> str:
    """The id of a request: the client's ``X-Request-ID`` when it is 1-64 characters of ``[A-Za-z0-9._-]``,
    else a new one (32 random hex digits)."""
    if header and _SANE_REQUEST_ID.fullmatch(header):
        return header
    # 128 random bits from the random module (reseeded in every forked process): an id needs to be unique,
    # not secret, and a system call per request would cost more than the rest of the id's handling.
    return f"{random.getrandbits(128):032x}"


def set_request_id(value: str | None) -> None:
    _REQUEST_ID.set(value)


def current_request_id() -> str | None:
    return _REQUEST_ID.get()


_second: tuple[int, str] = (0, "")  # the last second formatted and its text (formatting it costs more than a line)


def _utc(created: float) -> str:
    global _second
    seconds, cached = int(created), _second
    if cached[0] != seconds:
        cached = _second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{cached[1]}.{int((created - seconds) * 1000):03d}Z"


class LineRecord(logging.LogRecord):
    """A log record for a line written on every request (the access log): ``logging.LogRecord`` looks up,
    for each record, the names of the thread and the process and parses the file it was called from, which
    costs more than writing the line. This one takes the time and thread only, and holds every attribute a
    formatter or handler may name (``%(process)d``, ``%(filename)s``…) with a fixed value."""

    _PROCESS = None  # (pid, name), looked up once per process

    def __init__(self, name: str, level: int, msg: str, args: tuple, fields: dict, where: str = __file__):
        created = time.time()
        process = LineRecord._PROCESS
        if process is None or process[0] != os.getpid():  # a forked worker looks its own up
            process = LineRecord._PROCESS = (os.getpid(), "MainProcess")
        self.__dict__.update(
            name=name, msg=msg, args=args, levelname=logging.getLevelName(level), levelno=level,
            pathname=where, filename=os.path.basename(where), module=os.path.splitext(os.path.basename(where))[0],
            exc_info=None, exc_text=None, stack_info=None, lineno=0, funcName=None, taskName=None,
            created=created, msecs=int((created - int(created)) * 1000) + 0.0,
            relativeCreated=(created - logging._startTime) * 1000, thread=threading.get_ident(), threadName=None,
            process=process[0], processName=process[1])
        self.__dict__[FIELDS] = fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC), ``level``, ``logger``, ``message``, the request id of the
    request being served, the record's fields (``extra={"fields": {…}}``) and, for an exception, ``exc``
    (its traceback, in the one line)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": _utc(record.created), "level": record.levelname, "logger": record.name,
                "message": record.getMessage()}
        request_id = _REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        fields = getattr(record, FIELDS, None)
        if fields:
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        try:
            return orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # what orjson cannot write (an integer beyond 64 bits): the standard library can
            return json.dumps(line, ensure_ascii=False, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``2026-12-06 09:30:00,123 INFO linli.access GET /api/v1/me 200`` followed by the fields as
    ``key=value`` (the request id first)."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        pairs = []
        request_id = _REQUEST_ID.get()
        if request_id is not None:
            pairs.append(f"request_id={request_id}")
        fields = getattr(record, FIELDS, None)
        if fields:
            pairs.extend(f"{key}={value}" for key, value in fields.items())
        if not pairs:
            return text
        head, newline, tail = text.partition("\n")  # a traceback stays below the line
        return f"{head} {' '.join(pairs)}{newline}{tail}"


def formatter(fmt: str) -> logging.Formatter:
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure_logging(fmt: str, level: int = logging.INFO, stream=None) -> logging.Handler:
    """Log to ``stream`` (stderr) in ``fmt`` from the root logger; called again (another app in the same
    process), it replaces the handler it installed before instead of adding a second."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    return handler
