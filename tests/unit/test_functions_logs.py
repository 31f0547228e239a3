"""Worker output as Lambda logs it: lines, the 4 KB tail, START/END/REPORT."""

from __future__ import annotations

from stageway.functions.logs import MAX_LINE_BYTES, TAIL_BYTES, LineSplitter, LogTail, report_line


def test_lines_split_across_reads() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"hel") == []
    assert splitter.feed(b"lo\nwor") == ["hello"]
    assert splitter.feed(b"ld\n\nlast") == ["world", ""]
    assert splitter.flush() == ["last"]
    assert splitter.flush() == []


def test_carriage_returns_join_a_multi_line_record() -> None:
    # Lambda's runtimes write an error and its traceback as one record, lines joined by "\r".
    splitter = LineSplitter()
    assert splitter.feed(b"[ERROR] ValueError: boom\rTraceback (most recent call last):\r  File x\r\n") == [
        "[ERROR] ValueError: boom\nTraceback (most recent call last):\n  File x"
    ]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert LineSplitter().feed(b"caf\xe9\n") == ["caf\ufffd"]


def test_overlong_line_is_cut() -> None:
    splitter = LineSplitter()
    pieces = splitter.feed(b"x" * (MAX_LINE_BYTES * 2 + 5))
    assert [len(piece) for piece in pieces] == [MAX_LINE_BYTES, MAX_LINE_BYTES]
    assert splitter.flush() == ["xxxxx"]


def test_tail_keeps_the_last_4_kb() -> None:
    tail = LogTail()
    for n in range(2000):
        tail.append(f"line {n:04d}")
    text = tail.text()
    assert len(text.encode()) <= TAIL_BYTES
    assert text.endswith("line 1999\n")
    assert "line 1700" in text
    assert "line 0000" not in text


def test_tail_cuts_by_bytes_not_characters() -> None:
    tail = LogTail()
    tail.append("☃" * 3000)  # 9000 bytes of UTF-8
    text = tail.text()
    assert len(text.encode()) <= TAIL_BYTES
    assert set(text.rstrip("\n")) == {"☃"}


def test_short_tail_is_whole() -> None:
    tail = LogTail()
    assert tail.text() == ""
    tail.append("START")
    tail.append("END")
    assert tail.text() == "START\nEND\n"


def test_report_line_fields() -> None:
    assert report_line(
        "abc", duration_ms=12.345, memory_mb=128, max_memory_used_mb=None, init_duration_ms=None, status=None,
        error_type=None,
    ) == "REPORT RequestId: abc\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB"
    assert report_line(
        "abc", duration_ms=3000.0, memory_mb=512, max_memory_used_mb=41, init_duration_ms=120.5, status="timeout",
        error_type=None,
    ) == (
        "REPORT RequestId: abc\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 512 MB\t"
        "Max Memory Used: 41 MB\tInit Duration: 120.50 ms\tStatus: timeout"
    )
    assert report_line(
        "abc", duration_ms=0.2, memory_mb=128, max_memory_used_mb=None, init_duration_ms=None, status="error",
        error_type="Runtime.ExitError",
    ).endswith("Billed Duration: 1 ms\tMemory Size: 128 MB\tStatus: error\tError Type: Runtime.ExitError")


def test_invocation_mark_is_read_from_the_end_of_a_line() -> None:
    from stageway.functions import bootstrap
    from stageway.functions.logs import INVOCATION_MARK, invocation_mark

    line = (bootstrap._INVOCATION_MARK % b"abc-123").decode()
    assert line == f"{INVOCATION_MARK}abc-123\x1e\n"  # the runtime and the gateway spell it alike
    assert invocation_mark(line[:-1]) == ("", "abc-123")
    assert invocation_mark(f"unterminated{line[:-1]}") == ("unterminated", "abc-123")
    assert invocation_mark("a plain line") is None
    assert invocation_mark("ends with a separator\x1e") is None
