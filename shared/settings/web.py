"""The reference web app: authentication, proxies, the responder."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.base import setting


@dataclass(frozen=True)
class WebSettings:
    jwt_secret: str | None = setting(
        "JWT_SECRET",
        None,
        "HS256 secret of bearer tokens. Unset: tokens are refused and admin endpoints answer 401.",
        secret=True,
    )
    trusted_proxies: tuple[str, ...] = setting(
        "TRUSTED_PROXIES",
        (),
        "Comma-separated proxy addresses/CIDRs whose X-Forwarded-For is honoured.",
    )
    responder: str = setting(
        "CHAT_RESPONDER",
        "shared.responder:demo_responder",
        "`module:callable` that answers a chat message (default: a deterministic demo).",
    )
