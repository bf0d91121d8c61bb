"""Masking secrets in whatever is written: text, bytes, step results (spec §3, issue 10 point 3).

A secret leaves a step in more shapes than its plain text: an error message quotes it with
``repr`` (``'a\\b'``), ``{{ value | tojson }}`` and every JSON sink escape it (``"a\"b"``), a
subprocess may write it to file descriptor 1 as UTF-8 or UTF-16, a tool may base64-encode it into
an ``Authorization`` header. :class:`Masker` replaces each *form* of each secret with ``***``:

==================  =====================================================================
plain               the value itself
JSON-escaped        ``json.dumps`` body, ``ensure_ascii`` on and off; the HTML-safe variant
                    (``\u003c``, ``\u0027``...); escaped twice (JSON inside JSON)
repr-escaped        Python ``repr``/``ascii`` body, either quote style; ``repr`` of its UTF-8
                    bytes (``b'...'``); escaped twice
URL-encoded         ``urllib.parse.quote`` (``safe=""`` and ``safe="/"``) and ``quote_plus``
HTML-escaped        ``html.escape`` with and without quotes
shell-quoted        the body of ``shlex.quote``
base64              standard and URL-safe alphabet, at the three byte alignments the value
                    can have inside a longer encoded text (only parts of 6+ characters)
bytes (binary)      each form above as UTF-8, the plain value as UTF-16 and UTF-32 (both byte
                    orders, without BOM) and Latin-1 (when it can be encoded)
==================  =====================================================================

The list of encodings follows the GitHub Actions runner's secret masker
(``src/Sdk/DTLogging/Logging/ValueEncoders.cs``: base64 with its three shifts, JSON, URI and
XML escapes), plus the escapes Python itself produces (``repr``).

Step results are masked by type (:meth:`Masker.value`): strings, bytes, lists, tuples
(named ones keep their type), sets, frozensets, mappings, pandas ``DataFrame``/``Series``/
``Index`` and numpy arrays of strings come back as the same kind of value with each secret
replaced. Any other object is checked by pickling it, as the IO manager will
(:meth:`Masker.find`): when the secret is inside, the step fails with
:class:`SecretInResultError` instead of storing it.

Secrets known to the process are kept per run in a registry (:func:`register`), so sinks that
do not know the workflow (the IO manager, the event log, file descriptors 1 and 2, see
:mod:`yaml2dag.tools.capture`) mask them too.

No Dagster import: this module sits at the format level.

The parts live in three modules (issue 11: one concept each): :mod:`yaml2dag.format.masking_forms`
(the forms a secret takes), :mod:`yaml2dag.format.masker` (the :class:`Masker`) and
:mod:`yaml2dag.format.masking_registry` (the secrets registered per run, and Python logging); this
module keeps their public names, so ``from yaml2dag.format.masking import ...`` keeps working.
"""

from __future__ import annotations

from yaml2dag.format.masker import Masker, masker, masker_of
from yaml2dag.format.masking_forms import (  # noqa: F401
    MASK,
    MIN_ENCODED_LENGTH,
    MIN_MASKED_LENGTH,
    PICKLE_PROTOCOL,
    SecretInResultError,
    byte_forms,
    text_forms,
)
from yaml2dag.format.masking_registry import (  # noqa: F401
    MAX_REGISTERED_RUNS,
    forget,
    install_log_record_masking,
    register,
    registered,
    registry_version,
)

__all__ = ["MASK", "MIN_ENCODED_LENGTH", "MIN_MASKED_LENGTH", "Masker", "SecretInResultError", "byte_forms",
           "forget", "install_log_record_masking", "masker", "masker_of", "register", "registered",
           "registry_version", "text_forms"]
