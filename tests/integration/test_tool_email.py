"""The `email` tool end to end: real Dagster runs against a real Dovecot IMAP server and a real
aiosmtpd SMTP server, all on 127.0.0.1.

Dovecot (Debian's `dovecot-imapd` + `dovecot-lmtpd`) is started per test with its own
configuration in a temporary folder: a passwd-file user, Maildir storage, IMAP (with STARTTLS
when `openssl` can make a certificate) and LMTP on free ports. Messages reach it over LMTP, like
a mail server delivers them (and one with an old arrival date over IMAP APPEND). When the
packages are missing the fixture tries `apt-get install` (root only, bounded by a timeout) and
skips the IMAP tests with the reason if that fails; `.ci/run` installs them up front.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from local_servers import everything_stored, free_port, make_cert, silent_port, start_smtp
from waiting import WaitTimeout, wait_until
from yaml2dag.format.validation import validate_text

pytestmark = pytest.mark.slow

USER = "alice"
PASSWORD = "imap-Pw-7c1e-never-logged"
#: Bound for starting Dovecot and for each delivery (seconds).
START_TIMEOUT = 20
#: Bound for installing the Debian packages (seconds).
APT_TIMEOUT = 300
PACKAGES = ["dovecot-imapd", "dovecot-lmtpd"]


# --------------------------------------------------------------------------- helpers


def message(sender: str, subject: str, text: str | None = None, html: str | None = None,
            date: dt.datetime | None = None, attachment: tuple[str, bytes] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = f"Alice <{USER}@example.test>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = make_msgid(domain="example.test")
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    if attachment is not None:
        msg.add_attachment(attachment[1], maintype="text", subtype="csv", filename=attachment[0])
    return msg.as_bytes(policy=email_policy.SMTP)


_install_attempt: dict[str, str | None] = {}


def _dovecot_binaries() -> tuple[str | None, bool]:
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    lmtp = os.path.exists("/usr/lib/dovecot/lmtp") and os.path.exists("/usr/lib/dovecot/imap")
    return binary, lmtp


def ensure_dovecot() -> str:
    """The dovecot binary; installs the packages once if missing, else skips with the reason."""
    binary, lmtp = _dovecot_binaries()
    if binary and lmtp:
        return binary
    if "reason" not in _install_attempt:
        _install_attempt["reason"] = _install()
    binary, lmtp = _dovecot_binaries()
    if binary and lmtp:
        return binary
    reason = f"Dovecot is not available ({_install_attempt['reason']}); install it with: " \
             f"apt-get install -y {' '.join(PACKAGES)}"
    print(f"SKIP IMAP tests: {reason}", file=sys.__stderr__)
    pytest.skip(reason)


def _install() -> str | None:
    if shutil.which("apt-get") is None:
        return "apt-get is not available"
    if os.geteuid() != 0:
        return "not root, cannot apt-get install"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    last = ""
    for attempt in (install, ["apt-get", "update", "-q"], install):
        try:
            done = subprocess.run(attempt, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(attempt)}` did not finish within {APT_TIMEOUT}s"
        if done.returncode == 0 and attempt is install:
            return None
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        last = last[0]
    return f"apt-get install failed: {last}"


class Dovecot:
    """One Dovecot instance with its own config, users, mail and ports; stopped by :meth:`stop`."""

    def __init__(self, binary: str, with_tls: bool = True):
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="y2d-dovecot-"))
        os.chmod(self.root, 0o755)
        self.imap_port, self.lmtp_port = free_port(), free_port()
        self.proc: subprocess.Popen | None = None
        self.cert = make_cert(self.root) if with_tls else None
        if os.geteuid() == 0:
            uid = gid = 65534  # nobody: Dovecot refuses to store mail as root
            users = ""
        else:
            uid, gid = os.getuid(), os.getgid()
            me = pwd.getpwuid(uid).pw_name
            users = f"default_login_user = {me}\ndefault_internal_user = {me}\n"
        mail = self.root / "mail"
        mail.mkdir()
        os.chown(mail, uid, gid)
        os.chmod(mail, 0o700)
        (self.root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{mail}/{USER}::\n")
        tls = "ssl = no\n"
        if self.cert:
            dh = "/usr/share/dovecot/dh.pem"
            tls = (f"ssl = yes\nssl_cert = <{self.cert[0]}\nssl_key = <{self.cert[1]}\n"
                   + (f"ssl_dh = <{dh}\n" if os.path.exists(dh) else ""))
        self.log = self.root / "dovecot.log"
        self.config = self.root / "dovecot.conf"
        self.config.write_text(f"""
protocols = imap lmtp
listen = 127.0.0.1
base_dir = {self.root}/run
state_dir = {self.root}/state
instance_name = yaml2dag-test-{self.imap_port}
log_path = {self.log}
{users}{tls}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
auth_failure_delay = 0
mail_location = maildir:~/Maildir
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.root}/users
}}
userdb {{
  driver = passwd-file
  args = {self.root}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
protocol lmtp {{
  postmaster_address = postmaster@example.test
}}
""")

    def start(self) -> None:
        out = open(self.root / "stdout.txt", "wb")
        self.proc = subprocess.Popen([self.binary, "-F", "-c", str(self.config)], stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        waiting = {self.imap_port, self.lmtp_port}

        def listening() -> bool:
            for port in list(waiting):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    waiting.discard(port)
                except OSError:
                    pass
            return not waiting

        try:
            wait_until(listening, START_TIMEOUT, 0.05, "Dovecot to listen", process=self.proc)
        except WaitTimeout:
            pass
        if waiting:
            why = self.diagnostics()
            self.stop()
            reason = f"Dovecot did not start within {START_TIMEOUT}s: {why}"
            print(f"SKIP IMAP tests: {reason}", file=sys.__stderr__)
            pytest.skip(reason)

    def diagnostics(self) -> str:
        texts = []
        for name in ("stdout.txt", "dovecot.log"):
            path = self.root / name
            if path.exists():
                texts += path.read_text(errors="replace").strip().splitlines()[-5:]
        return " | ".join(texts) or "no output"

    def deliver(self, raw: bytes, sender: str = "sender@example.test") -> None:
        """Deliver one message to the test user over LMTP."""
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=START_TIMEOUT) as lmtp:
            refused = lmtp.sendmail(sender, [f"{USER}@example.test"], raw)
        assert not refused

    def append(self, raw: bytes, received: dt.datetime, folder: str = "INBOX") -> None:
        """Store a message with an arrival date (INTERNALDATE) over IMAP APPEND, creating
        ``folder`` (an IMAP-encoded name) if needed."""
        conn = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=START_TIMEOUT)
        try:
            conn.login(USER, PASSWORD)
            if folder != "INBOX":
                typ, data = conn.create(folder)
                assert typ == "OK", data
            typ, data = conn.append(folder, None, imaplib.Time2Internaldate(received.timestamp()), raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def flags(self) -> dict[int, str]:
        """UID → FLAGS of every message in INBOX, read directly over IMAP."""
        conn = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=START_TIMEOUT)
        try:
            conn.login(USER, PASSWORD)
            conn.select("INBOX", readonly=True)
            typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS)")
            out = {}
            for line in data:
                if isinstance(line, bytes) and b"UID" in line:
                    text = line.decode()
                    uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
                    out[uid] = text.split("FLAGS (")[1].split(")")[0]
            return out
        finally:
            conn.logout()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.proc is not None:
            try:  # children of the master (log, auth, imap...) share its process group
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def dovecot():
    """A running Dovecot with user `alice` and an empty INBOX; killed (whole group) afterwards."""
    binary = ensure_dovecot()
    server = Dovecot(binary)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def three_messages(dovecot):
    """Three messages delivered over LMTP, oldest first: plain, non-ASCII, HTML-only."""
    dovecot.deliver(message("Carol Finance <carol@example.test>", "Quarterly numbers",
                            "Revenue is up 12%.\nSee you Monday.\n",
                            attachment=("numbers.csv", b"quarter,revenue\nQ3,112\n")))
    dovecot.deliver(message("bob@example.test", "Grüße aus Köln", "Schöne Grüße — bis bald!\n"))
    dovecot.deliver(message("Digest <digest@example.test>", "Weekly digest",
                            html="<html><head><style>p {color: red}</style></head><body><h1>Weekly digest</h1>"
                                 "<p>3 new &amp; 2 closed</p><script>track()</script></body></html>"))
    return dovecot


def fetch_yaml(dovecot, extra: str = "", name: str = "Fetch Mail") -> str:
    return f"""
        name: {name}
        steps:
          - id: inbox
            tool: email
            parameters:
              host: 127.0.0.1
              port: {dovecot.imap_port}
              username: {USER}
              password: "{{{{ env.IMAP_PASSWORD }}}}"
              {extra}
        outputs:
          messages: "{{{{ inbox.output }}}}"
          count: "{{{{ inbox.count }}}}"
    """


# --------------------------------------------------------------------------- fetch


def test_fetch_returns_delivered_messages_newest_first_without_marking_them(run_yaml, three_messages, monkeypatch):
    monkeypatch.setenv("IMAP_PASSWORD", PASSWORD)
    ran = run_yaml(fetch_yaml(three_messages))
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    assert out["count"] == 3
    messages = out["messages"]
    assert [m["subject"] for m in messages] == ["Weekly digest", "Grüße aus Köln", "Quarterly numbers"]
    assert [m["uid"] for m in messages] == [3, 2, 1]
    digest, koeln, numbers = messages
    assert numbers["from"] == "Carol Finance <carol@example.test>"
    assert numbers["to"] == [f"Alice <{USER}@example.test>"]
    assert numbers["text"] == "Revenue is up 12%.\nSee you Monday."
    assert numbers["attachments"] == ["numbers.csv"]
    assert koeln["attachments"] == [] and digest["attachments"] == []
    assert koeln["from"] == "bob@example.test"
    assert koeln["text"] == "Schöne Grüße — bis bald!"
    assert digest["text"] == "Weekly digest\n\n3 new & 2 closed", "HTML-only mail is converted to text"
    for m in messages:
        assert dt.datetime.fromisoformat(m["date"]).tzinfo is not None
        assert m["message_id"].startswith("<") and m["message_id"].endswith("@example.test>")
        assert m["seen"] is False
    assert PASSWORD not in everything_stored(ran)
    # reading did not set \Seen: the same messages are still unseen
    assert all("\\Seen" not in flags for flags in three_messages.flags().values())
    again = run_yaml(fetch_yaml(three_messages, "limit: 1\n              max_text_chars: 6"))
    assert again.result.status == "SUCCESS", again.result.error
    assert [m["subject"] for m in again.result.outputs["messages"]] == ["Weekly digest"]
    assert again.result.outputs["messages"][0]["text"] == "Weekly\n[… truncated]"


def test_unseen_only_and_mark_seen_across_runs(run_yaml, three_messages, monkeypatch):
    monkeypatch.setenv("IMAP_PASSWORD", PASSWORD)
    first = run_yaml(fetch_yaml(three_messages, "mark_seen: true\n              limit: 2"))
    assert first.result.status == "SUCCESS", first.result.error
    assert [m["uid"] for m in first.result.outputs["messages"]] == [3, 2]
    flags = three_messages.flags()
    assert "\\Seen" in flags[3] and "\\Seen" in flags[2] and "\\Seen" not in flags[1]

    second = run_yaml(fetch_yaml(three_messages, "mark_seen: true"))
    assert second.result.status == "SUCCESS", second.result.error
    assert [m["subject"] for m in second.result.outputs["messages"]] == ["Quarterly numbers"]

    third = run_yaml(fetch_yaml(three_messages))
    assert third.result.status == "SUCCESS", third.result.error
    assert third.result.outputs == {"messages": [], "count": 0}

    everything = run_yaml(fetch_yaml(three_messages, "unseen_only: false\n              order: oldest_first"))
    assert everything.result.status == "SUCCESS", everything.result.error
    assert [m["uid"] for m in everything.result.outputs["messages"]] == [1, 2, 3]
    assert all(m["seen"] for m in everything.result.outputs["messages"])


def test_since_filters_on_arrival_time(run_yaml, dovecot, monkeypatch):
    monkeypatch.setenv("IMAP_PASSWORD", PASSWORD)
    old = dt.datetime(2020, 1, 5, 9, 30, tzinfo=dt.timezone.utc)
    dovecot.append(message("old@example.test", "From the archive", "old news\n", date=old), received=old)
    dovecot.deliver(message("new@example.test", "Fresh", "new news\n"))

    def subjects(since: str, extra: str = "") -> list[str]:
        ran = run_yaml(fetch_yaml(dovecot, f'since: "{since}"' + extra))
        assert ran.result.status == "SUCCESS", ran.result.error
        return [m["subject"] for m in ran.result.outputs["messages"]]

    assert subjects("2021-01-01") == ["Fresh"]
    assert subjects("2 days ago") == ["Fresh"]
    assert subjects("36h") == ["Fresh"]
    assert subjects("2020-01-05T09:00:00Z", "\n              order: oldest_first") == ["From the archive", "Fresh"]
    assert subjects("2020-01-05T10:00:00+00:00") == ["Fresh"]
    ran = run_yaml(fetch_yaml(dovecot, 'since: "2019-12-31"'))
    old_msg = [m for m in ran.result.outputs["messages"] if m["subject"] == "From the archive"][0]
    assert old_msg["received"] == "2020-01-05T09:30:00+00:00"
    assert old_msg["date"] == "2020-01-05T09:30:00+00:00"


def test_wrong_password_is_a_clear_error_that_is_not_retried(run_yaml, dovecot, monkeypatch):
    monkeypatch.setenv("IMAP_PASSWORD", "not-" + PASSWORD)
    text = fetch_yaml(dovecot).replace("        outputs:", "            retry: {max_attempts: 3, delay: 0.1}\n"
                                                           "        outputs:")
    ran = run_yaml(text)
    assert ran.result.status == "FAILURE"
    assert (f"IMAP server 127.0.0.1:{dovecot.imap_port} refused login for user 'alice': "
            "[AUTHENTICATIONFAILED]") in ran.result.error
    assert "attempts" not in ran.result.error, "a refused login must fail at once"
    assert "not-" + PASSWORD not in everything_stored(ran)


def test_other_folder_with_a_non_ascii_name_and_missing_folder_error(run_yaml, dovecot, monkeypatch):
    monkeypatch.setenv("IMAP_PASSWORD", PASSWORD)
    now = dt.datetime.now(dt.timezone.utc)
    dovecot.append(message("me@example.test", "draft one", "half-written\n"), now, folder='"Entw&APw-rfe"')
    dovecot.deliver(message("x@example.test", "in the inbox", "elsewhere\n"))
    ran = run_yaml(fetch_yaml(dovecot, 'folder: "Entwürfe"'))
    assert ran.result.status == "SUCCESS", ran.result.error
    assert [m["subject"] for m in ran.result.outputs["messages"]] == ["draft one"]

    ran = run_yaml(fetch_yaml(dovecot, 'folder: "Archive 2020"'))
    assert ran.result.status == "FAILURE"
    assert ran.result.error == (f"cannot open folder 'Archive 2020' on the IMAP server 127.0.0.1:{dovecot.imap_port}: "
                                "Mailbox doesn't exist: Archive 2020; folders: INBOX, Entwürfe")


def test_starttls_with_env_defaults(run_yaml, three_messages, monkeypatch):
    if three_messages.cert is None:
        pytest.skip("no `openssl` command to make a certificate for Dovecot")
    monkeypatch.setenv("YAML2DAG_IMAP_HOST", "127.0.0.1")
    monkeypatch.setenv("YAML2DAG_IMAP_PORT", str(three_messages.imap_port))
    monkeypatch.setenv("YAML2DAG_IMAP_USER", USER)
    monkeypatch.setenv("YAML2DAG_IMAP_PASSWORD", PASSWORD)
    ran = run_yaml(f"""
        name: Fetch TLS
        steps:
          - id: inbox
            tool: email
            action: fetch
            parameters: {{starttls: true, ca_file: "{three_messages.cert[0]}", limit: 2}}
        outputs:
          count: "{{{{ inbox.count }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.outputs["count"] == 2
    assert PASSWORD not in everything_stored(ran)
    wait_until(lambda: "method=PLAIN" in three_messages.log.read_text(), 10, 0.1, "Dovecot to log the login")
    logins = [line for line in three_messages.log.read_text().splitlines() if "Login: user=<alice>" in line]
    assert logins and all(", TLS," in line for line in logins), logins

    # without the CA the certificate is refused, with a hint
    ran = run_yaml("""
        name: Fetch TLS Untrusted
        steps:
          - id: inbox
            tool: email
            parameters: {starttls: true}
    """)
    assert ran.result.status == "FAILURE"
    assert "TLS certificate of the IMAP server" in ran.result.error and "ca_file" in ran.result.error


def test_fetch_connection_refused_is_retryable(run_yaml):
    port = free_port()
    ran = run_yaml(f"""
        name: Fetch Refused
        steps:
          - id: inbox
            tool: email
            parameters: {{host: 127.0.0.1, port: {port}, username: u, password: p-secret-1}}
            retry: {{max_attempts: 2, delay: 0.1}}
    """)
    assert ran.result.status == "FAILURE"
    assert f"cannot connect to the IMAP server 127.0.0.1:{port}: connection refused" in ran.result.error
    assert "(2 attempts)" in ran.result.error


def test_fetch_from_a_server_that_never_answers_times_out(run_yaml):
    with silent_port() as port:  # connections are accepted by the kernel; no greeting ever comes
        ran = run_yaml(f"""
            name: Fetch Silent
            steps:
              - id: inbox
                tool: email
                parameters: {{host: 127.0.0.1, port: {port}, username: u, timeout: 1}}
        """)
    assert ran.result.status == "FAILURE"
    assert f"the IMAP server 127.0.0.1:{port} did not answer within 1s while connecting" in ran.result.error


# --------------------------------------------------------------------------- send


class Relay:
    """aiosmtpd handler: refuses `nobody@...` recipients, records and forwards the rest to LMTP."""

    def __init__(self, lmtp_port: int | None = None):
        self.lmtp_port = lmtp_port
        self.messages: list[dict] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                              "message": message_from_bytes(envelope.original_content, policy=email_policy.default)})
        if self.lmtp_port:
            with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=START_TIMEOUT) as lmtp:
                lmtp.sendmail(envelope.mail_from, envelope.rcpt_tos, envelope.original_content)
        return "250 OK delivered"


def test_send_then_fetch_round_trip_through_smtp_and_imap(run_yaml, dovecot, request, monkeypatch):
    relay = Relay(dovecot.lmtp_port)
    smtp_port = start_smtp(request, relay)
    monkeypatch.setenv("IMAP_PASSWORD", PASSWORD)
    ran = run_yaml(f"""
        name: Round Trip
        parameters:
          report: {{type: string, default: "nightly build"}}
        steps:
          - id: send
            tool: email
            action: send
            parameters:
              host: 127.0.0.1
              port: {smtp_port}
              from: "Robot <robot@example.test>"
              to: [{USER}@example.test]
              cc: "nobody@example.test"
              reply_to: ops@example.test
              subject: "{{{{ report }}}} passed"
              body: "All 42 checks passed."
          - id: fetch
            tool: email
            parameters:
              host: 127.0.0.1
              port: {dovecot.imap_port}
              username: {USER}
              password: "{{{{ env.IMAP_PASSWORD }}}}"
        outputs:
          sent_id: "{{{{ send.message_id }}}}"
          recipients: "{{{{ send.recipients }}}}"
          receipt: "{{{{ send.output }}}}"
          got: "{{{{ fetch.output }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    assert out["recipients"] == [f"{USER}@example.test"]
    assert out["receipt"]["refused"] == {"nobody@example.test": "550 5.1.1 no such user here"}
    assert len(out["got"]) == 1
    got = out["got"][0]
    assert got["message_id"] == out["sent_id"]
    assert got["subject"] == "nightly build passed"
    assert got["from"] == "Robot <robot@example.test>"
    assert got["cc"] == ["nobody@example.test"]
    assert got["text"] == "All 42 checks passed."
    assert relay.messages[0]["message"]["Reply-To"] == "ops@example.test"
    warnings = [m for m in ran.messages("send") if "refused recipient nobody@example.test" in m]
    assert warnings


def test_send_fails_when_every_recipient_is_refused(run_yaml, request):
    relay = Relay()
    port = start_smtp(request, relay)
    ran = run_yaml(f"""
        name: All Refused
        steps:
          - id: send
            tool: email
            action: send
            parameters: {{host: 127.0.0.1, port: {port}, from: a@example.test,
                          to: [nobody@example.test], subject: x}}
            retry: {{max_attempts: 3, delay: 0.1}}
    """)
    assert ran.result.status == "FAILURE"
    assert (f"SMTP server 127.0.0.1:{port} refused every recipient: nobody@example.test: "
            "550 5.1.1 no such user here") in ran.result.error
    assert "attempts" not in ran.result.error
    assert relay.messages == []


# --------------------------------------------------------------------------- validation


def test_validator_reports_bad_email_parameters_with_line_numbers():
    report = validate_text(
        "name: Bad Email\n"                                    # 1
        "steps:\n"                                             # 2
        "  - id: inbox\n"                                      # 3
        "    tool: email\n"                                    # 4
        "    parameters:\n"                                    # 5
        "      host: imap.example.test\n"                      # 6
        "      limit: 0\n"                                     # 7
        "      since: last tuesday\n"                          # 8
        "      unseen: true\n"                                 # 9
        "      folder: 5\n"                                    # 10
        "  - id: send\n"                                       # 11
        "    tool: email\n"                                    # 12
        "    action: send\n"                                   # 13
        "    parameters:\n"                                    # 14
        "      subject: hi\n"                                  # 15
        "      to: []\n"                                       # 16
        "      ssl: maybe\n"                                   # 17
        "  - id: bad\n"                                        # 18
        "    tool: email\n"                                    # 19
        "    action: recieve\n"                                # 20
        "  - id: ok\n"                                         # 21
        "    tool: email\n"                                    # 22
        "    parameters: {since: \"{{ env.SINCE }}\", limit: \"{{ env.N }}\"}\n"  # 23
    )
    assert not report.valid
    found = {(p.line, p.path): p.message for p in report.problems if p.is_error}
    assert "at least 1" in found[(7, "steps[0].parameters.limit")]
    assert "expected a date (\"2026-11-01\")" in found[(8, "steps[0].parameters.since")]
    assert "did you mean `unseen_only`" in found[(9, "steps[0].parameters.unseen")]
    assert "expected a string" in found[(10, "steps[0].parameters.folder")]
    assert "expected an email address" in found[(16, "steps[1].parameters.to")]
    assert "expected a boolean" in found[(17, "steps[1].parameters.ssl")] or \
        "true or false" in found[(17, "steps[1].parameters.ssl")]
    assert "unknown action `recieve`" in found[(20, "steps[2].action")]
    assert "did you mean `fetch`" in found[(20, "steps[2].action")] or "actions: fetch, send" in \
        found[(20, "steps[2].action")]
    assert not [p for p in report.problems if p.path.startswith("steps[3]")]
