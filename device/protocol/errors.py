"""Why a device refuses something. One base class, one fixed reason code per subclass.

The codes are part of the device's contract (docs/permit-format.md): the local link, the
`verify` command and the server's receipt checks all report them verbatim.
"""


class ProtocolError(Exception):
    """Base of every refusal; `code` is the stable machine-readable reason."""

    code = "malformed"


class Malformed(ProtocolError):
    """Not a well-formed message of the expected shape."""

    code = "malformed"


class TooLarge(ProtocolError):
    """Larger than the size bound; nothing was decoded."""

    code = "too_large"


class UnsupportedAlgorithm(ProtocolError):
    """No algorithm in the protected header, or one outside the allow-list."""

    code = "unsupported_algorithm"


class UnknownKey(ProtocolError):
    """The key id is not in the trust list."""

    code = "unknown_key"


class BadSignature(ProtocolError):
    """The signature does not verify under the trusted key."""

    code = "bad_signature"


class WrongDevice(ProtocolError):
    """The permit is bound to another device."""

    code = "wrong_device"


class NotYetValid(ProtocolError):
    """Trusted time is before the window (minus the allowed skew)."""

    code = "not_yet_valid"


class Expired(ProtocolError):
    """Trusted time is at or past the window end."""

    code = "expired"


class Revoked(ProtocolError):
    """The permit id is on the device's revocation list."""

    code = "revoked"


class Superseded(ProtocolError):
    """A revocation list or permit older than one the device already holds."""

    code = "superseded"
