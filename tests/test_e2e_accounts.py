"""Seed 002 end to end with real servers: an office's requests to create,
modify and delete an institutional account arrive over IMAP (Dovecot),
staff approve them from the command line, the ldap backend writes
OpenLDAP (with the ppolicy overlay), the results reach the official and
the office over SMTP (aiosmtpd), and the FT-GTI-002 register is exported
and read back with openpyxl."""

from __future__ import annotations

import re

import openpyxl
import pytest

from .conftest import Networked, run_helpdesk
from .test_accounts import AUTHSERV, OFFICE, account_mail

ACCOUNT = "jperez@putumayo.gov.co"
OFFICIAL = "juanperez.rosero@gmail.com"


@pytest.fixture
def directory(slapd_ppolicy):
    return slapd_ppolicy


def office(tmp_path, dovecot, smtp_server, directory, on_delete="delete") -> Networked:
    return Networked(tmp_path / "h", dovecot, smtp_server, reset={
        "ldap_url": directory.ldaps_url, "ldap_security": "ssl", "ldap_ca_file": str(directory.ca_path),
        "ldap_bind_dn": directory.admin_dn, "password": directory.admin_password, "ldap_base": directory.base,
    }, accounts={"backend": "ldap", "ldap_base": directory.people, "domains": ["putumayo.gov.co"],
                 "on_delete": on_delete},
        # account_mail carries our server's DMARC pass: an account order
        # proves its sender only so (CONTRACT §13).
        inbox={"authserv_id": AUTHSERV},
        procedures={"cuentas-correo": {"addresses": ["cuentas@putumayo.gov.co"]}})


def request_and_approve(env: Networked, tmp_path, *approve_args: str, input_text: str | None = None, **changes):
    env.deliver(account_mail(tmp_path, **changes))
    [outcome] = env.run_once()
    state = env.store.one("SELECT state FROM tickets WHERE radicado = ?", (outcome.radicado,))[0]
    assert state == "pending_approval", env.store.query("SELECT code, detail FROM findings")
    approved = run_helpdesk("--config", env.config_path, "approve", outcome.radicado, "--by", "Ana Pérez",
                            *approve_args, input_text=input_text, timeout=60)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    return outcome.radicado


def result_emails(env: Networked, radicado: str) -> dict[str, list]:
    found: dict[str, list] = {}
    for m in env.smtp.snapshot():
        if m.message["X-Helpdesk-Radicado"] == radicado and m.message["X-Helpdesk-Kind"].startswith("account_"):
            found.setdefault(m.message["X-Helpdesk-Kind"], []).append(m)
    return found


def body(captured) -> str:
    return captured.message.get_body(("plain",)).get_content()


def test_create_modify_and_delete_an_account_in_ldap_with_the_result_emails(tmp_path, dovecot, smtp_server,
                                                                             directory):
    env = office(tmp_path, dovecot, smtp_server, directory)
    dn = f"uid=jperez,{directory.people}"

    # Creation: one add with a hashed temporary password and pwdReset.
    created = request_and_approve(env, tmp_path)
    assert env.smtp.wait_for(4, timeout=10)  # ack, accepted, the official's email, the office's notice
    emails = result_emails(env, created)
    [to_official] = emails["account_created"]
    assert to_official.rcpt_tos == [OFFICIAL]
    password = re.search(r"Clave temporal: (\S+)", body(to_official)).group(1)
    [notice] = emails["account_notice"]
    assert notice.rcpt_tos == [OFFICE] and password not in notice.data.decode("utf-8", "replace")
    entry = directory.entry(dn)
    assert entry["mail"] == [ACCOUNT] and entry["cn"] == ["Juan Carlos Pérez Rosero"]
    assert entry["title"] == ["Profesional universitario"] and entry["ou"] == ["Secretaría de Hacienda"]
    assert entry["pwdReset"] == ["TRUE"]  # must change at first login
    assert entry["userPassword"][0].upper().startswith("{SSHA}")  # never the password in clear
    assert directory.can_bind(dn, password)

    # Modification: the official's data on the form replaces the entry's.
    modified = request_and_approve(env, tmp_path, request={"Tipo de solicitud": "Modificación",
                                                           "Cambios solicitados": "Nuevo cargo"},
                                   official={"Cargo": "Profesional especializado"})
    assert env.smtp.wait_for(8, timeout=10)
    assert directory.entry(dn)["title"] == ["Profesional especializado"]
    notices = result_emails(env, modified)["account_notice"]
    assert sorted(m.rcpt_tos[0] for m in notices) == sorted([OFFICIAL, OFFICE])
    assert all("Cambios aplicados: Nuevo cargo." in body(m) for m in notices)

    # Deletion: confirmed twice (--yes is not enough; the account typed out).
    deleted = request_and_approve(env, tmp_path, "--confirm-deletion", ACCOUNT,
                                  request={"Tipo de solicitud": "Eliminación"})
    assert env.smtp.wait_for(12, timeout=10)
    assert directory.entry(dn) is None
    assert len(result_emails(env, deleted)["account_notice"]) == 2

    # The register, as the FT-GTI-002 spreadsheet.
    target = tmp_path / "FT-GTI-002.xlsx"
    exported = run_helpdesk("--config", env.config_path, "cuentas", "export", str(target), timeout=60)
    assert exported.returncode == 0, exported.stderr
    wb = openpyxl.load_workbook(target)
    sheet = wb["FT-GTI-002"]
    header = [c.value for c in sheet[3]]
    [row] = [dict(zip(header, [c.value for c in r])) for r in sheet.iter_rows(min_row=4) if r[0].value]
    assert (row["Cuenta"], row["Estado"], row["Radicado"]) == (ACCOUNT, "eliminada", deleted)
    assert row["Cargo"] == "Profesional especializado" and row["Fecha de eliminación o bloqueo"]
    history = [[c.value for c in r] for r in wb["Cambios"].iter_rows(min_row=2)]
    assert [(h[2], h[3]) for h in history] == [("creación", created), ("modificación", modified),
                                               ("eliminación", deleted)]


def test_a_deletion_can_disable_instead_and_a_second_creation_is_refused_by_the_directory(
        tmp_path, dovecot, smtp_server, directory):
    env = office(tmp_path, dovecot, smtp_server, directory, on_delete="disable")
    # An account made outside helpdesk: the register does not know it, the directory does.
    directory.add_user("jperez", ACCOUNT, "Clave-Anterior-1")
    env.deliver(account_mail(tmp_path))
    [outcome] = env.run_once()
    refused = run_helpdesk("--config", env.config_path, "approve", outcome.radicado, "--by", "Ana", timeout=60)
    assert refused.returncode == 1 and f"la cuenta {ACCOUNT} ya existe en el directorio" in refused.stderr
    assert not result_emails(env, outcome.radicado)
    assert env.store.one("SELECT state FROM tickets")[0] == "pending_approval"
    run_helpdesk("--config", env.config_path, "reject", outcome.radicado, "--by", "Ana", "--reason", "Ya existe",
                 timeout=60)
    # Its deletion, with on_delete = "disable": locked for ever, not removed.
    disabled = request_and_approve(env, tmp_path, input_text=f"{ACCOUNT}\n",
                                   request={"Tipo de solicitud": "Eliminación"})
    entry = directory.entry(directory.user_dn("jperez"))
    assert entry["pwdAccountLockedTime"] == ["000001010000Z"]
    assert not directory.can_bind(directory.user_dn("jperez"), "Clave-Anterior-1")
    listed = run_helpdesk("--config", env.config_path, "cuentas", timeout=60).stdout
    assert f"{ACCOUNT}  [deshabilitada]" in listed and disabled in listed


def test_an_approval_interrupted_after_the_directory_wrote_finishes_on_the_next_try(
        tmp_path, dovecot, smtp_server, directory):
    # The add reached the directory, then the approval died before its
    # commit (simulated: the same order applied once by hand beforehand).
    # Approving again must neither refuse ("ya existe") nor send the old
    # password: the entry this radicado made gets the new one.
    from helpdesk.resets.accounts import make_account_backend
    from helpdesk.staff.accounts import order_of
    from helpdesk.tickets import Ticket

    env = office(tmp_path, dovecot, smtp_server, directory)
    env.deliver(account_mail(tmp_path))
    [outcome] = env.run_once()
    row = env.store.one("SELECT * FROM tickets")
    import json

    first = order_of(Ticket.from_row(row), json.loads(row["form_json"])["fields"], env.config)
    backend = make_account_backend(env.config)
    backend.apply(first)
    backend.close()
    approved = run_helpdesk("--config", env.config_path, "approve", outcome.radicado, "--by", "Ana", timeout=60)
    assert approved.returncode == 0, approved.stderr
    assert env.smtp.wait_for(4, timeout=10)
    [created] = result_emails(env, outcome.radicado)["account_created"]
    password = re.search(r"Clave temporal: (\S+)", body(created)).group(1)
    dn = f"uid=jperez,{directory.people}"
    assert password != first.password
    assert directory.can_bind(dn, password) and not directory.can_bind(dn, first.password)
    assert directory.entry(dn)["pwdReset"] == ["TRUE"]
