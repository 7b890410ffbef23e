"""The whole path with real servers: a request arrives over IMAP (Dovecot),
staff approve it, the ldap backend resets the accounts in OpenLDAP, and the
credentials reach the legal representative over SMTP (aiosmtpd)."""

import os
import re
import subprocess
import sys
from pathlib import Path

from . import forms, mails
from .conftest import Networked
from .test_e2e_documents import documents

ROOT = Path(__file__).resolve().parent.parent
LEGAL_REP = "despacho@alcaldia-prueba.gov.co"
OLD = "Vieja-Clave-2024"


def test_approved_request_resets_ldap_and_mails_the_legal_representative(tmp_path, dovecot, smtp_server, slapd):
    accounts = [("Correo electrónico", "contactenos@alcaldia-prueba.gov.co"), ("Usuario de página web", "admin.web")]
    slapd.add_user("contactenos", "contactenos@alcaldia-prueba.gov.co", OLD)
    slapd.add_user("admin.web", "admin.web@alcaldia-prueba.gov.co", OLD)
    env = Networked(tmp_path / "h", dovecot, smtp_server, reset={
        "backend": "ldap", "ldap_url": slapd.ldaps_url, "ldap_security": "ssl", "ldap_ca_file": str(slapd.ca_path),
        "ldap_bind_dn": slapd.admin_dn, "password": slapd.admin_password, "ldap_base": slapd.base,
    })
    # A sender from another domain, with a Reply-To: neither gets the credentials.
    env.deliver(mails.request(sender="mesa@otro-dominio.example", headers={"Reply-To": "otra@otro-dominio.example"},
                              attachments=documents(tmp_path, excel=forms.filled_template(tmp_path, accounts=accounts))))
    [outcome] = env.run_once()
    env.daemon.close()
    result = subprocess.run([sys.executable, "-m", "helpdesk", "--config", str(env.config_path), "approve",
                             outcome.radicado, "--by", "Ana Pérez"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert smtp_server.wait_for(3, timeout=10)
    resets = [m for m in smtp_server.snapshot() if m.message["X-Helpdesk-Kind"] == "reset"]
    assert len(resets) == 1 and resets[0].rcpt_tos == [LEGAL_REP]
    text = resets[0].message.get_body(("plain",)).get_content()
    passwords = dict(re.findall(r"- [^:]+: (\S+)\s+Clave temporal: (\S+)", text))
    assert set(passwords) == {"contactenos@alcaldia-prueba.gov.co", "admin.web"}
    assert slapd.can_bind("contactenos@alcaldia-prueba.gov.co", passwords["contactenos@alcaldia-prueba.gov.co"])
    assert slapd.can_bind(slapd.user_dn("admin.web"), passwords["admin.web"])
    assert not slapd.can_bind("contactenos@alcaldia-prueba.gov.co", OLD)
    assert not slapd.can_bind(slapd.user_dn("admin.web"), OLD)
    assert not [m for m in smtp_server.snapshot() if "otro-dominio.example" in " ".join(m.rcpt_tos)
                and m.message["X-Helpdesk-Kind"] == "reset"]
