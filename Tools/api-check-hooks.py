"""schemathesis hooks for Tools/api-check.sh.

They teach the generator the rules of Schema/openapi.yaml that JSON Schema cannot state, so that a
request it calls valid is one the server must accept. Each rule is also written in the spec. No
hook hides a response or a failure: they only shape requests before they are sent, keeping a
valid request valid and an invalid one invalid (schemathesis revalidates an edited case).
"""

import base64
import itertools
import os
import re

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
    - A reporter token syncs as one replica, the one its first sync bound it to (another is a
      403), and pushes only that replica's changes (another author is a 403). Tools/api-check.sh
      binds the token to $OUTPOST_API_REPLICA first, and requests are sent as that device, so the
      checks reach past the 403s to the decoding, the limits and the store.
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
        case.body = body
    if path == "/v1/incidents" and isinstance(case.query, dict):
        if "bbox" in case.query:
            case.query["bbox"] = _with_ordered_latitudes(case.query["bbox"])
        if "q" in case.query:
            case.query["q"] = _within_bytes(case.query["q"], _Q_BYTES)
