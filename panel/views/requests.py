"""What views read from the request beyond their forms: the client, a page to go back to."""

from urllib.parse import urlsplit

from flask import request

from panel.services.audit import Client


def current_client() -> Client:
    """The request's client, for the audit log. `remote_addr` is the proxy-corrected address
    when the operator trusts proxies (ProxyFix), the socket's peer otherwise."""
    return Client(ip_address=request.remote_addr, user_agent=request.user_agent.string)


def same_site_path(url: str | None) -> str | None:
    """The path (and query) of `url` when it is a page of this site, else None: what a `next`
    parameter or a Referer may send the browser back to."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    return path
