"""The configurations of ``shared/spec/cors.md`` ("Cases every build must pass")."""

from __future__ import annotations

from firehouse.cors.policy import CorsPolicy, parse_policy

C1 = parse_policy(
    {"origins": ["https://localhost:6001"], "headers": ["*"], "methods": ["*"], "maxAge": 1440}
)
C2 = parse_policy(
    {
        "origins": ["https://a.example", "https://b.example"],
        "headers": ["authorization", "content-type"],
        "methods": ["GET", "PUT"],
        "allowCredentials": True,
    }
)
C3 = parse_policy({"origins": ["*"], "headers": ["*"], "methods": ["*"]})
OFF = CorsPolicy()

CONFIGS = {"C1": C1, "C2": C2, "C3": C3, "off": OFF}
