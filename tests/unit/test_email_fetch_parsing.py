"""What `email.fetch` makes of a message and of its `since` parameter, without an IMAP server:
the mapping of one raw message (the result a workflow author reads: `from`, `to`, `text`,
`attachments`, `date`...) for the less-common messages (HTML only, no body, an unknown charset,
a malformed Date, a long text, unnamed attachments), and every `since` form with the error
message of docs/manual/tools/email_en.md for a wrong one (not retried).
"""

from __future__ import annotations

import datetime as dt

import pytest

from yaml2dag.tools.base import ToolError
from yaml2dag.tools.email.parsing import TRUNCATED_MARK, parse_message
from yaml2dag.tools.email.since import imap_date, parse_since

RECEIVED = dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.timezone.utc)


def _raw(headers: str, body: str) -> bytes:
    return (headers.strip("\n").replace("\n", "\r\n") + "\r\n\r\n" + body.replace("\n", "\r\n")).encode("latin-1")


def test_html_only_message_gives_its_text_and_the_addresses_listed():
    raw = _raw("""
From: Ann <ann@example.test>
To: bob@example.test, "Carol C" <carol@example.test>
Cc: dan@example.test
Subject: =?utf-8?q?R=C3=A9sum=C3=A9?=   of
  the week
Message-ID: <m1@example.test>
Date: Sun, 01 Nov 2026 10:00:00 +0100
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
""", "<html><body><p>Hello <b>Bob</b></p><p>Second</p></body></html>")
    out = parse_message(raw, uid=7, received=RECEIVED, seen=True)
    assert out["uid"] == 7 and out["seen"] is True
    assert out["from"] == "Ann <ann@example.test>"
    assert out["to"] == ["bob@example.test", "Carol C <carol@example.test>"]
    assert out["cc"] == ["dan@example.test"]
    assert out["subject"] == "Résumé of the week"  # unfolded, spaces collapsed
    assert out["message_id"] == "<m1@example.test>"
    assert out["date"] == "2026-11-01T10:00:00+01:00"
    assert out["received"] == "2026-11-02T08:30:00+00:00"
    assert "<" not in out["text"] and "Hello" in out["text"] and "Bob" in out["text"] and "Second" in out["text"]
    assert out["attachments"] == []


def test_a_message_without_date_or_body_uses_the_arrival_time_and_empty_text():
    raw = _raw("""
From: a@example.test
Subject: only attachment
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=XX
""", """--XX
Content-Type: application/octet-stream
Content-Disposition: attachment

AAAA
--XX
Content-Type: application/pdf; name=report.pdf
Content-Disposition: attachment; filename=report.pdf

BBBB
--XX--
""")
    out = parse_message(raw, received=RECEIVED)
    assert out["date"] == RECEIVED.isoformat()
    assert out["text"] == ""
    assert out["attachments"] == ["(unnamed)", "report.pdf"]
    assert out["to"] == [] and out["cc"] == [] and out["message_id"] == ""
    assert out["uid"] is None and out["seen"] is False


def test_a_malformed_date_and_no_arrival_time_give_no_date():
    raw = _raw("""
From: a@example.test
Date: the day after tomorrow
Content-Type: text/plain
""", "hi")
    out = parse_message(raw)
    assert out["date"] is None and out["received"] is None
    assert out["text"] == "hi"


def test_an_unknown_charset_is_read_as_utf8_rather_than_failing():
    raw = ("From: a@example.test\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\ncaf\u00e9 ok\r\n").encode("utf-8")
    out = parse_message(raw)
    assert out["text"] == "caf\u00e9 ok"


def test_a_latin1_body_is_decoded_with_its_charset():
    raw = ("From: a@example.test\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\ncaf\u00e9\r\n").encode("latin-1")
    assert parse_message(raw)["text"] == "caf\u00e9"


def test_a_long_text_is_cut_at_max_text_chars_and_marked():
    raw = _raw("From: a@example.test\nContent-Type: text/plain", "x" * 50)
    out = parse_message(raw, max_text_chars=10)
    assert out["text"] == "x" * 10 + TRUNCATED_MARK
    assert parse_message(raw, max_text_chars=50)["text"] == "x" * 50


def test_plain_part_is_preferred_over_html_and_crlf_become_newlines():
    raw = _raw("""
From: a@example.test
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=B
""", """--B
Content-Type: text/html

<p>html version</p>
--B
Content-Type: text/plain

line one
line two
--B--
""")
    assert parse_message(raw)["text"] == "line one\nline two"


# --------------------------------------------------------------------------- since

NOW = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("value, day, moment", [
    ("today", dt.date(2026, 11, 10), None),
    (" Yesterday ", dt.date(2026, 11, 9), None),
    ("2026-11-01", dt.date(2026, 11, 1), None),
    ("2026-11-05T06:00:00Z", dt.date(2026, 11, 4), dt.datetime(2026, 11, 5, 6, tzinfo=dt.timezone.utc)),
    ("2026-11-05 06:00", dt.date(2026, 11, 4), dt.datetime(2026, 11, 5, 6, tzinfo=dt.timezone.utc)),
    # 01:00 at +02:00 is still 4 November in UTC: the search starts a day before that
    ("2026-11-05T01:00:00+02:00", dt.date(2026, 11, 3),
     dt.datetime(2026, 11, 5, 1, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
    ("2 days ago", dt.date(2026, 11, 7), NOW - dt.timedelta(days=2)),
    ("1.5 Hours ago", dt.date(2026, 11, 9), NOW - dt.timedelta(hours=1.5)),
    ("1 week ago", dt.date(2026, 11, 2), NOW - dt.timedelta(weeks=1)),
    ("36h", dt.date(2026, 11, 8), NOW - dt.timedelta(hours=36)),
    ("PT12H", dt.date(2026, 11, 9), NOW - dt.timedelta(hours=12)),
    (3600, dt.date(2026, 11, 9), NOW - dt.timedelta(hours=1)),
])
def test_since_forms(value, day, moment):
    assert parse_since(value, now=NOW) == (day, moment)


@pytest.mark.parametrize("value, message", [
    ("2026-02-30", "since: '2026-02-30' is not a valid date"),
    ("2026-11-05T25:00", "since: '2026-11-05T25:00' is not a valid date-time"),
    ("last tuesday", "since: expected a date (\"2026-11-01\"), a date-time, \"today\", \"yesterday\" or an age "
                     "(\"2 days ago\", \"36h\"), got 'last tuesday'"),
    (True, "since: expected a date (\"2026-11-01\"), a date-time, \"today\", \"yesterday\" or an age "
           "(\"2 days ago\", \"36h\"), got 'True'"),
])
def test_since_that_is_no_date_or_age_is_refused_and_not_retried(value, message):
    with pytest.raises(ToolError) as info:
        parse_since(value, now=NOW)
    assert info.value.message == message
    assert info.value.retryable is False


def test_imap_date_uses_english_months_whatever_the_locale():
    assert imap_date(dt.date(2026, 3, 7)) == "07-Mar-2026"
    assert imap_date(dt.date(2026, 12, 31)) == "31-Dec-2026"
