"""The API key's spellings, and masking them: shared by error messages and logs.

An error ends up in logs, CI output and bug reports, and a library may quote the key in an
escaped form; whatever leaves the process is masked in every spelling first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Return `text` with every non-empty secret replaced by `***`, in whichever spelling.

    Besides the plain form, the escaped forms a library might quote are masked too: a Python
    `repr` of the text or its bytes, a JSON string, a URL-encoded query value. Masking is by
    substring and errs on the side of hiding: a key that is also an ordinary word (`test`)
    masks that word in every message as well, which costs readability, never the key.
    """
    for secret in secrets:
        for form in secret_forms(secret):
            text = text.replace(form, "***")
    return text


def secret_forms(secret: str) -> tuple[str, ...]:
    """The spellings of `secret` that may appear in error texts, longest first."""
    if not secret:
        return ()
    forms = {
        secret,
        repr(secret)[1:-1],
        repr(secret.encode("utf-8", "surrogateescape"))[2:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))
