"""OIDC bearer tokens for the REST API: JWTs verified against a configured issuer's JWKS
(signature, issuer, audience, expiry), mapped to a ``Principal``. The site's identity
provider (Keycloak, the EOSC / EGI Check-in AAI ...) then issues the tokens, not us."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from orchestrator.errors import UsageError
from orchestrator.service import Principal

__all__ = ["OidcVerifier"]

# Asymmetric only: an HMAC algorithm would let anyone holding the public key sign.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


@dataclass
class OidcVerifier:
    """``issuer`` is the ``iss`` every token must carry; ``audience`` its ``aud``. The JWKS
    is found through the issuer's discovery document unless ``jwks_url`` is given; keys are
    cached and fetched again on an unknown key id (key rotation)."""

    issuer: str
    audience: str
    jwks_url: str | None = None
    user_claim: str = "preferred_username"
    admin_group: str | None = None
    _jwks: Any = field(default=None, init=False, repr=False)

    def _client(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            url = self.jwks_url
            if url is None:
                discovery = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
                try:
                    response = httpx.get(discovery, timeout=10)
                    response.raise_for_status()
                    url = str(response.json()["jwks_uri"])
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    raise UsageError(f"OIDC issuer {self.issuer}: no JWKS from {discovery}: "
                                     f"{exc}") from None  # fmt: skip
            self._jwks = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600)
        client: jwt.PyJWKClient = self._jwks
        return client

    def verify(self, token: str) -> Principal | None:
        """The caller a valid token names, or None (bad signature, issuer, audience,
        expired, or no user claim)."""
        try:
            key = self._client().get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token, key.key, algorithms=ALGORITHMS, audience=self.audience,
                issuer=self.issuer, options={"require": ["exp", "iss", "aud"]},
            )  # fmt: skip
        except (jwt.PyJWTError, UsageError):
            return None
        user = claims.get(self.user_claim) or claims.get("sub")
        if not isinstance(user, str) or not user or any(c.isspace() or c == ":" for c in user):
            return None
        groups = claims.get("groups") or []
        admin = self.admin_group is not None and self.admin_group in groups
        return Principal(user, "admin" if admin else "user")
