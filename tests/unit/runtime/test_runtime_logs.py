"""The runtime's JSON log lines carry what log platforms read."""

from __future__ import annotations

import logging

import orjson

from inferstack.runtime.logs import JsonFormatter


def _line(level: int, msg: str, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("inferstack.runtime", level, __file__, 1, msg, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    data: dict[str, object] = orjson.loads(JsonFormatter().format(record))
    return data


def test_severity_names_the_level_as_cloud_logging_reads_it() -> None:
    for level, name in [(logging.INFO, "INFO"), (logging.WARNING, "WARNING"), (40, "ERROR")]:
        line = _line(level, "hello")
        assert line["severity"] == name
        assert line["level"] == name.lower()


def test_extra_fields_are_kept_and_the_message_is_formatted() -> None:
    line = _line(logging.INFO, "model loaded", model="churn", seconds=0.5)
    assert (line["msg"], line["model"], line["seconds"]) == ("model loaded", "churn", 0.5)
    assert str(line["ts"]).endswith("Z")
