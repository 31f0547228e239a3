"""The batching log handler: every record arrives, in order, written together rather than one by one."""

from __future__ import annotations

import io
import logging
import time

from stageway.server.log_output import LOG_FORMAT, BatchingStreamHandler, SecondCachingFormatter


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_records_are_written_in_order_and_in_batches() -> None:
    stream = CountingStream()
    handler = BatchingStreamHandler(stream, interval_s=0.05)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("stageway.test.batching")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for number in range(500):
            logger.info("line %d", number)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and stream.getvalue().count("\n") < 500:
            time.sleep(0.01)
        assert stream.getvalue().splitlines() == [f"line {number}" for number in range(500)]
        assert stream.writes < 50  # not one write per record
    finally:
        logger.removeHandler(handler)
        handler.close()


def test_close_writes_what_is_pending() -> None:
    stream = CountingStream()
    handler = BatchingStreamHandler(stream, interval_s=60)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.handle(logging.LogRecord("x", logging.INFO, __file__, 1, "last words", None, None))
    handler.close()
    assert stream.getvalue() == "last words\n"


def test_the_second_caching_formatter_writes_what_logging_writes() -> None:
    ours, theirs = SecondCachingFormatter(LOG_FORMAT), logging.Formatter(LOG_FORMAT)
    for created in (1767261600.0, 1767261600.0015, 1767261600.999, 1767261601.25, 1767261600.5, 1767265200.75):
        record = logging.LogRecord("stageway.x", logging.INFO, __file__, 1, "hello %s", ("there",), None)
        record.created = created
        record.msecs = (created - int(created)) * 1000
        assert ours.format(record) == theirs.format(record)


def test_an_info_line_without_a_record_is_the_line_logging_writes() -> None:
    import re

    stream = io.StringIO()
    handler = BatchingStreamHandler(stream, interval_s=60)
    handler.setFormatter(SecondCachingFormatter(LOG_FORMAT))
    logger = logging.getLogger("stageway.test.fastline")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("[%s %s] %s", "fn", "rid-1", "hello 100%")
        logger.info("[%s %s] %s", "fn", "rid-1", "and %s")
        assert handler.emit_info_lines("stageway.test.fastline", "[fn rid-1] ", ("hello 100%",))
        assert handler.emit_info_lines("stageway.test.fastline", "[fn rid-1] ", ("hello 100%", "and %s"))
        handler.flush()
    finally:
        logger.removeHandler(handler)
        handler.close()
    usual, usual_next, fast, *fast_two = stream.getvalue().splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "
    assert all(re.match(stamp, line) for line in (usual, usual_next, fast, *fast_two))
    assert usual[24:] == fast[24:] == "INFO stageway.test.fastline [fn rid-1] hello 100%"
    assert [line[24:] for line in fast_two] == [usual[24:], usual_next[24:]]
    assert fast_two[0][:23] == fast_two[1][:23]  # lines logged together share their time


def test_no_line_without_a_record_for_another_format_or_a_filter() -> None:
    handler = BatchingStreamHandler(io.StringIO(), interval_s=60)
    try:
        handler.setFormatter(logging.Formatter("%(message)s"))
        assert not handler.emit_info_lines("x", "", ("y",))
        handler.setFormatter(SecondCachingFormatter(LOG_FORMAT))
        handler.addFilter(lambda record: True)
        assert not handler.emit_info_lines("x", "", ("y",))
    finally:
        handler.close()


def test_the_runtime_writes_lines_directly_only_when_the_root_handler_is_the_only_one() -> None:
    from stageway.functions.worker import _only_handler_line_writer

    root = logging.getLogger()
    saved = root.handlers[:]
    handler = BatchingStreamHandler(io.StringIO(), interval_s=60)
    handler.setFormatter(SecondCachingFormatter(LOG_FORMAT))
    logger = logging.getLogger("stageway.function.fast-test")
    try:
        root.handlers = [handler]
        assert _only_handler_line_writer(logger) == handler.emit_info_lines
        extra = logging.NullHandler()
        logger.addHandler(extra)  # e.g. a test's log capture: records must reach it
        assert _only_handler_line_writer(logger) is None
        logger.removeHandler(extra)
        root.handlers = [handler, extra]
        assert _only_handler_line_writer(logger) is None
        root.handlers = [logging.StreamHandler(io.StringIO())]
        assert _only_handler_line_writer(logger) is None  # a handler without the direct path
    finally:
        root.handlers = saved
        handler.close()
