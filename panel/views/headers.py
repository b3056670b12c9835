"""Security headers on every response."""

from flask import Flask
from flask_login import current_user

#: What the browser may load and do: only this site's own scripts, styles and images (the QR
#: code is inline SVG markup, not an image), no plugins, and no framing by any site.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")  # frame-ancestors for older browsers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        if app.config["HTTPS"]:
            headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        # Signed-in pages show the account: no cache (nor the back button) may keep them.
        if current_user and current_user.is_authenticated:
            headers["Cache-Control"] = "no-store"
        return response
