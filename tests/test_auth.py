"""Tokens the app accepts and each kind it must refuse, HS256 / RS256 / ES256, against a real app."""

from __future__ import annotations

import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import jwt
import pytest

from pytest_xaio.auth import TokenFactory
from pytest_xaio.config import AuthSettings

APPS = Path(__file__).parent / "apps"
SECRET = "auth-app-secret-0123456789abcdef0123456789abcdef"


def make_project(pytester: pytest.Pytester, *lines: str) -> pytest.Pytester:
    shutil.copy(APPS / "auth_app.py", pytester.path / "auth_app.py")
    ini = "\n".join(
        [
            "[pytest]",
            "xaio_app = auth_app:app",
            "xaio_postgres = none",
            "asyncio_default_fixture_loop_scope = function",
            *lines,
        ]
    )
    pytester.makeini(ini + "\n")
    return pytester


REJECTS_BAD_TOKENS = """
import pytest

KINDS = ["expired", "not_yet_valid", "wrong_signature", "wrong_audience", "alg_none", "malformed"]

def test_valid(xaio_client, xaio_token):
    claims = xaio_client.get("{route}").json()
    assert claims["sub"] == "xaio-test-user"
    assert claims["exp"] - claims["iat"] == 900

@pytest.mark.parametrize("kind", KINDS)
def test_rejected(xaio_anon_client, xaio_token, kind):
    response = xaio_anon_client.get("{route}", headers=xaio_token.headers(getattr(xaio_token, kind)()))
    assert response.status_code == 401, response.text

def test_missing_header(xaio_anon_client):
    assert xaio_anon_client.get("{route}").status_code == 401
"""


def test_hs256_tokens_accepted_and_refused(pytester: pytest.Pytester) -> None:
    project = make_project(
        pytester,
        f"xaio_jwt_secret = {SECRET}",
        "xaio_jwt_audience = api",
        "xaio_jwt_issuer = https://auth.example.com",
        "xaio_env =",
        f"    SECRET_KEY={SECRET}",
        "    JWT_AUDIENCE=api",
        "    JWT_ISSUER=https://auth.example.com",
    )
    project.makepyfile(REJECTS_BAD_TOKENS.format(route="/me"))
    project.runpytest().assert_outcomes(passed=8)


def test_secret_read_from_the_app(pytester: pytest.Pytester) -> None:
    project = make_project(
        pytester, "xaio_jwt_secret_from = auth_app:settings.secret_key", "xaio_env =", f"    SECRET_KEY={SECRET}"
    )
    project.makepyfile("""
        def test_valid(xaio_client):
            assert xaio_client.get("/me").status_code == 200
    """)
    project.runpytest().assert_outcomes(passed=1)


def test_secret_read_from_the_environment(pytester: pytest.Pytester) -> None:
    project = make_project(
        pytester, "xaio_jwt_secret_from = os:environ.SECRET_KEY", "xaio_env =", f"    SECRET_KEY={SECRET}"
    )
    project.makepyfile("""
        def test_valid(xaio_client):
            assert xaio_client.get("/me").status_code == 200
    """)
    project.runpytest().assert_outcomes(passed=1)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_key_pair_through_the_env(pytester: pytest.Pytester, algorithm: str) -> None:
    project = make_project(
        pytester,
        f"xaio_jwt_algorithm = {algorithm}",
        "xaio_jwt_public_key_env = JWT_PUBLIC_KEY",
        "xaio_env =",
        f"    JWT_ALGORITHM={algorithm}",
    )
    project.makepyfile(
        REJECTS_BAD_TOKENS.format(route="/me")
        + """
def test_header(xaio_token):
    assert jwt.get_unverified_header(xaio_token.for_user())["alg"] == "{alg}"
import jwt
""".replace("{alg}", algorithm)
    )
    project.runpytest().assert_outcomes(passed=9)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_key_pair_through_jwks(pytester: pytest.Pytester, algorithm: str) -> None:
    project = make_project(
        pytester, f"xaio_jwt_algorithm = {algorithm}", "xaio_env =", f"    JWT_ALGORITHM={algorithm}"
    )
    project.makeconftest("""
        import pytest

        @pytest.fixture(autouse=True)
        def _hand_jwks_to_the_app(xaio_app, xaio_token):
            import auth_app
            auth_app.JWKS = xaio_token.jwks()
    """)
    project.makepyfile(REJECTS_BAD_TOKENS.format(route="/me-jwks"))
    project.runpytest().assert_outcomes(passed=8)


def test_private_key_file(pytester: pytest.Pytester) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (pytester.path / "jwt.pem").write_bytes(pem)
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    project = make_project(pytester, "xaio_jwt_algorithm = ES256", "xaio_jwt_private_key = jwt.pem")
    project.makepyfile(f"""
        import jwt

        def test_signed_with_the_file(xaio_token):
            assert jwt.decode(xaio_token.for_user(), {public!r}, algorithms=["ES256"])["sub"] == "xaio-test-user"
            assert xaio_token.public_key_pem == {public!r}
    """)
    project.runpytest().assert_outcomes(passed=1)


def test_claim_templates(pytester: pytest.Pytester) -> None:
    project = make_project(
        pytester,
        f"xaio_jwt_secret = {SECRET}",
        "xaio_jwt_subject = user:{user.id}",
        "xaio_jwt_lifetime = 60",
        "xaio_jwt_claims =",
        "    email={user.email}",
        "    org={user.org_id}",
        "    label=org-{user.org_id}",
        '    roles=["admin"]',
        "    scope=read write",
        "xaio_env =",
        f"    SECRET_KEY={SECRET}",
    )
    project.makepyfile("""
        def test_claims(xaio_user_factory, xaio_token, xaio_anon_client):
            user = xaio_user_factory(email="a@example.com", org_id=7)
            claims = xaio_anon_client.get("/me", headers=xaio_token.headers(xaio_token.for_user(user))).json()
            assert claims["sub"] == "user:xaio-test-user"
            assert claims["email"] == "a@example.com"
            assert claims["org"] == 7 and claims["label"] == "org-7"
            assert claims["roles"] == ["admin"] and claims["scope"] == "read write"
            assert claims["exp"] - claims["iat"] == 60

        def test_overrides(xaio_token):
            claims = jwt.decode(xaio_token.for_user(exp=None, email="x@example.com", org=None, scope=None,
                                                    label=None, roles=None, extra=1),
                                options={"verify_signature": False})
            assert set(claims) == {"sub", "iat", "email", "extra"}
        import jwt
    """)
    project.runpytest().assert_outcomes(passed=2)


def test_missing_secret_is_one_usage_error(pytester: pytest.Pytester) -> None:
    project = make_project(pytester)
    project.makepyfile("""
        def test_a(xaio_client): pass
        def test_b(xaio_client): pass
    """)
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["*no signing secret is configured*", "*fix: set xaio_jwt_secret*"])
    assert "Traceback" not in result.stdout.str()


def test_anon_client_needs_no_secret(pytester: pytest.Pytester) -> None:
    project = make_project(pytester)
    project.makepyfile("def test_a(xaio_anon_client): assert xaio_anon_client.get('/me').status_code == 401")
    project.runpytest().assert_outcomes(passed=1)


def test_unknown_algorithm_is_a_usage_error(pytester: pytest.Pytester) -> None:
    project = make_project(pytester, "xaio_jwt_algorithm = XS999", f"xaio_jwt_secret = {SECRET}")
    project.makepyfile("def test_a(xaio_token): pass")
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["*xaio_jwt_algorithm 'XS999' is not supported*"])


# --- the factory on its own (no app) ----------------------------------------------------------------
def hs256(**changes: object) -> TokenFactory:
    return TokenFactory(AuthSettings(**changes), secret=SECRET)  # type: ignore[arg-type]


def decode(token: str, **kwargs: object) -> dict[str, object]:
    return dict(jwt.decode(token, SECRET, algorithms=["HS256"], **kwargs))  # type: ignore[arg-type]


def test_each_bad_token_fails_for_its_own_reason() -> None:
    tokens = hs256(jwt_audience="api")
    assert decode(tokens.for_user(), audience="api")["sub"] == "xaio-test-user"
    with pytest.raises(jwt.ExpiredSignatureError):
        decode(tokens.expired(), audience="api")
    with pytest.raises(jwt.ImmatureSignatureError):
        decode(tokens.not_yet_valid(), audience="api")
    with pytest.raises(jwt.InvalidSignatureError):
        decode(tokens.wrong_signature(), audience="api")
    with pytest.raises(jwt.InvalidAudienceError):
        decode(tokens.wrong_audience(), audience="api")
    with pytest.raises(jwt.InvalidIssuerError):
        decode(hs256(jwt_issuer="me").wrong_issuer(), issuer="me")
    with pytest.raises(jwt.InvalidAlgorithmError):
        decode(tokens.alg_none(), audience="api")
    with pytest.raises(jwt.DecodeError):
        decode(tokens.malformed())
    assert jwt.get_unverified_header(tokens.alg_none()) == {"alg": "none", "typ": "JWT"}


def test_user_objects_mappings_and_rows() -> None:
    tokens = hs256()

    class User:
        id = 5

    assert decode(tokens.for_user(User()))["sub"] == "5"
    assert decode(tokens.for_user({"id": 6}))["sub"] == "6"
    assert decode(tokens.bind({"id": 8}).for_user())["sub"] == "8"
    assert tokens.headers("abc") == {"Authorization": "Bearer abc"}


def test_json_literals_are_not_templates() -> None:
    tokens = hs256(jwt_claims=('meta={"username": "u", "admin": true}', "n=3", "label=org-{user.id}"))
    claims = decode(tokens.for_user({"id": 4}))
    assert claims["meta"] == {"username": "u", "admin": True}
    assert claims["n"] == 3
    assert claims["label"] == "org-4"


def test_lifetime_zero_means_no_exp() -> None:
    claims = decode(hs256(jwt_lifetime=0).for_user(), options={"require": []})
    assert "exp" not in claims
    iat = claims["iat"]
    assert isinstance(iat, int)
    assert iat <= int(time.time())


def test_hs256_has_no_public_key() -> None:
    with pytest.raises(ValueError, match="no public key"):
        hs256().jwks()


def test_the_same_claims_are_signed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run of matrix cases asks for one user's token many times a second: the same claims, key and
    header give back the token already signed; anything that differs is signed anew, and valid."""
    tokens = hs256()
    signed: list[dict[str, object]] = []
    real_encode = jwt.encode

    def counting_encode(payload: dict[str, object], *args: object, **kwargs: object) -> str:
        signed.append(dict(payload))
        return real_encode(payload, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "encode", counting_encode)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)  # one second for the whole test
    first = tokens.for_user({"id": 1})
    assert tokens.for_user({"id": 1}) == first
    assert tokens.bind({"id": 1}).headers() == {"Authorization": f"Bearer {first}"}  # bound copies share it
    assert len(signed) == 1
    other = tokens.for_user({"id": 2})
    wrong = tokens.wrong_signature({"id": 1})
    assert len(signed) == 3
    assert other != first
    assert tokens.wrong_signature({"id": 1}) == wrong  # the wrong key is a new string each time: same value
    assert len(signed) == 3
    assert decode(other, options={"verify_exp": False})["sub"] == "2"
    with pytest.raises(jwt.InvalidSignatureError):
        decode(wrong, options={"verify_exp": False})
    # A claim JSON cannot carry is signed every time (a datetime and its text are different tokens).
    when = datetime(2030, 1, 1, tzinfo=timezone.utc)
    tokens.for_user({"id": 1}, exp=when)
    tokens.for_user({"id": 1}, exp=when)
    assert len(signed) == 5
    assert tokens.for_user({"id": 1}, exp=str(when)) != tokens.for_user({"id": 1}, exp=when)
