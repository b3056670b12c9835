"""Every page a customer can open passes the Nu HTML Checker (vnu.jar) and axe-core.

The checkers come from package-lock.json (`npm ci` in ./dev.sh): vnu.jar runs on the machine's
Java, once over all the pages (the JVM is slow to start), and axe-core is injected into each page
in Chromium. The pages and who opens them are in page_tour.py.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.conftest import csrf_token
from tests.e2e.conftest import browser_context
from tests.e2e.page_tour import PASSWORD, STAFF_LOGINS, Visit, prepare_tour, staff_code

NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_SCRIPT = NODE_MODULES / "axe-core" / "axe.min.js"
MISSING_TOOLS = "the page checkers are not installed: ./dev.sh test installs them (npm ci)"

#: htmx's attributes are not HTML's: the checker's one complaint about them, and no other, is
#: set aside ("data-hx-*" would pass, but htmx documents and this panel uses "hx-*").
HTMX_ATTRIBUTE = re.compile(
    r"Attribute “hx-[a-z-]+” not allowed on element “[a-z0-9]+” at this point\."
)


def _check_arrival(visit: Visit, status: int, path: str, page_html: str) -> None:
    """The page reached is the one the visit means, not a login page or an error instead."""
    where = f"{visit.name}: {path}"
    assert status == visit.status, f"{where} answered {status}, not {visit.status}"
    assert f"<h1>{visit.heading}</h1>" in page_html, f"{where} is not {visit.heading}"
    assert visit.shows in page_html, f"{where} does not show {visit.shows!r}"


class ClientVisitor:
    """Takes the tour with the app's test client: the HTML exactly as the server sends it."""

    def __init__(self, app):
        self.app = app
        self.clients = {}

    def _client(self, user: str | None):
        if user is None:
            return self.app.test_client()  # a fresh visitor each time
        if user not in self.clients:
            client = self.app.test_client()
            login = "/staff/login" if user in STAFF_LOGINS else "/login"
            data = {"login_id": user, "password": PASSWORD, "csrf_token": csrf_token(client, login)}
            assert client.post(login, data=data).status_code == 302, f"{user} cannot log in"
            if user in STAFF_LOGINS:
                code = {"code": staff_code(user), "csrf_token": csrf_token(client, f"{login}/code")}
                response = client.post(f"{login}/code", data=code)
                assert response.status_code == 302, f"{user} cannot log in"
            self.clients[user] = client
        return self.clients[user]

    def open(self, visit: Visit) -> tuple[str, str]:
        """The page's HTML, and the path it was served from."""
        client = self._client(visit.user)
        response = client.get(visit.path)
        if visit.post:
            form_page = response.get_data(as_text=True)
            response = client.post(
                visit.post, data=visit.form_fields(form_page), follow_redirects=True
            )
        page_html, path = response.get_data(as_text=True), response.request.path
        _check_arrival(visit, response.status_code, path, page_html)
        return page_html, path


#: Sends a form as the page's own would (a POST navigation), without any markup of ours.
SUBMIT_FORM = """([action, fields]) => {
  const form = document.createElement("form");
  form.method = "post";
  form.action = action;
  for (const [name, value] of Object.entries(fields)) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
}"""


class BrowserVisitor:
    """Takes the tour in Chromium against the live server: one browser context per user."""

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.pages = {}
        self.contexts = []

    def _new_page(self):
        context = browser_context(self.browser)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    def _page(self, user: str | None):
        if user is None:
            return self._new_page()
        if user not in self.pages:
            page = self._new_page()
            if user in STAFF_LOGINS:
                page.goto(f"{self.base_url}/staff/login")
                page.get_by_label("ログインID").fill(user)
                page.get_by_label("パスワード").fill(PASSWORD)
                page.get_by_role("button", name="次へ").click()
                page.get_by_label("確認コード").fill(staff_code(user))
                page.get_by_role("button", name="ログイン").click()
            else:
                page.goto(f"{self.base_url}/login")
                page.get_by_label("会員ID").fill(user)
                page.get_by_label("パスワード").fill(PASSWORD)
                page.get_by_role("button", name="ログイン").click()
            expect(page).not_to_have_url(re.compile(r"/login"))
            self.pages[user] = page
        return self.pages[user]

    def open(self, visit: Visit):
        """The browser's page showing the visit's page (its path is `urlsplit(page.url)`)."""
        page = self._page(visit.user)
        response = page.goto(f"{self.base_url}{visit.path}")
        if visit.post:
            fields = visit.form_fields(page.content())
            with page.expect_navigation() as navigation:
                page.evaluate(SUBMIT_FORM, [visit.post, fields])
            response = navigation.value
        _check_arrival(visit, response.status, urlsplit(page.url).path, page.content())
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def nu_html_errors(pages: dict[Path, str]) -> list[str]:
    """Every error the Nu HTML Checker finds in the files, as `page name: line: message`."""
    java = shutil.which("java")
    assert java and VNU_JAR.is_file(), MISSING_TOOLS
    checked = subprocess.run(  # noqa: S603 (our own files, no shell)
        [java, "-jar", str(VNU_JAR), "--format", "json", "--stdout", *map(str, pages)],
        capture_output=True,
        text=True,
        timeout=600,  # seconds: it takes a few, but a machine short of memory is slow
    )
    assert checked.stdout, f"vnu.jar said nothing (exit {checked.returncode}): {checked.stderr}"
    names = {path.name: name for path, name in pages.items()}
    errors = []
    for message in json.loads(checked.stdout)["messages"]:
        if message["type"] not in ("error", "non-document-error"):
            continue  # warnings and notes
        if HTMX_ATTRIBUTE.fullmatch(message.get("message", "")):
            continue
        page = names.get(Path(urlsplit(message.get("url", "")).path).name, message.get("url"))
        line = message.get("lastLine", "?")
        extract = " ".join(message.get("extract", "").split())
        errors.append(f"{page}: line {line}: {message['message']} [{extract}]")
    return errors


def test_every_page_passes_the_nu_html_checker(app, tmp_path):
    visitor = ClientVisitor(app)
    pages = {}
    for number, visit in enumerate(prepare_tour(), 1):
        page_html, served_from = visitor.open(visit)
        path = tmp_path / f"page-{number:02d}.html"
        path.write_text(page_html, encoding="utf-8")
        pages[path] = f"{visit.name} ({served_from})"

    errors = nu_html_errors(pages)

    assert not errors, f"{len(errors)} HTML errors:\n" + "\n".join(errors)


#: axe-core's default rules (WCAG 2.x A and AA, and best practices) on the whole page.
RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map((violation) => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    targets: violation.nodes.map((node) => node.target.join(" ")),
  }));
}"""


def test_every_page_passes_axe_core(live_server, browser):
    assert AXE_SCRIPT.is_file(), MISSING_TOOLS
    axe = AXE_SCRIPT.read_text(encoding="utf-8")
    visitor = BrowserVisitor(browser, live_server)
    violations = []
    try:
        for visit in prepare_tour():
            page = visitor.open(visit)
            # Evaluated through the DevTools protocol, not as an inline script: the CSP stays.
            page.evaluate(axe)
            for found in page.evaluate(RUN_AXE):
                violations.append(
                    f"{visit.name} ({urlsplit(page.url).path}): {found['id']} ({found['impact']}) "
                    f"{found['help']}: {', '.join(found['targets'])}"
                )
    finally:
        visitor.close()

    assert not violations, f"{len(violations)} axe-core violations:\n" + "\n".join(violations)
