"""Minting JWTs the app accepts (and the broken ones it must refuse), from the auth settings.

HS* tokens are signed with the app's own secret (``xaio_jwt_secret`` or ``xaio_jwt_secret_from``).
RS*/PS*/ES* tokens are signed with a key pair made once per session (or ``xaio_jwt_private_key``);
the app is handed the public key through :attr:`TokenFactory.public_key_pem`, :meth:`TokenFactory.jwks`
or the env var named by ``xaio_jwt_public_key_env``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Protocol

import pytest

from pytest_xaio.config import AuthSettings, get_settings
from pytest_xaio.env import export_env
from pytest_xaio.errors import config_error, missing_extra
from pytest_xaio.resolve import resolve_object
from pytest_xaio.runtime import XaioRuntime, session_object

__all__ = [
    "DEFAULT_USER_ID",
    "KeyPair",
    "TokenFactory",
    "User",
    "default_user",
    "default_user_id",
    "session_keys",
    "token_factory",
]

#: The ``id`` (and token ``sub``) of the user tests get when the project makes no user rows.
DEFAULT_USER_ID = "xaio-test-user"

_HMAC = ("HS256", "HS384", "HS512")
_RSA = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC = {"ES256": "SECP256R1", "ES384": "SECP384R1", "ES512": "SECP521R1"}
_SUPPORTED = (*_HMAC, *_RSA, *_EC)
_WRONG_AUDIENCE = "xaio-wrong-audience"
_WRONG_ISSUER = "xaio-wrong-issuer"
_PAST = 3600  # far beyond any clock-skew leeway an app allows
_SIGNED_HELD = 256  # signed tokens remembered per session (the same claims within one second)
_SINGLE = re.compile(r"^\{user\.(\w+)\}$")
_TEMPLATE = re.compile(r"\{user[.\[]")


class User(Protocol):
    """A test user (``xaio_user``): the row your ``pytest_xaio_create_user`` hook returned, or the
    default user (a namespace with ``id``). Read its columns as attributes (a model, a namespace, a
    named-tuple row) or as items (a dict row); the token's ``sub`` comes from its ``id``."""

    def __getattr__(self, name: str) -> Any: ...

    def __getitem__(self, key: str) -> Any: ...


def default_user(**attrs: Any) -> SimpleNamespace:
    """The user tests get when no ``pytest_xaio_create_user`` hook makes a row: a fixed id, no row."""
    values = {"id": DEFAULT_USER_ID, **attrs}
    return SimpleNamespace(**values)


@dataclass(frozen=True)
class KeyPair:
    """An asymmetric signing key and what the app needs to verify with it."""

    algorithm: str
    private_key: Any
    public_key: Any
    kid: str

    @property
    def public_key_pem(self) -> str:
        from cryptography.hazmat.primitives import serialization

        return str(
            self.public_key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode()
        )

    def jwk(self) -> dict[str, Any]:
        import jwt

        jwk: dict[str, Any] = dict(jwt.get_algorithm_by_name(self.algorithm).to_jwk(self.public_key, as_dict=True))
        jwk.update(kid=self.kid, alg=self.algorithm, use="sig")
        return jwk


def _generate_keys(algorithm: str) -> KeyPair:
    try:
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
    except ImportError:
        missing_extra("cryptography", "fastapi", f"signing {algorithm} test tokens")
    if algorithm in _EC:
        private: Any = ec.generate_private_key(getattr(ec, _EC[algorithm])())
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _pair(algorithm, private)


def _pair(algorithm: str, private: Any) -> KeyPair:
    from cryptography.hazmat.primitives import serialization

    public = private.public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return KeyPair(algorithm, private, public, hashlib.sha256(der).hexdigest()[:16])


def _load_private_key(path: str, algorithm: str) -> KeyPair:
    from cryptography.hazmat.primitives import serialization

    try:
        with open(path, "rb") as handle:
            private = serialization.load_pem_private_key(handle.read(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        config_error(
            f"xaio_jwt_private_key {path!r} could not be read: {exc}",
            "point it at an unencrypted PEM private key that matches xaio_jwt_algorithm",
        )
    return _pair(algorithm, private)


def _algorithm(settings: AuthSettings) -> str:
    algorithm = (settings.jwt_algorithm or "HS256").strip().upper()
    if algorithm not in _SUPPORTED:
        config_error(
            f"xaio_jwt_algorithm {settings.jwt_algorithm!r} is not supported", f"use one of {', '.join(_SUPPORTED)}"
        )
    return algorithm


class AuthSession:
    """The session's signing keys (RS*/PS*/ES*) and token factory, made on first use."""

    def __init__(self, runtime: XaioRuntime) -> None:
        self.settings = runtime.settings
        self.keys: KeyPair | None = None
        self.factory: TokenFactory | None = None
        self.runtime = runtime
        self.user_key: tuple[str, str] | None = None  # (user table, key type), read once
        self.user_key_read = False


_auth_key = pytest.StashKey[AuthSession]()


def _auth_session(config: pytest.Config) -> AuthSession:
    return session_object(config, _auth_key, AuthSession)


def default_user_id(config: pytest.Config, name: str = DEFAULT_USER_ID, *, read_schema: bool = True) -> Any:
    """The id of a test user that has no row (no ``pytest_xaio_create_user`` hook): ``name``, or a
    UUID made from it when the app's user table has uuid keys (``postgres/user_table.py``).

    ``read_schema=False`` (a mock-DB test) uses what an earlier test read, and reads nothing itself.
    """
    from pytest_xaio.postgres.user_table import default_id

    session = _auth_session(config)
    if not session.user_key_read and read_schema:
        session.user_key_read = True
        session.user_key = _read_user_key(config)
        if session.user_key is not None and session.user_key[1] == "uuid":
            session.runtime.add_summary(
                f"xaio: no pytest_xaio_create_user hook: test users have no row; their ids (token sub) are UUIDs "
                f"because {session.user_key[0]} has uuid keys. Implement the hook so protected routes find the user."
            )
    return default_id(None if session.user_key is None else session.user_key[1], name)


def _read_user_key(config: pytest.Config) -> tuple[str, str] | None:
    """The user table's key type in the worker database, when the project has a schema at all."""
    settings = get_settings(config).postgres
    if settings.postgres == "none" or not (settings.migrations or settings.schema_sql):
        return None
    import psycopg

    from pytest_xaio.postgres.session import postgres_session
    from pytest_xaio.postgres.user_table import find_user_key

    export_env(config)
    workers = postgres_session(config).workers()
    with psycopg.connect(workers.worker_db.url, autocommit=True) as conn:
        return find_user_key(conn)


def session_keys(config: pytest.Config) -> KeyPair | None:
    """The session's key pair for RS*/PS*/ES* algorithms (``None`` for HS*), made on first use."""
    session = _auth_session(config)
    algorithm = _algorithm(session.settings.auth)
    if algorithm in _HMAC:
        return None
    if session.keys is None:
        path = session.settings.auth.jwt_private_key
        session.keys = (
            _load_private_key(session.settings.resolve_path(path), algorithm) if path else _generate_keys(algorithm)
        )
    return session.keys


def _secret_from(config: pytest.Config) -> str:
    settings = get_settings(config).auth
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.jwt_secret_from:
        export_env(config)  # the settings module may read the env when imported
        value = resolve_object(settings.jwt_secret_from, setting="xaio_jwt_secret_from", rootdir=str(config.rootpath))
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, bytes):
            value = value.decode()
        if not value:
            config_error(
                f"xaio_jwt_secret_from {settings.jwt_secret_from!r} is empty",
                "make the app's secret non-empty in the test environment (e.g. a SECRET_KEY xaio_env line)",
            )
        return str(value)
    config_error(
        "a test needs a signed JWT, but no signing secret is configured",
        "set xaio_jwt_secret = <the app's secret>, or xaio_jwt_secret_from = "
        "module:settings.SECRET_KEY to read it from the app",
    )


def token_factory(config: pytest.Config, user: Any = None) -> TokenFactory:
    """A :class:`TokenFactory` for this session's settings, bound to ``user``."""
    session = _auth_session(config)
    if session.factory is None:
        keys = session_keys(config)
        secret: Callable[[], str] | None = None if keys else (lambda: _secret_from(config))
        session.factory = TokenFactory(session.settings.auth, keys=keys, secret=secret)
    return session.factory.bind(user)


class TokenFactory:
    """Mints tokens for the app: valid ones for any user, and each kind of invalid one.

    Example::

        def test_expired(xaio_anon_client, xaio_token):
            r = xaio_anon_client.get("/api/me", headers=xaio_token.headers(xaio_token.expired()))
            assert r.status_code == 401
    """

    def __init__(
        self,
        settings: AuthSettings,
        *,
        secret: str | Callable[[], str] | None = None,
        keys: KeyPair | None = None,
        user: Any = None,
    ) -> None:
        self.settings = settings
        self.algorithm = _algorithm(settings)
        self.user = user
        self._secret = secret
        self._keys = keys
        if self.algorithm not in _HMAC and keys is None:
            self._keys = _generate_keys(self.algorithm)
        # shared with every bound copy: the resolved secret and the other key pair are made once
        self._shared: dict[str, Any] = {"secret": secret} if isinstance(secret, str) else {}

    def bind(self, user: Any) -> TokenFactory:
        """The same factory, minting for ``user`` by default (keys and secret are shared)."""
        other = copy.copy(self)
        other.user = user
        return other

    # --- what the app is given ------------------------------------------------------------------
    @property
    def public_key_pem(self) -> str:
        """The PEM public key the app verifies RS*/PS*/ES* tokens with."""
        return self._key_pair().public_key_pem

    def jwks(self) -> dict[str, Any]:
        """A JWKS document (``{"keys": [...]}``) with the session's public key, as a JWKS endpoint serves."""
        return {"keys": [self._key_pair().jwk()]}

    # --- valid tokens ---------------------------------------------------------------------------
    def claims(self, user: Any = None, **overrides: Any) -> dict[str, Any]:
        """The payload :meth:`for_user` signs; an override of ``None`` removes that claim."""
        user = self._user(user)
        now = int(time.time())
        payload: dict[str, Any] = {"iat": now}
        if "sub" not in overrides:  # an explicit claim wins without the template being filled
            payload["sub"] = str(_render(self.settings.jwt_subject or "{user.id}", user, "xaio_jwt_subject"))
        if self.settings.jwt_lifetime > 0:
            payload["exp"] = now + self.settings.jwt_lifetime
        if self.settings.jwt_audience:
            payload["aud"] = self.settings.jwt_audience
        if self.settings.jwt_issuer:
            payload["iss"] = self.settings.jwt_issuer
        for line in self.settings.jwt_claims:
            name, sep, template = line.partition("=")
            if not sep or not name.strip():
                config_error(f"xaio_jwt_claims line {line!r} is not name=value", "write each line as name=value")
            if name.strip() not in overrides:
                payload[name.strip()] = _claim_value(template.strip(), user)
        for name, value in overrides.items():
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        return payload

    def for_user(self, user: Any = None, **claims: Any) -> str:
        """A valid token for ``user`` (default: the bound user); ``claims`` add or replace claims."""
        return self._sign(self.claims(user, **claims))

    # --- tokens the app must refuse -------------------------------------------------------------
    def expired(self, user: Any = None) -> str:
        """Signed correctly, but its ``exp`` is an hour in the past."""
        now = int(time.time())
        return self._sign(self.claims(user, iat=now - _PAST - 60, exp=now - _PAST))

    def not_yet_valid(self, user: Any = None) -> str:
        """Signed correctly, but its ``nbf`` is an hour in the future."""
        return self._sign(self.claims(user, nbf=int(time.time()) + _PAST))

    def wrong_signature(self, user: Any = None) -> str:
        """Valid claims and header (same algorithm and ``kid``), signed with another key."""
        payload = self.claims(user)
        if self.algorithm in _HMAC:
            return self._encode(payload, self._secret_value() + "-xaio-wrong-signature-key", None)
        if "wrong_keys" not in self._shared:
            self._shared["wrong_keys"] = _generate_keys(self.algorithm)
        return self._encode(payload, self._shared["wrong_keys"].private_key, self._key_pair().kid)

    def wrong_audience(self, user: Any = None) -> str:
        """Signed correctly, for another audience."""
        return self._sign(self.claims(user, aud=_WRONG_AUDIENCE))

    def wrong_issuer(self, user: Any = None) -> str:
        """Signed correctly, from another issuer."""
        return self._sign(self.claims(user, iss=_WRONG_ISSUER))

    def alg_none(self, user: Any = None) -> str:
        """Valid claims with ``alg: none`` and no signature (the classic forgery)."""
        header = {"alg": "none", "typ": "JWT"}
        return f"{_b64(header)}.{_b64(self.claims(user))}."

    def malformed(self) -> str:
        """Three dot-separated parts that are not a JWT (the header is not base64 JSON)."""
        return "xaio-malformed.not-a.jwt"

    # --- headers --------------------------------------------------------------------------------
    def headers(self, token: str | None = None) -> dict[str, str]:
        """``{"Authorization": "Bearer <token>"}``; with no token, a valid one for the bound user."""
        return {"Authorization": f"Bearer {self.for_user() if token is None else token}"}

    # --- internals ------------------------------------------------------------------------------
    def _user(self, user: Any) -> Any:
        if user is not None:
            return user
        return self.user if self.user is not None else default_user()

    def _key_pair(self) -> KeyPair:
        if self._keys is None:
            raise ValueError(
                f"{self.algorithm} tokens are signed with a shared secret; there is no public key "
                "(set xaio_jwt_algorithm = RS256 or ES256 for a key pair)"
            )
        return self._keys

    def _secret_value(self) -> str:
        if "secret" not in self._shared:
            if self._secret is None or isinstance(self._secret, str):
                config_error(
                    "a test needs a signed JWT, but no signing secret is configured",
                    "set xaio_jwt_secret, or xaio_jwt_secret_from = module:settings.SECRET_KEY",
                )
            self._shared["secret"] = self._secret()
        return str(self._shared["secret"])

    def _sign(self, payload: dict[str, Any]) -> str:
        if self.algorithm in _HMAC:
            return self._encode(payload, self._secret_value(), None)
        keys = self._key_pair()
        return self._encode(payload, keys.private_key, keys.kid)

    def _encode(self, payload: dict[str, Any], key: Any, kid: str | None) -> str:
        # The same claims, key and header sign to an equally valid token: a matrix run asks for the
        # same user's token in the same second a hundred times, and signing is most of its cost.
        try:
            by_value = isinstance(key, (str, bytes))  # a secret; a private key object counts by identity
            memo_key: Any = (
                json.dumps(payload, sort_keys=True),  # claims JSON cannot carry (a datetime) are not remembered
                key if by_value else id(key),
                kid,
                self.algorithm,
            )
        except (TypeError, ValueError):
            memo_key = None
        memo = self._shared.setdefault("signed", {})
        held = memo.get(memo_key) if memo_key is not None else None
        if held is not None and (by_value or held[0] is key):  # the key is held, so its id stays its own
            return str(held[1])
        token = self._encode_now(payload, key, kid)
        if memo_key is not None:
            if len(memo) >= _SIGNED_HELD:
                memo.clear()
            memo[memo_key] = (key, token)
        return token

    def _encode_now(self, payload: dict[str, Any], key: Any, kid: str | None) -> str:
        try:
            import jwt
        except ImportError:
            missing_extra("jwt", "fastapi", "minting test tokens")
        headers = {"kid": kid} if kid else None
        with warnings.catch_warnings():
            # A short secret is the app's choice; the app warns about it, the tests need not.
            insecure = getattr(jwt, "InsecureKeyLengthWarning", None)  # PyJWT >= 2.11; older ones do not warn
            if insecure is not None:
                warnings.simplefilter("ignore", insecure)
            try:
                return jwt.encode(payload, key, algorithm=self.algorithm, headers=headers)
            except (TypeError, ValueError, jwt.InvalidKeyError) as exc:
                config_error(
                    f"could not sign a {self.algorithm} token: {exc}",
                    "check that xaio_jwt_private_key matches xaio_jwt_algorithm",
                )


def _b64(data: Mapping[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class _UserView:
    """Lets ``{user.id}`` read attributes of objects and keys of mappings alike."""

    def __init__(self, user: Any) -> None:
        self._user = user

    def __getattr__(self, name: str) -> Any:
        return _attr(self._user, name)

    def __getitem__(self, name: str) -> Any:
        return _attr(self._user, name)


def _attr(user: Any, name: str) -> Any:
    if isinstance(user, Mapping):
        if name in user:
            return user[name]
    elif hasattr(user, name):
        return getattr(user, name)
    elif hasattr(user, "_mapping") and name in user._mapping:  # SQLAlchemy / psycopg rows
        return user._mapping[name]
    raise AttributeError(name)


def _render(template: str, user: Any, setting: str) -> Any:
    single = _SINGLE.match(template)
    try:
        if single:
            return _attr(user, single.group(1))
        return template.format(user=_UserView(user))
    except (AttributeError, KeyError, IndexError, ValueError) as exc:
        config_error(
            f"{setting} {template!r} could not be filled from the user {user!r}: {exc!r}",
            "use attributes the user has ({user.id}, {user.email}...) or return them from pytest_xaio_create_user",
        )


def _claim_value(template: str, user: Any) -> Any:
    """A claim keeps the user attribute's type for a lone ``{user.x}``; a literal is read as JSON when it is."""
    if _TEMPLATE.search(template):
        return _render(template, user, "xaio_jwt_claims")
    try:
        return json.loads(template)
    except ValueError:
        return template
