"""Issue 10 point 3: secrets are masked in every form, in every kind of value and at every sink
that does not go through a Dagster run (no run, no server: see
tests/integration/test_secret_sinks.py for the runs).

The property tests draw secrets with the characters that get escaped (quotes, backslashes,
``<``, ``&``, ``%``, ``+``, spaces, newlines, non-ASCII) from a seeded generator, put them in
random text, encode the text the ways a secret leaves a step, mask, and check that decoding the
masked text never gives the secret back.
"""

from __future__ import annotations

import ast
import base64
import collections
import html
import json
import logging
import pickle
import random
import shlex
import subprocess
import sys
import textwrap
import urllib.parse

import pytest

from conftest import CLI_TIMEOUT, REPO
from yaml2dag.format import masking
from yaml2dag.format.masking import MASK, Masker, SecretInResultError, byte_forms, text_forms

ALPHABET = "abcXYZ019\"'\\<>&%+ /:=-_\n\té中€"


def random_secret(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(3, 18)))


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET + "    ") for _ in range(rng.randint(0, 12)))


def _literal(text: str):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "\*" after masking an escape
        return ast.literal_eval(text)


def _b64decode(text: str, urlsafe: bool = False) -> bytes:
    return base64.b64decode(text.encode(), altchars=b"-_" if urlsafe else None, validate=True)


def _tojson(value: str) -> str:
    from yaml2dag.format.expressions import render_string

    return render_string("{{ value | tojson }}", {"value": value})


#: How a secret leaves a step, and how to read it back: (name, encode text, decode text).
ENCODINGS = [
    ("plain", lambda s: s, lambda t: t),
    ("json", json.dumps, json.loads),
    ("json ascii", lambda s: json.dumps(s, ensure_ascii=False), json.loads),
    ("json twice", lambda s: json.dumps(json.dumps(s)), lambda t: json.loads(json.loads(t))),
    ("json of a repr", lambda s: json.dumps(repr(s)), lambda t: _literal(json.loads(t))),
    ("template tojson", _tojson, json.loads),
    ("jinja htmlsafe json", lambda s: __import__("jinja2.utils").utils.htmlsafe_json_dumps(s), json.loads),
    ("repr", repr, _literal),
    ("ascii", ascii, _literal),
    ("repr of a list", lambda s: repr([s]), lambda t: _literal(t)[0]),
    ("repr of bytes", lambda s: repr(s.encode()), lambda t: _literal(t).decode("utf-8", "replace")),
    ("url", lambda s: urllib.parse.quote(s, safe=""), urllib.parse.unquote),
    ("url plus", urllib.parse.quote_plus, urllib.parse.unquote_plus),
    ("html", html.escape, html.unescape),
    ("shell", shlex.quote, lambda t: " ".join(shlex.split(t))),
    ("base64", lambda s: base64.b64encode(s.encode()).decode(), lambda t: _b64decode(t).decode("utf-8", "replace")),
    ("base64 url", lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
     lambda t: _b64decode(t, urlsafe=True).decode("utf-8", "replace")),
]


@pytest.mark.parametrize("name,encode,decode", ENCODINGS, ids=[e[0] for e in ENCODINGS])
def test_a_secret_cannot_be_read_back_from_any_masked_encoding(name, encode, decode):
    rng = random.Random(f"issue-10-{name}")
    for _ in range(150):
        secret = random_secret(rng)
        if not secret.strip() or len(secret.encode()) < 6 and name.startswith("base64"):
            continue  # base64 parts shorter than MIN_ENCODED_LENGTH are not masked (documented)
        text = random_text(rng) + secret + random_text(rng)
        assert secret in decode(encode(text))  # the decoding works: a failure below means masked
        masked = Masker([secret]).text(encode(text))
        try:
            back = decode(masked)
        except Exception:  # noqa: BLE001 - what no longer decodes no longer holds the secret
            continue
        assert secret not in back, (name, secret, text, masked)


def test_the_old_plain_replacement_fails_the_same_property():
    """The property above finds the bug of the plain ``str.replace`` masking."""
    secret = 'a"b\\c-token'

    def old_mask(text: str) -> str:
        return text.replace(secret, MASK)

    leaked = [name for name, encode, decode in ENCODINGS if name != "plain"
              and secret in decode(old_mask(encode(secret)))]
    assert {"json", "repr", "template tojson", "base64", "url"} <= set(leaked)


def test_short_values_and_forms_are_not_masked():
    assert text_forms("ab") == () and byte_forms("ab") == ()
    assert Masker(["ab"]).text("abc ab") == "abc ab"
    forms = text_forms("abcd")
    assert "abcd" in forms and all(len(f) >= masking.MIN_MASKED_LENGTH for f in forms)
    # base64 fragments of a 4-byte secret are shorter than MIN_ENCODED_LENGTH: not masked
    assert not any(len(f) < masking.MIN_ENCODED_LENGTH and f != "abcd" for f in forms)


def test_binary_forms_keep_the_encoding_of_what_they_replace():
    secret = 'Tok"en\\é'
    m = Masker([secret])
    for encoding in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "latin-1"):
        data = f"before {secret} after".encode(encoding)
        masked = m.data(data)
        assert masked.decode(encoding) == f"before {MASK} after", encoding
    assert m.data(json.dumps(secret).encode()) == b'"***"'


Named = collections.namedtuple("Named", "token other")


def _no_secret(value, secret: str) -> None:
    blob = pickle.dumps(value)
    for form, _repl in byte_forms(secret):
        assert form not in blob, (form, value)


def test_results_of_every_maskable_type_keep_their_type():
    secret = 'S3c"r\\et-value'
    m = Masker([secret])
    cases = {
        "frozenset": frozenset([secret, "x"]),
        "set": {secret, "y"},
        "bytes": secret.encode() + b"|rest",
        "bytearray": bytearray(secret.encode("utf-16-le")),
        "named tuple": Named(secret, 1),
        "tuple": (secret, b"x" + secret.encode()),
        "nested": {secret: [frozenset([secret.encode()])], "k": ({"v": secret},)},
        "exception text": f"ValueError({secret!r})",
    }
    for name, value in cases.items():
        masked = m.value(value)
        assert type(masked) is type(value), name
        _no_secret(masked, secret)
    assert m.value(Named(secret, 1)) == Named(MASK, 1)
    assert m.value(frozenset([secret])) == frozenset([MASK])


def test_pandas_and_numpy_data_are_masked_in_place_of_the_secret():
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    secret = 'S3c"r\\et-value'
    m = Masker([secret])
    frame = pd.DataFrame({"col": [secret, "ok"], secret: [1, 2], "cat": pd.Categorical([secret, "x"]),
                          "obj": [{"t": secret}, None]},
                         index=pd.Index(["a", secret], name="i"))
    frame.attrs["note"] = secret
    masked = m.value(frame)
    assert isinstance(masked, pd.DataFrame) and masked.shape == frame.shape
    assert list(masked.columns) == ["col", MASK, "cat", "obj"]
    assert masked["col"].tolist() == [MASK, "ok"] and masked["cat"].tolist() == [MASK, "x"]
    assert str(masked["cat"].dtype) == "category" and masked[MASK].tolist() == [1, 2]
    assert masked["obj"].tolist()[0] == {"t": MASK}
    assert list(masked.index) == ["a", MASK] and masked.attrs == {"note": MASK}
    _no_secret(masked, secret)
    assert frame["col"].tolist()[0] == secret  # the step's own frame is not changed
    series = pd.Series([secret], name=secret)
    assert m.value(series).tolist() == [MASK] and m.value(series).name == MASK
    multi = pd.MultiIndex.from_tuples([(secret, 1)])
    assert list(m.value(multi)) == [(MASK, 1)]
    for array in (np.array([secret, "b"]), np.array([secret.encode(), b"b"]), np.array([secret, 1], dtype=object)):
        out = m.value(array)
        assert isinstance(out, np.ndarray) and out.dtype == array.dtype and out.shape == array.shape
        _no_secret(out, secret)
    clean = pd.DataFrame({"a": ["x"]})
    assert m.value(clean) is clean  # nothing to mask: the same object, no copy


class Box:
    def __init__(self, value):
        self.value = value


def test_objects_that_cannot_be_masked_are_refused_not_stored():
    secret = "S3cret-value"
    m = Masker([secret])
    kind = f"{Box.__module__}.Box"
    assert m.find({"output": [1, Box(secret)]}) == f"output[1] (a {kind})"
    with pytest.raises(SecretInResultError) as excinfo:
        m.check({"output": {"rows": Box(secret)}})
    assert f"output.rows (a {kind})" in str(excinfo.value)
    assert secret not in str(excinfo.value)
    clean = {"output": Box("nothing here"), "b": secret}
    assert m.check(clean) == {"output": clean["output"], "b": MASK}
    assert Masker([]).check(Box(secret)).value == secret  # no secrets: nothing to check


def test_held_back_keeps_what_could_be_the_start_of_a_form():
    m = Masker(["abcdef"])
    assert m.held_back(b"hello abc") == 3
    assert m.held_back(m.data(b"hello abcdef")) == 0  # a whole form is masked, not held
    assert m.held_back(b"hello\n") == 0


def test_registry_is_per_run_and_forgettable():
    masking.register("run-a", ["alpha-secret", "x"])
    masking.register("run-b", ["beta-secret"])
    try:
        assert masking.registered("run-a") == ("alpha-secret",)
        assert set(masking.registered()) >= {"alpha-secret", "beta-secret"}
        version = masking.registry_version()
        masking.register("run-a", ["alpha-secret"])
        assert masking.registry_version() == version  # nothing new: the cached maskers stay
    finally:
        masking.forget("run-a")
        masking.forget("run-b")
    assert "alpha-secret" not in masking.registered()


def test_python_log_records_are_masked_when_created():
    masking.install_log_record_masking()
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(self.format(record))

    logger = logging.getLogger("tests.secret_masking")
    handler = Keep()
    logger.addHandler(handler)
    logger.propagate = False
    masking.register("run-log", ['lo"g-secret'])
    try:
        logger.warning("value %s and %r", 'lo"g-secret', 'lo"g-secret')
        try:
            raise ValueError('lo"g-secret')
        except ValueError:
            logger.exception("failed")
    finally:
        masking.forget("run-log")
    logger.warning("after %s", 'lo"g-secret')  # forgotten: no longer masked
    logger.removeHandler(handler)
    assert seen[0] == "value *** and '***'"
    assert "lo\"g-secret" not in seen[1] and "ValueError: ***" in seen[1]
    assert seen[2] == 'after lo"g-secret'


def test_a_captured_thread_writing_bytes_to_sys_stdout_is_masked():
    from yaml2dag.tools.capture import capture_output

    lines: list[str] = []
    masking.register("run-bytes", ["byte-secret"])
    try:
        with capture_output(lines.append):
            sys.stdout.buffer.write("x byte-secret y\n".encode("utf-16-le"))
            sys.stdout.buffer.write(b"plain byte-secret\n")
    finally:
        masking.forget("run-bytes")
    text = "".join(lines)
    assert "byte-secret" not in text.replace("\x00", "")
    assert any("plain ***" in line for line in lines)


def test_event_texts_are_masked_through_dagster_serialisation():
    from dagster._utils.error import SerializableErrorInfo

    from yaml2dag.compiler.sinks import mask_serializable

    secret = 'ev"ent\\secret'
    error = SerializableErrorInfo(message=f"failed with {secret!r}\n", stack=[f"  x = {json.dumps(secret)}\n"],
                                  cls_name="ValueError", cause=SerializableErrorInfo(secret, [], "E"))
    masked = mask_serializable(error, Masker([secret]))
    assert isinstance(masked, SerializableErrorInfo)
    assert masked.message == "failed with '***'\n" and masked.stack == ['  x = "***"\n']
    assert masked.cause.message == MASK
    clean = SerializableErrorInfo("nothing", [], "E")
    assert mask_serializable(clean, Masker([secret])) is clean


SCRIPT = textwrap.dedent(r'''
    import base64, os, sys, threading, time
    from yaml2dag.format import masking
    from yaml2dag.tools.capture import masked_fds

    secret = sys.argv[1]
    os.environ["FD_SECRET"] = secret
    half = len(secret) // 2
    with masked_fds("run-fd", [secret]):
        os.system('printf "system:%s\\n" "$FD_SECRET"; printf "err:%s\\n" "$FD_SECRET" >&2')
        os.write(1, b"split:" + secret[:half].encode())
        time.sleep(0.3)
        os.write(1, secret[half:].encode() + b"\n")
        os.write(1, b"u16:" + secret.encode("utf-16-le") + b"\n")
        os.write(2, b"b64:" + base64.b64encode(b"user:" + secret.encode()) + b"\n")
        threading.Thread(target=lambda: print("thread:" + secret, flush=True)).start()
        os.system('(sleep 1; printf "late:%s\\n" "$FD_SECRET") &')
        time.sleep(0.2)
    masking.forget("run-fd")
    print("after-exit", flush=True)
    time.sleep(1.5)
''')


def test_masked_fds_masks_what_processes_write_to_descriptors_1_and_2(tmp_path):
    secret = 'fd"se\\cret-' + random.Random().choice("abcdef") * 4
    proc = subprocess.run([sys.executable, "-c", SCRIPT, secret], cwd=REPO, capture_output=True,
                          timeout=CLI_TIMEOUT, start_new_session=True)
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 0, err
    for form, _repl in byte_forms(secret):
        assert form not in out + err, form
    for line in (b"system:***", b"split:***", b"thread:***", b"late:***", b"after-exit"):
        assert line in out, (line, out)
    assert b"u16:" + MASK.encode("utf-16-le") in out
    assert b"err:***" in err and b"b64:dXNlcj" in err


def test_the_step_log_filter_masks_messages_and_dagster_events():
    from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData
    from dagster._utils.error import SerializableErrorInfo

    from yaml2dag.compiler.sinks import SecretLogFilter

    secret = 'fi"lter\\secret'
    event = DagsterEvent(DagsterEventType.ENGINE_EVENT.value, "job", message=f"saw {secret}",
                         event_specific_data=EngineEventData(
                             error=SerializableErrorInfo(f"ValueError: {secret!r}", [], "ValueError")))
    record = logging.LogRecord("dagster", logging.ERROR, __file__, 1, "got %s", (json.dumps(secret),), None)
    record.dagster_event = event
    masking.register("run-filter", [secret])
    try:
        assert SecretLogFilter("run-filter").filter(record) is True
    finally:
        masking.forget("run-filter")
    assert record.getMessage() == 'got "***"'
    masked = record.dagster_event
    assert isinstance(masked, DagsterEvent) and masked.event_type_value == "ENGINE_EVENT"
    assert masked.message == "saw ***" and masked.engine_event_data.error.message == "ValueError: '***'"
    # another run's filter knows no secret: the record is left alone
    other = logging.LogRecord("dagster", logging.INFO, __file__, 1, secret, (), None)
    assert SecretLogFilter("run-other").filter(other) and other.msg == secret
