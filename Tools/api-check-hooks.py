"""schemathesis hooks for Tools/api-check.sh.

They teach the generator the rules of Schema/openapi.yaml that JSON Schema cannot state, so that a
request it calls valid is one the server must accept. Each rule is also written in the spec. No
hook hides a response or a failure: they only shape requests before they are sent, keeping a
valid request valid and an invalid one invalid (schemathesis revalidates an edited case).
"""

import base64
import hashlib
import itertools
import os
import re
import struct

import schemathesis
from hypothesis import strategies as st

_REPLICA_ID = re.compile(r"\A(?:[0-9a-f]{2}){1,64}\Z")
_MAX_COUNTER = 2**53 - 1
# Incident text fields: at most N characters (grapheme clusters) and 4 × N UTF-8 bytes.
_CHARACTER_LIMITS = {
    "title": 200, "narrative": 50000, "place_name": 200, "admin1": 200, "admin2": 200, "perpetrator": 500, "target": 500,
}
# Texts with a byte limit only.
_REPORTER_BYTES = 400
_Q_BYTES = 200


def _cursor(ms: int, record_id: str) -> str:
    """An incident-list cursor as the server makes it: URL-safe base64, no padding, of MS:ID."""
    return base64.urlsafe_b64encode(f"{ms}:{record_id}".encode()).decode().rstrip("=")


# `format: outpost-cursor`: a cursor is valid when it decodes to MS:ID; any other text is a 400.
schemathesis.openapi.format(
    "outpost-cursor",
    st.builds(
        _cursor,
        st.integers(min_value=0, max_value=253402300799999),
        st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:-]{0,199}\Z"),
    ),
)


def _is_counter(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= _MAX_COUNTER


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole_numbers_as_integers(value):
    """`1.0` becomes `1`, everywhere in a JSON value (the same value to JSON Schema)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole_numbers_as_integers(item) for item in value]
    if isinstance(value, dict):
        return {key: _whole_numbers_as_integers(item) for key, item in value.items()}
    return value


def _within_bytes(text, limit: int):
    """A text the schema's `maxLength` (`limit` code points) admits, cut to `limit` UTF-8 bytes
    at a character boundary; anything else as it is."""
    if not isinstance(text, str) or len(text) > limit:
        return text
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        return text
    return encoded[:limit].decode("utf-8", "ignore") if len(encoded) > limit else text


def _plainly_too_long(text, limit: int):
    """A text the schema's `maxLength` (`limit` code points) refuses, written with one code point
    per character, so that it has too many characters too (JSON Schema counts code points, the
    server grapheme clusters); anything else as it is."""
    if isinstance(text, str) and len(text) > limit:
        return "x" * len(text)
    return text


def _with_text_rules(body: dict) -> dict:
    """Text limits JSON Schema cannot state exactly (see `_within_bytes`, `_plainly_too_long`)."""
    changes = body.get("changes")
    for change in changes if isinstance(changes, list) else []:
        if not isinstance(change, dict):
            continue
        if "reporter" in change:
            change["reporter"] = _within_bytes(change["reporter"], _REPORTER_BYTES)
        writes = change.get("writes")
        if isinstance(writes, dict):
            for field, limit in _CHARACTER_LIMITS.items():
                if field in writes:
                    writes[field] = _plainly_too_long(writes[field], limit)
    return body


# Counters below this are replaced by fresh ones (boundary values above it are kept as generated).
_FRESH_FROM = 1_000_000
_fresh_counters = itertools.count(_FRESH_FROM)


def _as_device(body: dict, replica: str) -> dict:
    """The request as the device bound to `replica` sends it: every well-formed replica id in the
    request's `replica` and its changes' `replica` becomes `replica` (a malformed one stays, so a
    request that breaks the schema still does), and a change's `deps` never cover its own dot
    (`deps[replica]` < `counter`); small counters become fresh ones, so a dot is not reused."""
    if isinstance(body.get("replica"), str) and _REPLICA_ID.match(body["replica"]):
        body["replica"] = replica
    changes = body.get("changes")
    for change in changes if isinstance(changes, list) else []:
        if not isinstance(change, dict):
            continue
        if isinstance(change.get("replica"), str) and _REPLICA_ID.match(change["replica"]):
            change["replica"] = replica
        if change.get("replica") == replica and _is_counter(change.get("counter")) and change["counter"] < _FRESH_FROM:
            # A dot names one change: generated cases reuse small counters with other content,
            # which the server rightly refuses (409 reused_dot) before reaching anything else.
            change["counter"] = next(_fresh_counters)
        deps, counter = change.get("deps"), change.get("counter")
        if change.get("replica") == replica and isinstance(deps, dict) and _is_counter(counter):
            covered = deps.get(replica)
            if isinstance(covered, int) and not isinstance(covered, bool) and covered >= counter:
                if counter > 1:
                    deps[replica] = counter - 1
                else:
                    del deps[replica]
    return body


# Ed25519 signing (RFC 8032, section 6's reference arithmetic), so that the fuzzing device signs
# the changes it pushes with the key it was enrolled by (`OUTPOST_API_SEED`); without a valid
# signature every generated push would stop at 422 `bad_signature` / `unsigned_change`.
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _recover_x(y: int, sign: int) -> int:
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x & 1) != sign:
        x = _P - x
    return x


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0)
_G = (_GX, _GY, 1, _GX * _GY % _P)


def _point_add(p, q):
    a, b = (p[1] - p[0]) * (q[1] - q[0]) % _P, (p[1] + p[0]) * (q[1] + q[0]) % _P
    c, d = 2 * p[3] * q[3] * _D % _P, 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f, g * h, f * g, e * h)


def _point_mul(s: int, p):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _point_add(q, p)
        p = _point_add(p, p)
        s >>= 1
    return q


def _compress(p) -> bytes:
    z = pow(p[2], _P - 2, _P)
    x, y = p[0] * z % _P, p[1] * z % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _expand(seed: bytes):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def ed25519_public_key(seed: bytes) -> bytes:
    """The public key of a 32-byte seed."""
    return _compress(_point_mul(_expand(seed)[0], _G))


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    """The 64-byte signature of `message` by the key of `seed`."""
    a, prefix = _expand(seed)
    public = _compress(_point_mul(a, _G))
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % _L
    big_r = _compress(_point_mul(r, _G))
    k = int.from_bytes(hashlib.sha512(big_r + public + message).digest(), "little") % _L
    return big_r + ((r + k * a) % _L).to_bytes(32, "little")


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# Value kinds of canonical bytes follow the field's type in the incident model (trust.md).
_INTEGER_FIELDS = {"killed", "injured", "abducted", "displaced"}
_NUMBER_FIELDS = {"lat", "lon"}
_SIGNATURE = re.compile(r"\A[A-Za-z0-9_-]{85}[AQgw]\Z")


def _canonical_value(field: str, value) -> bytes:
    if value is None:
        return b"\x00"
    if value is True:
        return b"\x02"
    if value is False:
        return b"\x01"
    if isinstance(value, int):
        if field in _NUMBER_FIELDS:
            return b"\x04" + struct.pack(">d", float(value))
        return b"\x03" + struct.pack(">q", value)
    if isinstance(value, float):
        if field in _INTEGER_FIELDS and value.is_integer():
            return b"\x03" + struct.pack(">q", int(value))
        return b"\x04" + struct.pack(">d", value)
    text = value.encode("utf-8")
    return b"\x05" + struct.pack(">I", len(text)) + text


def canonical_bytes(change: dict) -> bytes:
    """A wire change's canonical bytes (trust.md, "Signed changes"); raises on a malformed one."""
    out = bytearray(b"OUTPOST-CHANGE-1\n")
    replica = bytes.fromhex(change["replica"])
    out += bytes([len(replica)]) + replica + struct.pack(">Q", change["counter"])
    for text in (change.get("collection", "incidents"), change["id"]):
        encoded = text.encode("utf-8")
        out += struct.pack(">H", len(encoded)) + encoded
    out += struct.pack(">qI", change["ms"], change.get("seq", 0))
    deps = sorted((bytes.fromhex(k), v) for k, v in (change.get("deps") or {}).items() if v)
    out += struct.pack(">I", len(deps))
    for key, counter in deps:
        out += bytes([len(key)]) + key + struct.pack(">Q", counter)
    writes = sorted(change["writes"].items(), key=lambda item: item[0].encode("utf-8"))
    out += struct.pack(">I", len(writes))
    for field, value in writes:
        encoded = field.encode("utf-8")
        out += struct.pack(">H", len(encoded)) + encoded + _canonical_value(field, value)
    return bytes(out)


def _signed(change: dict, seed: bytes) -> dict:
    """The change with `sig` set by the device's key, when it is well-formed enough to sign and
    its `sig` is absent or well-formed (a malformed `sig` stays, so an invalid case stays invalid)."""
    sig = change.get("sig")
    if sig is not None and not (isinstance(sig, str) and _SIGNATURE.match(sig)):
        return change
    try:
        change["sig"] = _b64u(ed25519_sign(seed, canonical_bytes(change)))
    except (KeyError, TypeError, ValueError, AttributeError, UnicodeEncodeError, struct.error, OverflowError):
        pass
    return change


_PUBLIC_KEY = re.compile(r"\A[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]\Z")


def _with_binding(body: dict, replica: str, seed: bytes, token: str) -> dict:
    """A well-formed `key` becomes the device's own public key and a well-formed `bind` its
    binding signature for the token (a malformed one stays, so an invalid case stays invalid):
    a random key would be a 403 `replica_key_mismatch` before anything else is checked."""
    key = body.get("key")
    if isinstance(key, str) and _PUBLIC_KEY.match(key):
        body["key"] = _b64u(ed25519_public_key(seed))
    bind = body.get("bind")
    if isinstance(bind, str) and _SIGNATURE.match(bind) and token:
        message = b"OUTPOST-BIND-1\n" + bytes.fromhex(replica) + hashlib.sha256(token.encode()).digest()
        body["bind"] = _b64u(ed25519_sign(seed, message))
    return body


def _with_ordered_latitudes(bbox):
    """A bbox whose latitudes are numbers, minLat ≤ maxLat (a band of latitudes does not wrap)."""
    parts = bbox.split(",") if isinstance(bbox, str) else bbox
    if not isinstance(parts, list) or len(parts) != 4:
        return bbox
    try:
        min_lat, max_lat = float(parts[1]), float(parts[3])
    except (TypeError, ValueError):
        return bbox
    if not min_lat > max_lat:
        return bbox
    parts = list(parts)
    parts[1], parts[3] = parts[3], parts[1]
    return ",".join(str(p) for p in parts) if isinstance(bbox, str) else parts


@schemathesis.hook
def before_call(context, case, kwargs):
    """Shapes every request (all phases) by the rules JSON Schema cannot state.

    - Whole numbers are written as JSON integers (`1`, not `1.0`): the server reads `1.0` as a
      fraction and refuses it where a whole number is due; JSON Schema's `integer` admits both.
    - A reporter token syncs as one replica, the one it is bound to (another is a 403), and every
      pushed change must carry its author's valid signature (else a 422). Tools/api-check.sh
      enrolls the token by the key of $OUTPOST_API_SEED (replica $OUTPOST_API_REPLICA), and
      requests are sent as that device, its changes signed with that key, so the checks reach
      past the 403s and 422s to the decoding, the limits and the store; a `key` and `bind` it
      sends are that device's own ($OUTPOST_API_TOKEN's binding).
    - A change's `deps` never cover its own dot.
    - Text limits count characters and UTF-8 bytes, not code points.
    - `bbox`: minLat ≤ maxLat.
    """
    path = case.operation.path
    if path == "/v1/sync" and isinstance(case.body, (dict, list)):
        body = _whole_numbers_as_integers(case.body)
        if isinstance(body, dict):
            body = _with_text_rules(body)
            replica = os.environ.get("OUTPOST_API_REPLICA")
            if replica:
                body = _as_device(body, replica)
                seed = os.environ.get("OUTPOST_API_SEED")
                if seed and body.get("replica") == replica:
                    body = _with_binding(body, replica, bytes.fromhex(seed), os.environ.get("OUTPOST_API_TOKEN", ""))
                changes = body.get("changes")
                if seed and isinstance(changes, list):
                    body["changes"] = [
                        _signed(c, bytes.fromhex(seed)) if isinstance(c, dict) and c.get("replica") == replica else c
                        for c in changes
                    ]
        case.body = body
    if path == "/v1/incidents" and isinstance(case.query, dict):
        if "bbox" in case.query:
            case.query["bbox"] = _with_ordered_latitudes(case.query["bbox"])
        if "q" in case.query:
            case.query["q"] = _within_bytes(case.query["q"], _Q_BYTES)
        for key, limit in (("reporter", _REPORTER_BYTES), ("team", 256)):
            if isinstance(case.query.get(key), str):
                case.query[key] = _within_bytes(case.query[key], limit)
