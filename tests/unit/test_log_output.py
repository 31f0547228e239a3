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
