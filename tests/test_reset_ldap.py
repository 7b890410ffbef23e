"""The ldap reset backend against a real OpenLDAP slapd (tests/ldap_server.py):
the password really changes, exactly one entry is touched, filter injection
matches nothing, TLS is verified, and no message carries a password."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from helpdesk import config as config_mod
from helpdesk.errors import ConfigError
from helpdesk.resets.ldap import LdapBackend, ResetFailed
from helpdesk.resets.scope import EntityScope

from .conftest import write_config
from .ldap_server import SlapdServer
from .servers import HOST, free_port

OLD = "Vieja-Clave-123"
NEW = "Nueva-Kx7m-Qp4r-Zt9w"
MAIL = "ana.gomez@entidad.gov.co"
ENTITY = EntityScope(nit="890905211", domain="entidad.gov.co")


@pytest.fixture
def ana(slapd) -> str:
    return slapd.add_user("agomez", MAIL, OLD)


def make_config(tmp_path: Path, slapd: SlapdServer | None = None, **reset) -> config_mod.Config:
    keys = {"backend": "ldap", "ldap_security": "none", "ldap_timeout": 5.0, "ldap_base": "dc=entidad,dc=gov,dc=co"}
    if slapd is not None:
        keys.update(ldap_url=slapd.url, ldap_bind_dn=slapd.admin_dn, password=slapd.admin_password,
                    ldap_base=slapd.base)
    keys.update(reset)
    return config_mod.from_dict({"reset": keys}, tmp_path / "config.toml")


@pytest.fixture
def backend(tmp_path, slapd):
    b = LdapBackend(make_config(tmp_path, slapd))
    yield b
    b.close()


def reset_fails(backend: LdapBackend, account: str, password: str = NEW) -> str:
    """Run a reset that must fail; return its message, checked free of secrets."""
    with pytest.raises(ResetFailed) as info:
        backend.reset(account, password, ENTITY)
    message = str(info.value)
    assert password not in message
    assert backend._bind_password not in message
    assert message.strip()
    return message


def admin_binds(slapd: SlapdServer) -> int:
    return slapd.read_log().count(f'BIND dn="{slapd.admin_dn}"')


# -- the reset itself ------------------------------------------------------


def test_reset_by_mail_then_by_uid_on_one_connection(slapd, ana, backend):
    luis = slapd.add_user("lperez", "luis.perez@entidad.gov.co", OLD)

    backend.reset(MAIL, NEW)
    assert slapd.can_bind(MAIL, NEW)
    assert not slapd.can_bind(MAIL, OLD)
    # Password Modify lets the server hash it (slapd.conf: {SSHA}).
    assert slapd.user_password_value(ana).startswith(b"{SSHA}")
    first_connection = backend._conn

    backend.reset("lperez", "Otra-Clave-Segura-42", ENTITY)
    assert slapd.can_bind(luis, "Otra-Clave-Segura-42")
    assert not slapd.can_bind(luis, OLD)
    assert backend._conn is first_connection
    # The other account was not touched by the second reset.
    assert slapd.can_bind(ana, NEW)


def test_a_non_root_service_account_with_write_access_works(tmp_path, slapd, ana):
    slapd.add_service("helpdesk", "servicio-secreto")
    b = LdapBackend(make_config(tmp_path, slapd, ldap_bind_dn=slapd.helpdesk_dn, password="servicio-secreto"))
    try:
        b.reset(MAIL, NEW)
    finally:
        b.close()
    assert slapd.can_bind(ana, NEW) and not slapd.can_bind(ana, OLD)


def test_fallback_to_userpassword_replace_without_password_modify(slapd, ana, backend, monkeypatch):
    monkeypatch.setattr(LdapBackend, "_supports_password_modify", staticmethod(lambda conn: False))
    backend.reset(MAIL, NEW)
    assert slapd.can_bind(ana, NEW) and not slapd.can_bind(ana, OLD)
    # What the fallback means on OpenLDAP without ppolicy_hash_cleartext:
    # the value is stored as sent.
    assert slapd.user_password_value(ana) == NEW.encode()


def test_reconnects_once_after_the_server_restarted(slapd, ana, backend):
    luis = slapd.add_user("lperez", "luis.perez@entidad.gov.co", OLD)
    backend.reset(MAIL, NEW)
    slapd.restart()
    backend.reset("luis.perez@entidad.gov.co", NEW)
    assert slapd.can_bind(luis, NEW)


def test_password_from_file_in_a_toml_config(tmp_path, slapd, ana):
    (tmp_path / "ldap.secret").write_text(slapd.admin_password + "\n")
    path = write_config(tmp_path / "config.toml", {
        "reset": {"backend": "ldap", "ldap_url": slapd.url, "ldap_security": "none",
                  "ldap_bind_dn": slapd.admin_dn, "password_file": "ldap.secret", "ldap_base": slapd.base},
    })
    b = LdapBackend(config_mod.load(path))
    try:
        b.reset(MAIL, NEW)
    finally:
        b.close()
    assert slapd.can_bind(ana, NEW)


# -- finding exactly one entry ------------------------------------------------


def test_unknown_account(slapd, ana, backend):
    message = reset_fails(backend, "nadie@entidad.gov.co")
    assert "no se encontró la cuenta nadie@entidad.gov.co en el directorio" in message
    assert slapd.can_bind(ana, OLD)


@pytest.mark.parametrize("account", [
    "*",
    "*)(uid=*",
    "*)(|(objectClass=*)",
    f"{MAIL})(mail=*",
    "agom*",
    "\\2a",
    "agomez)(objectClass=*",
])
def test_filter_injection_matches_nobody(slapd, ana, backend, account):
    luis = slapd.add_user("lperez", "luis.perez@entidad.gov.co", OLD)
    message = reset_fails(backend, account)
    assert "no se encontró la cuenta" in message
    assert slapd.can_bind(ana, OLD) and slapd.can_bind(luis, OLD)


def test_account_matching_two_entries_changes_none(slapd, backend):
    first = slapd.add_user("jdoe1", "compartido@entidad.gov.co", OLD)
    second = slapd.add_user("jdoe2", "compartido@entidad.gov.co", OLD)
    message = reset_fails(backend, "compartido@entidad.gov.co")
    assert "corresponde a 2 entradas" in message
    assert slapd.can_bind(first, OLD) and slapd.can_bind(second, OLD)


def test_missing_base(tmp_path, slapd, ana):
    b = LdapBackend(make_config(tmp_path, slapd, ldap_base="ou=nada,dc=entidad,dc=gov,dc=co"))
    try:
        assert "no existe en el directorio" in reset_fails(b, MAIL)
    finally:
        b.close()


# -- refusals by the server -------------------------------------------------


def test_wrong_bind_password_names_the_server(tmp_path, slapd, ana):
    b = LdapBackend(make_config(tmp_path, slapd, password="no-es-la-clave"))
    message = reset_fails(b, MAIL)
    assert f"{HOST}:{slapd.port}" in message
    assert "invalidCredentials" in message and slapd.admin_dn in message
    assert "no-es-la-clave" not in message
    assert slapd.can_bind(ana, OLD)


def test_service_account_without_write_access(tmp_path, slapd, ana):
    slapd.add_service("lector", "lector-secreto")
    b = LdapBackend(make_config(tmp_path, slapd, ldap_bind_dn=slapd.service_dn("lector"), password="lector-secreto"))
    try:
        message = reset_fails(b, MAIL)
    finally:
        b.close()
    assert "insufficientAccessRights" in message and MAIL in message
    assert slapd.can_bind(ana, OLD) and not slapd.can_bind(ana, NEW)


def test_connection_refused_names_the_server(tmp_path):
    port = free_port()  # nothing listens there
    b = LdapBackend(make_config(tmp_path, ldap_url=f"ldap://{HOST}:{port}", ldap_bind_dn="cn=admin,dc=x",
                                password="secreto-de-bind"))
    message = reset_fails(b, MAIL)
    assert f"{HOST}:{port}" in message and "conexión rechazada" in message


def test_silent_server_times_out(tmp_path):
    # Accepts TCP connections (kernel backlog) but never answers a byte.
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(5)
        port = listener.getsockname()[1]
        b = LdapBackend(make_config(tmp_path, ldap_url=f"ldap://{HOST}:{port}", ldap_bind_dn="cn=admin,dc=x",
                                    password="secreto-de-bind", ldap_timeout=1.0))
        started = time.monotonic()
        message = reset_fails(b, MAIL)
        assert time.monotonic() - started < 5
    assert f"{HOST}:{port}" in message and "no respondió" in message


# -- TLS ------------------------------------------------------------------------


def test_starttls_with_the_ca_file(tmp_path, slapd, ana):
    b = LdapBackend(make_config(tmp_path, slapd, ldap_security="starttls", ldap_ca_file=str(slapd.ca_path)))
    try:
        b.reset(MAIL, NEW)
        assert b._conn.tls_started
    finally:
        b.close()
    assert slapd.can_bind(ana, NEW)
    log = slapd.read_log()
    # The admin's bind came after STARTTLS on the same connection.
    bind_line = next(line for line in log.splitlines() if f'BIND dn="{slapd.admin_dn}"' in line
                     and " op=1 " in line)
    conn_id = bind_line.split("conn=")[1].split()[0]
    assert f"conn={conn_id} op=0 STARTTLS" in log


def test_ldaps_with_the_ca_file(tmp_path, slapd, ana):
    b = LdapBackend(make_config(tmp_path, slapd, ldap_url=slapd.ldaps_url, ldap_security="ssl",
                                ldap_ca_file=str(slapd.ca_path)))
    try:
        b.reset(MAIL, NEW)
    finally:
        b.close()
    assert slapd.can_bind(ana, NEW)


def test_localhost_name_is_checked_against_the_certificate(tmp_path, slapd, ana):
    b = LdapBackend(make_config(tmp_path, slapd, ldap_url=f"ldaps://localhost:{slapd.ssl_port}",
                                ldap_security="ssl", ldap_ca_file=str(slapd.ca_path)))
    try:
        b.reset(MAIL, NEW)
    finally:
        b.close()
    assert slapd.can_bind(ana, NEW)


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_untrusted_certificate_is_refused_before_the_bind(tmp_path, slapd, ana, security):
    url = slapd.ldaps_url if security == "ssl" else slapd.url
    b = LdapBackend(make_config(tmp_path, slapd, ldap_url=url, ldap_security=security))
    binds_before = admin_binds(slapd)
    message = reset_fails(b, MAIL)
    assert "certificado no válido" in message
    assert f"{HOST}:" in message
    # The bind password never went over the wire.
    assert admin_binds(slapd) == binds_before
    assert slapd.can_bind(ana, OLD)


def test_certificate_from_another_ca_is_refused(tmp_path, slapd_dir, slapd, ana):
    import trustme

    other_ca = slapd_dir / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    b = LdapBackend(make_config(tmp_path, slapd, ldap_url=slapd.ldaps_url, ldap_security="ssl",
                                ldap_ca_file=str(other_ca)))
    assert "certificado no válido" in reset_fails(b, MAIL)
    assert slapd.can_bind(ana, OLD)


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_certificate_for_another_host_name_is_refused(tmp_path, slapd_dir, security):
    # Trusted CA, but the certificate names ldap.entidad.gov.co, not 127.0.0.1.
    with SlapdServer(slapd_dir, tls=True, cert_names=("ldap.entidad.gov.co",)) as server:
        url = server.ldaps_url if security == "ssl" else server.url
        b = LdapBackend(make_config(tmp_path, server, ldap_url=url, ldap_security=security,
                                    ldap_ca_file=str(server.ca_path)))
        binds_before = admin_binds(server)
        message = reset_fails(b, MAIL)
        assert admin_binds(server) == binds_before
    assert "certificado no válido" in message and "mismatch" in message


# -- configuration checked at construction ------------------------------------


@pytest.mark.parametrize("url, security, fragment", [
    ("ldap://directorio.entidad.gov.co", "none", "sin cifrar"),
    ("ldaps://127.0.0.1:636", "starttls", "no concuerda"),
    ("ldap://127.0.0.1:389", "ssl", "no concuerda"),
    ("http://127.0.0.1", "none", "ldaps://servidor"),
    ("ldap://127.0.0.1/dc=entidad", "none", "solo servidor y puerto"),
])
def test_bad_url_or_security_is_a_config_error(tmp_path, url, security, fragment):
    cfg = make_config(tmp_path, ldap_url=url, ldap_security=security, ldap_bind_dn="cn=admin,dc=x", password="x")
    with pytest.raises(ConfigError, match=fragment):
        LdapBackend(cfg)


@pytest.mark.parametrize("url, host, port, label", [
    ("ldap://127.0.0.1:1389", "127.0.0.1", 1389, "127.0.0.1:1389"),
    ("ldap://127.0.0.2", "127.0.0.2", 389, "127.0.0.2:389"),
    ("ldap://localhost", "localhost", 389, "localhost:389"),
    ("ldap://[::1]:1389", "::1", 1389, "[::1]:1389"),
])
def test_none_is_allowed_towards_loopback_names(tmp_path, url, host, port, label):
    b = LdapBackend(make_config(tmp_path, ldap_url=url, ldap_bind_dn="cn=admin,dc=x", password="x"))
    assert (b.security, b.host, b.port, b.label) == ("none", host, port, label)


@pytest.mark.parametrize("url", ["ldap://localhost.entidad.gov.co", "ldap://127.0.0.1.nip.io:389",
                                 "ldap://10.0.0.1", "ldap://[::2]"])
def test_none_is_refused_towards_names_that_only_look_like_loopback(tmp_path, url):
    with pytest.raises(ConfigError, match="sin cifrar"):
        LdapBackend(make_config(tmp_path, ldap_url=url, ldap_bind_dn="cn=admin,dc=x", password="x"))


def test_missing_ca_file_and_empty_bind_password_are_config_errors(tmp_path):
    base = dict(ldap_url="ldaps://127.0.0.1", ldap_security="ssl", ldap_bind_dn="cn=admin,dc=x")
    with pytest.raises(ConfigError, match="ldap_ca_file"):
        LdapBackend(make_config(tmp_path, **base, password="x", ldap_ca_file="no-existe.pem"))
    with pytest.raises(ConfigError, match="reset.password"):
        LdapBackend(make_config(tmp_path, **base))


def test_a_user_name_is_reset_only_within_its_entity(slapd, tmp_path):
    # Issue 10, finding 3: "jperez" of another entity was reset, because the
    # default filter (|(mail=...)(uid=...)) searched the whole directory.
    theirs = slapd.add_user("jperez", "jperez@otra-alcaldia.gov.co", OLD)
    b = LdapBackend(make_config(tmp_path, slapd))
    try:
        assert "no se encontró la cuenta" in reset_fails(b, "jperez")  # asked by entidad.gov.co
        assert slapd.can_bind(theirs, OLD)
        with pytest.raises(ResetFailed) as info:
            b.reset("jperez", NEW, EntityScope(nit="890905211"))  # no domain known: refused, not widened
        assert "{domain}" in str(info.value) and slapd.can_bind(theirs, OLD)
        b.reset("jperez", NEW, EntityScope(domain="otra-alcaldia.gov.co"))  # its own entity's ticket
        assert slapd.can_bind(theirs, NEW)
    finally:
        b.close()


def test_the_base_can_be_scoped_by_nit(slapd, ana, tmp_path):
    b = LdapBackend(make_config(tmp_path, slapd, ldap_base="ou={nit}," + slapd.base))
    try:
        message = reset_fails(b, MAIL)
        assert "ou=890905211" in message and slapd.can_bind(ana, OLD)  # that entity's branch does not exist here
    finally:
        b.close()
