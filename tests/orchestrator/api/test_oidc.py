"""OIDC bearer JWTs: a key pair made here, its JWKS and discovery document served by a real
HTTP server on loopback; valid tokens are accepted as their user (admins by group), and a
wrong signature, issuer, audience, an expired token or an HMAC-signed one are 401."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from orchestrator.api.oidc import OidcVerifier
from tests.support.api_server import WF, Api, running_api

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture()
def issuer() -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    jwk.update(kid="k1", use="sig", alg="RS256")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            discovery = {"issuer": base, "jwks_uri": base + "/jwks"}
            docs = {"/.well-known/openid-configuration": discovery, "/jwks": {"keys": [jwk]}}
            body = json.dumps(docs.get(self.path, {})).encode()
            self.send_response(200 if self.path in docs else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture()
def api(tmp_path: Path, issuer: str) -> Iterator[Api]:
    with running_api(tmp_path, OidcVerifier(issuer, "tosca", admin_group="duty")) as running:
        yield running


def _token(issuer: str, key=KEY, **claims: object) -> str:
    now = int(time.time())
    body = {"iss": issuer, "aud": "tosca", "exp": now + 300, "iat": now,
            "sub": "u-1", "preferred_username": "carol", **claims}  # fmt: skip
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})


def _get(api: Api, path: str, token: str) -> httpx.Response:
    return httpx.get(api.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_a_valid_jwt_is_its_user_and_owns_what_it_triggers(api: Api, issuer: str) -> None:
    token = _token(issuer)
    assert _get(api, "/workflows", token).status_code == 200
    made = httpx.post(f"{api.url}/workflows/{WF}", json={"inputs": {"magnitude": "7"}},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
    assert made.status_code == 201, made.text
    execution_id = made.json()["id"]
    assert api.service.store.owner_of(execution_id) == "carol"
    # Another OIDC user does not see it; an admin by group does; tosca_ tokens still work.
    path = f"/executions/{execution_id}"
    assert _get(api, path, _token(issuer, preferred_username="dan")).status_code == 404
    assert _get(api, path, _token(issuer, groups=["duty"])).status_code == 200
    assert _get(api, "/workflows", api.tokens["alice"]).status_code == 200


@pytest.mark.parametrize(
    "change",
    ["other key", "other issuer", "other audience", "expired", "hmac", "no user", "garbage"],
)
def test_bad_jwts_are_refused(api: Api, issuer: str, change: str) -> None:
    tokens = {
        "other key": lambda: _token(issuer, key=OTHER),
        "other issuer": lambda: _token(issuer, iss="https://evil.example.org"),
        "other audience": lambda: _token(issuer, aud="someone-else"),
        "expired": lambda: _token(issuer, exp=int(time.time()) - 60),
        "hmac": lambda: jwt.encode(
            {
                "iss": issuer,
                "aud": "tosca",
                "exp": int(time.time()) + 60,
                "preferred_username": "carol",
            },
            "secret",
            algorithm="HS256",
            headers={"kid": "k1"},
        ),  # fmt: skip
        "no user": lambda: _token(issuer, preferred_username=None, sub=None),
        "garbage": lambda: "a.b.c",
    }
    assert _get(api, "/workflows", tokens[change]()).status_code == 401
