"""Reset by link and self-service in a real browser: Debian's headless
Chromium driven by Selenium (the system chromedriver; nothing is
downloaded), the pages served by ``helpdesk web``'s application, the
passwords applied by the ldap backend to a real slapd, which a bind then
confirms; the link taken from the email aiosmtpd captured, the code from
what the SMS command was given."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from . import forms, mails
from .conftest import Networked, run_helpdesk
from .test_e2e_documents import documents
from .web_server import WebServer, any_port, links_in, web_sections

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
OLD = "Vieja-Clave-2024"
GOOD = "Cordillera-Nevada-58"


@pytest.fixture
def browser(tmp_path):
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.fail("chromium and chromium-driver are not installed: run scripts/test, which installs them")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=420,900",
                     f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(tmp_path / "chromium", ignore_errors=True)


def fill(driver, button: str = "button[type=submit]", **fields) -> None:
    """Type into the fields, press the button, and wait for the next page
    (a click returns before a form's POST has loaded its answer)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    for name, value in fields.items():
        element = driver.find_element(By.NAME, name)
        element.clear()
        element.send_keys(value)
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, button).click()
    WebDriverWait(driver, 15).until(expected_conditions.staleness_of(page))


def office(tmp_path, dovecot, smtp_server, slapd, **extra) -> tuple[Networked, int]:
    port = any_port()
    env = Networked(tmp_path / "h", dovecot, smtp_server, reset={
        "backend": "ldap", "ldap_url": slapd.ldaps_url, "ldap_security": "ssl", "ldap_ca_file": str(slapd.ca_path),
        "ldap_bind_dn": slapd.admin_dn, "password": slapd.admin_password, "ldap_base": slapd.base,
        "delivery": "link"}, web=web_sections(port), **extra)
    return env, port


def test_from_the_emailed_link_to_a_new_password_in_chromium(tmp_path, dovecot, smtp_server, slapd, browser):
    account = "contactenos@alcaldia-prueba.gov.co"
    dn = slapd.add_user("contactenos", account, OLD)
    env, port = office(tmp_path, dovecot, smtp_server, slapd)
    excel = forms.filled_template(tmp_path, accounts=[("Correo electrónico", account)])
    env.deliver(mails.request(attachments=documents(tmp_path, excel=excel)))
    [outcome] = env.run_once()
    approved = run_helpdesk("--config", env.config_path, "approve", outcome.radicado, "--by", "Ana", timeout=60)
    assert approved.returncode == 0, approved.stderr
    assert smtp_server.wait_for(3, timeout=10)
    [email] = [m for m in smtp_server.snapshot() if m.message["X-Helpdesk-Kind"] == "reset_link"]
    assert email.rcpt_tos == ["despacho@alcaldia-prueba.gov.co"]
    [url] = links_in(email.message.get_body(("plain",)).get_content(), f"http://127.0.0.1:{port}")
    with WebServer(env.config, port):
        browser.get(url)
        assert account in browser.page_source
        fill(browser, password="debil", confirm="debil")
        assert "al menos 8 caracteres." in browser.page_source, browser.find_element("tag name", "h1").text
        browser.save_screenshot(str(tmp_path / "refused.png"))
        fill(browser, password=GOOD, confirm=GOOD)
        assert "Se ha actualizado la contraseña" in browser.page_source
        browser.save_screenshot(str(tmp_path / "done.png"))
        assert slapd.can_bind(dn, GOOD) and not slapd.can_bind(dn, OLD)
        browser.get(url)
        assert "Este enlace ya no es válido" in browser.page_source
    assert env.store.one("SELECT state FROM tickets")[0] == "resolved"


def test_self_service_by_sms_code_in_chromium(tmp_path, dovecot, smtp_server, slapd, browser):
    dn = slapd.add_user("mlopez", "mlopez@entidad.gov.co", OLD)
    with slapd._admin() as conn:  # the registered phone
        import ldap3

        conn.modify(dn, {"mobile": [(ldap3.MODIFY_ADD, ["+57 310 555 4412"])]})
    sms = tmp_path / "sms.py"
    sms.write_text(f"import sys\nopen({str(tmp_path / 'sms.txt')!r}, 'a').write(sys.stdin.read())\n",
                   encoding="utf-8")
    env, port = office(tmp_path, dovecot, smtp_server, slapd,
                       selfservice={"enabled": True, "sms_command": [sys.executable, str(sms)]})
    with WebServer(env.config, port) as server:
        browser.get(f"http://127.0.0.1:{port}/recuperar")
        assert "¿Olvidó su contraseña?" in browser.page_source and "Advertencia" in browser.page_source
        fill(browser, identifier="mlopez")
        assert "*****opez@entidad.gov.co" in browser.page_source and "*****4412" in browser.page_source
        fill(browser, button="button[value=sms]")
        server.drain()  # the SMS goes after the answer (web/deferred.py)
        code = re.search(r"\b(\d{6})\b", (tmp_path / "sms.txt").read_text()).group(1)
        fill(browser, code=code)
        assert "mlopez@entidad.gov.co" in browser.page_source
        fill(browser, password="mlopez2024A", confirm="mlopez2024A")
        assert "no puede contener el nombre de la cuenta" in browser.page_source
        fill(browser, password=GOOD, confirm=GOOD)
        assert "Se ha actualizado la contraseña" in browser.page_source
    assert slapd.can_bind(dn, GOOD)
    # The change is told to the registered address (CONTRACT 13), in the transaction of the use.
    env.run_once()
    assert smtp_server.wait_for(1, timeout=10)
    [told] = [m for m in smtp_server.snapshot() if m.message["X-Helpdesk-Kind"] == "password_changed"]
    assert told.rcpt_tos == ["mlopez@entidad.gov.co"]
