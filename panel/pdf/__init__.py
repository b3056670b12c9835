"""PDF documents: Jinja templates in `templates/pdf/` rendered to A4 by WeasyPrint.

A document loads nothing: its styles are inline, its fonts come from the system (BIZ UDGothic,
Morisawa's universal-design gothic, installed by dev.sh), and any URL in it (file:, http:,
data: alike) is refused, so no customer text can make the renderer read a file or call out.

Documents are kept seven years, so they are PDF/A-3b (archival), and tagged, so a screen
reader can read them. BIZ UDGothic is a TrueType font: its subset of the few hundred glyphs a
document uses is small (an invoice is about 40 KB; Noto Sans CJK's CFF subsets made it 250 KB).
Its full-width characters are all one width, so a PDF's text is extracted as it was written."""

from flask import render_template
from weasyprint import HTML
from weasyprint.urls import URLFetcher


class FetchRefused(ValueError):
    pass


class RefuseEveryURL(URLFetcher):
    """WeasyPrint logs the refusal and renders the document without the resource."""

    def fetch(self, url, headers=None):
        raise FetchRefused(f"a document loads nothing from outside: {url}")


def html_to_pdf(html: str) -> bytes:
    return HTML(string=html, url_fetcher=RefuseEveryURL()).write_pdf(
        pdf_variant="pdf/a-3b", pdf_tags=True
    )


def render_pdf(template: str, **context) -> bytes:
    """The PDF of a template in `templates/pdf/` (autoescaped like every page)."""
    return html_to_pdf(render_template(template, **context))
