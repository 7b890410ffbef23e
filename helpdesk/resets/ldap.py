"""The ``ldap`` reset backend: sets an account's password in an LDAP directory.

Its one job: given an account (an email address or a user name) and the new
password a staff member approved, find that account's single entry under
``reset.ldap_base`` with ``reset.ldap_filter`` and replace its password,
using the RFC 3062 Password Modify extended operation (the server hashes the
password with its own policy) or, where the server lacks it, a plain
``userPassword`` replace.

Security rules enforced here, not left to the configuration:

* The account is escaped (RFC 4515) before it goes into the filter, so an
  account such as ``*)(uid=*`` matches nothing instead of everyone.
* TLS is always verified (chain and host name, TLS 1.2 or newer), for
  ``ldaps://`` and for StartTLS, which must succeed before the bind.
* ``ldap_security = "none"`` is accepted only towards a loopback address.
* Error messages (``ResetFailed``, in Spanish) name the server and the
  account but never contain the new password or the bind password.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import ssl
import threading
import urllib.parse

import ldap3
from ldap3.core import exceptions as ldap_exc
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from ..addresses import domain_of
from ..config import Config, is_loopback
from ..errors import ConfigError, ResetFailed
from .scope import EntityScope

log = logging.getLogger(__name__)

# RFC 3062 LDAP Password Modify extended operation.
PASSWORD_MODIFY_OID = "1.3.6.1.4.1.4203.1.11.1"
RESULT_SUCCESS = 0
RESULT_PROTOCOL_ERROR = 2
RESULT_SIZE_LIMIT_EXCEEDED = 4
RESULT_NO_SUCH_OBJECT = 32
# ldap3 wraps socket failures in LDAPCommunicationError subclasses, but a
# few paths (TLS handshakes) can still surface a bare OSError/SSLError.
COMMUNICATION_ERRORS = (ldap_exc.LDAPCommunicationError, OSError)


class _VerifiedTls(ldap3.Tls):
    """ldap3's Tls with the standard library doing all of the verification.

    ldap3 2.9 builds its context with ``check_hostname = False`` and checks
    the name itself with ``ssl.match_hostname`` (deprecated, removed in
    Python 3.12), and its ``version`` argument cannot express "TLS 1.2 or
    newer".  Here the context is ``ssl.create_default_context`` (chain and
    host name checked during the handshake) with a TLS 1.2 minimum.
    """

    def __init__(self, host: str, ca_file: str | None) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file)
        self._host = host
        self._context = ssl.create_default_context(cafile=ca_file)
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2

    def wrap_socket(self, connection, do_handshake=False):
        connection.socket = self._context.wrap_socket(
            connection.socket,
            server_side=False,
            do_handshake_on_connect=do_handshake,
            server_hostname=self._host,
        )


class LdapBackend:
    """Sets the password of each account's LDAP entry with ldap3."""

    name = "ldap"
    # What is read of the server on connecting: the root DSE tells whether
    # Password Modify is offered (LdapAccounts also reads the schema).
    server_info = ldap3.DSA

    def __init__(self, config: Config):
        cfg = config.reset
        self.cfg = cfg
        source = config.source_path
        self.security = cfg.ldap_security
        self.host, self.port = _parse_url(cfg.ldap_url, cfg.ldap_security, source)
        self.label = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        if self.security == "none" and not is_loopback(self.host):
            raise ConfigError(
                f"{source}: reset.ldap_security: \"none\" enviaría la contraseña sin cifrar a {self.host}; "
                "use \"ssl\" o \"starttls\" (sin cifrado solo se permite hacia 127.0.0.1)"
            )
        self.ca_file: str | None = None
        if cfg.ldap_ca_file:
            ca_path = config.path(cfg.ldap_ca_file)
            if not os.path.isfile(ca_path):
                raise ConfigError(f"{source}: reset.ldap_ca_file: no existe el archivo {ca_path}")
            self.ca_file = str(ca_path)
        self.bind_dn = cfg.ldap_bind_dn
        self._bind_password = config.ldap_password()
        if not self._bind_password:
            # An empty simple bind is an anonymous bind (RFC 4513 5.1.2):
            # it would "succeed" and then fail obscurely at the write.
            raise ConfigError(
                f"{source}: reset.password: falta la contraseña de {self.bind_dn} "
                "(use password, password_env o password_file)"
            )
        self.timeout = cfg.ldap_timeout
        self._conn: ldap3.Connection | None = None
        self._lock = threading.Lock()
        self._scope = EntityScope()
        self._warned_fallback = False

    # -- public -----------------------------------------------------------

    def reset(self, account: str, password: str, scope: EntityScope | None = None) -> None:
        """Set ``account``'s password to ``password``; raise ResetFailed if not done.

        The connection is opened on first use and kept for the next accounts.
        If a kept connection turns out to be dead (server restarted, idle
        timeout) the reset is retried once on a fresh one; setting the same
        password twice is harmless.
        """
        account = account.strip()
        if not account:
            raise ResetFailed("no se indicó la cuenta a la que cambiar la contraseña")
        if not password:
            raise ResetFailed(f"la nueva contraseña de la cuenta {account} está vacía")
        with self._lock, self._failures(password):
            self._scope = scope or EntityScope()
            reused = self._conn is not None
            try:
                self._reset(account, password)
            except COMMUNICATION_ERRORS as exc:
                self.close()
                if not reused or _is_tls_error(exc):
                    raise
                log.info("LDAP %s: connection lost (%s), reconnecting", self.label, type(exc).__name__)
                self._reset(account, password)

    def unlock(self, account: str, scope: EntityScope | None = None) -> None:
        """Remove ppolicy's lock (pwdAccountLockedTime) and the count of
        failed binds (pwdFailureTime) from the account's entry: the same
        password works again. Only the attributes present are deleted."""
        def apply(conn: ldap3.Connection, dn: str) -> None:
            conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=[PWD_LOCKED, PWD_FAILURES])
            entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
            present = {a for a in (PWD_LOCKED, PWD_FAILURES) if entries and entries[0]["raw_attributes"].get(a)}
            if PWD_LOCKED in present and not conn.modify(dn, {PWD_LOCKED: [(ldap3.MODIFY_DELETE, [])]}):
                raise ResetFailed(f"LDAP {self.label}: el servidor no desbloqueó la cuenta {account} ({dn}): "
                                  f"{_result_text(conn.result or {})}")
            # The count of failed binds: OpenLDAP's ppolicy clears it with the
            # lock and lets nobody write it (NO-USER-MODIFICATION); a server
            # that keeps it and allows the delete gets it deleted too.
            if PWD_FAILURES in present and not conn.modify(dn, {PWD_FAILURES: [(ldap3.MODIFY_DELETE, [])]}):
                log.info("LDAP %s: %s of %s left to the server: %s", self.label, PWD_FAILURES, dn,
                         _result_text(conn.result or {}))
            log.info("LDAP %s: unlocked %s (%s)", self.label, dn,
                     "bloqueo quitado" if PWD_LOCKED in present else "no estaba bloqueada")

        self._on_entry(account, scope, apply)

    def change_email(self, account: str, new_email: str, scope: EntityScope | None = None) -> None:
        """Replace the entry's ``mail`` with the confirmed new address."""
        def apply(conn: ldap3.Connection, dn: str) -> None:
            if not conn.modify(dn, {"mail": [(ldap3.MODIFY_REPLACE, [new_email])]}):
                raise ResetFailed(f"LDAP {self.label}: el servidor no cambió el correo de la cuenta {account} ({dn}): "
                                  f"{_result_text(conn.result or {})}")
            log.info("LDAP %s: registered email of %s changed", self.label, dn)

        self._on_entry(account, scope, apply)

    def _on_entry(self, account: str, scope: EntityScope | None, apply) -> None:
        """Find the account's one entry and ``apply(conn, dn)``; every
        failure a ResetFailed in Spanish, as for a reset."""
        with self._lock, self._failures():
            self._scope = scope or EntityScope()
            conn = self._connection()
            apply(conn, self._find(conn, account.strip()))

    def read_one(self, filter_template: str, identifier: str, attributes: tuple[str, ...]) -> dict[str, str] | None:
        """The first value of ``attributes`` of the one entry under
        reset.ldap_base matching ``filter_template`` with {identifier}
        (escaped); None when none or several match, or the search fails:
        self-service then says to write to support."""
        search_filter = filter_template.replace("{identifier}", escape_filter_chars(identifier))
        base = self.cfg.ldap_base
        if "{" in base:
            return None  # a base per entity ({nit}, {domain}) has no meaning for a person alone
        with self._lock:
            try:
                conn = self._connection()
                conn.search(base, search_filter, search_scope=ldap3.SUBTREE, attributes=list(attributes),
                            size_limit=2, time_limit=max(1, math.ceil(self.timeout)))
            except (ResetFailed, ldap_exc.LDAPException, *COMMUNICATION_ERRORS) as exc:
                self.close()
                log.error("LDAP %s: self-service lookup failed: %s", self.label, _text(exc))
                return None
            entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
        if len(entries) != 1:
            return None
        found = {}
        for name in attributes:
            values = entries[0]["attributes"].get(name)
            value = values[0] if isinstance(values, list) and values else values
            if value:
                found[name] = str(value)
        return found

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.unbind()
            except Exception:  # already broken: nothing left to release
                pass

    # -- steps --------------------------------------------------------------

    def _connection(self) -> ldap3.Connection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        self.close()
        tls = _VerifiedTls(self.host, self.ca_file) if self.security != "none" else None
        server = ldap3.Server(
            self.host,
            port=self.port,
            use_ssl=self.security == "ssl",
            tls=tls,
            get_info=self.server_info,
            connect_timeout=self.timeout,
        )
        conn = ldap3.Connection(
            server,
            user=self.bind_dn,
            password=self._bind_password,
            # ldap3 packs this into SO_RCVTIMEO as a C long: it must be an int.
            receive_timeout=max(1, math.ceil(self.timeout)),
            auto_referrals=False,
            raise_exceptions=False,
            read_only=False,
        )
        try:
            conn.open(read_server_info=False)
            if self.security == "starttls":
                # Before the bind: the bind password must never travel in
                # clear text.  ldap3 raises LDAPStartTLSError when the server
                # refuses; the check below catches any other non-success.
                if not conn.start_tls(read_server_info=False) or not conn.tls_started:
                    raise ResetFailed(
                        f"LDAP {self.label}: el servidor no aceptó StartTLS; "
                        "no se enviará la contraseña sin cifrar"
                    )
            if not conn.bind():
                result = conn.result or {}
                raise ResetFailed(
                    f"LDAP {self.label}: el servidor rechazó la autenticación de {self.bind_dn}: "
                    f"{_result_text(result)}"
                )
        except BaseException:
            try:
                conn.unbind()
            except Exception:
                pass
            raise
        self._conn = conn
        log.info("connected to LDAP %s as %s", self.label, self.bind_dn)
        return conn

    def _reset(self, account: str, password: str) -> None:
        conn = self._connection()
        dn = self._find(conn, account)
        if self._supports_password_modify(conn):
            conn.extend.standard.modify_password(user=dn, new_password=password)
            result = conn.result or {}
            code = result.get("result")
            if code == RESULT_SUCCESS:
                log.info("LDAP %s: password set for %s (Password Modify)", self.label, dn)
                return
            # Without the root DSE we could not know in advance: a server
            # that does not implement the operation answers protocolError.
            if not (code == RESULT_PROTOCOL_ERROR and conn.server.info is None):
                raise ResetFailed(
                    f"LDAP {self.label}: el servidor rechazó el cambio de contraseña de la cuenta "
                    f"{account} ({dn}): {_result_text(result)}"
                )
        if not self._warned_fallback:
            self._warned_fallback = True
            log.warning(
                "LDAP %s does not offer Password Modify (RFC 3062): replacing userPassword; "
                "the server stores it as given unless it hashes on write", self.label,
            )
        if not conn.modify(dn, {"userPassword": [(ldap3.MODIFY_REPLACE, [password])]}):
            raise ResetFailed(
                f"LDAP {self.label}: el servidor rechazó el cambio de contraseña de la cuenta "
                f"{account} ({dn}): {_result_text(conn.result or {})}"
            )
        log.info("LDAP %s: password set for %s (userPassword replace)", self.label, dn)

    def _scoped(self, account: str) -> tuple[str, str]:
        """reset.ldap_base and ldap_filter with the account and the entity's
        {nit} and {domain} filled in, each escaped for where it goes. A
        placeholder with nothing to fill it refuses the reset: an unscoped
        search could reach another entity's "jperez"."""
        scope = self._scope
        domain = scope.domain or (domain_of(account) if "@" in account else "")
        values = {"{nit}": (scope.nit, "el NIT de la entidad"), "{domain}": (domain, "el dominio de correo de la entidad")}
        base = self.cfg.ldap_base
        search_filter = self.cfg.ldap_filter.replace("{account}", escape_filter_chars(account))
        for key, (value, what) in values.items():
            if key in base or key in search_filter:
                if not value:
                    raise ResetFailed(f"no se puede buscar la cuenta {account}: reset.ldap_base/ldap_filter usan "
                                      f"{key} y la solicitud no tiene {what}; aplíquela a mano")
                base = base.replace(key, escape_rdn(value))
                search_filter = search_filter.replace(key, escape_filter_chars(value))
        return base, search_filter

    def _find(self, conn: ldap3.Connection, account: str) -> str:
        """The DN of the one entry matching ``account``, or ResetFailed."""
        base, search_filter = self._scoped(account)
        try:
            conn.search(
                base,
                search_filter,
                search_scope=ldap3.SUBTREE,
                attributes=[ldap3.NO_ATTRIBUTES],
                time_limit=max(1, math.ceil(self.timeout)),
            )
        except ldap_exc.LDAPInvalidFilterError as exc:
            raise ResetFailed(
                f"reset.ldap_filter: el filtro {self.cfg.ldap_filter!r} no es válido: {_text(exc)}"
            ) from None
        result = conn.result or {}
        code = result.get("result")
        if code == RESULT_NO_SUCH_OBJECT:
            raise ResetFailed(f"LDAP {self.label}: la base {base} no existe en el directorio")
        if code not in (RESULT_SUCCESS, RESULT_SIZE_LIMIT_EXCEEDED):
            raise ResetFailed(
                f"LDAP {self.label}: falló la búsqueda de la cuenta {account}: {_result_text(result)}"
            )
        dns = [entry["dn"] for entry in (conn.response or []) if entry.get("type") == "searchResEntry"]
        if not dns:
            raise ResetFailed(f"no se encontró la cuenta {account} en el directorio ({self.label})")
        if len(dns) > 1 or code == RESULT_SIZE_LIMIT_EXCEEDED:
            at_least = "al menos " if code == RESULT_SIZE_LIMIT_EXCEEDED else ""
            raise ResetFailed(
                f"la cuenta {account} corresponde a {at_least}{len(dns)} entradas en el directorio "
                f"({self.label}); no se cambió ninguna contraseña"
            )
        return dns[0]

    @staticmethod
    def _supports_password_modify(conn: ldap3.Connection) -> bool:
        info = conn.server.info
        if info is None or info.supported_extensions is None:
            return True  # unknown: try it, fall back on protocolError
        return any(ext[0] == PASSWORD_MODIFY_OID for ext in info.supported_extensions)

    # -- messages -------------------------------------------------------------

    def _describe(self, exc: BaseException) -> str:
        """A Spanish sentence for a connection-level failure."""
        where = f"LDAP {self.label}"
        if _is_cert_error(exc):
            return f"{where}: certificado no válido: {_ssl_reason(exc)}"
        if _is_tls_error(exc):
            return f"{where}: falló la negociación TLS: {_ssl_reason(exc)}"
        text = _text(exc)
        lowered = text.lower()
        if "refused" in lowered:
            return f"{where}: conexión rechazada (¿está el servidor en marcha y es el puerto correcto?)"
        if "timed out" in lowered or "timeout" in lowered:
            return f"{where}: el servidor no respondió en {self.timeout:g} s"
        if isinstance(exc, ldap_exc.LDAPSessionTerminatedByServerError) or "closed" in lowered:
            return f"{where}: el servidor cerró la conexión"
        if isinstance(exc, ldap_exc.LDAPSocketOpenError):
            return f"{where}: no se pudo conectar: {text}"
        return f"{where}: error de comunicación: {text}"

    @contextlib.contextmanager
    def _failures(self, secret: str = ""):
        """Every failure of the block leaves as a ResetFailed in Spanish with
        no secret in it (``secret``, the bind password); a connection that
        failed is closed, so the next call opens a new one."""
        try:
            yield
        except COMMUNICATION_ERRORS as exc:
            self.close()
            raise ResetFailed(self._scrub(self._describe(exc), secret)) from None
        except ResetFailed as exc:
            raise ResetFailed(self._scrub(str(exc), secret)) from None
        except ldap_exc.LDAPException as exc:
            self.close()
            raise ResetFailed(self._scrub(f"LDAP {self.label}: {_text(exc)}", secret)) from None

    def _scrub(self, message: str, password: str) -> str:
        """Belt and braces: no secret ever leaves in a message."""
        for secret in (password, self._bind_password):
            if secret and len(secret) >= 4:
                message = message.replace(secret, "********")
        return message


# ppolicy (OpenLDAP's password policy overlay): "must change at first
# login", and the lock that never expires (a disabled account).
PWD_RESET = "pwdReset"
PWD_LOCKED = "pwdAccountLockedTime"
PWD_FAILURES = "pwdFailureTime"
LOCKED_FOREVER = "000001010000Z"
RESULT_ALREADY_EXISTS = 68


class LdapAccounts(LdapBackend):
    """Creates, modifies, deletes or disables an account's entry (seed 002).

    A creation is ONE add operation carrying the salted-SHA hash of the
    temporary password and, where the server's schema has it (ppolicy),
    ``pwdReset: TRUE``: either the entry exists complete, with its "must
    change at first login" flag, or nothing was written, and approving
    again starts over cleanly. The entry is named ``[accounts] ldap_rdn``
    = the address's local part under ``[accounts] ldap_base``.
    """

    server_info = ldap3.ALL  # the schema too: is there a pwdReset?

    def __init__(self, config: Config):
        super().__init__(config)
        self.accounts = config.accounts
        self.base = config.accounts.ldap_base or config.reset.ldap_base

    def apply(self, order) -> None:
        with self._lock, self._failures(order.password or ""):
            self._scope = EntityScope(domain=domain_of(order.account))
            getattr(self, f"_{order.action}")(self._connection(), order)

    def _has(self, conn: ldap3.Connection, attribute: str) -> bool:
        schema = conn.server.schema
        return bool(schema and schema.attribute_types and attribute in schema.attribute_types)

    def _exists(self, conn: ldap3.Connection, account: str) -> bool:
        try:
            self._find(conn, account)
        except ResetFailed as exc:
            if str(exc).startswith("no se encontró"):
                return False
            raise
        return True

    def _create(self, conn: ldap3.Connection, order) -> None:
        from ldap3.utils.hashed import hashed

        if self._exists(conn, order.account):
            dn = self._find(conn, order.account)
            if not self._made_for(conn, dn, order.radicado):
                raise ResetFailed(f"la cuenta {order.account} ya existe en el directorio ({self.label}); "
                                  "no se creó nada")
            # This very request created it, and the approval stopped before
            # its commit (a crash, a lost connection): finish it with the new
            # temporary password instead of refusing for ever.
            self._renew(conn, dn, order)
            return
        local = order.account.split("@", 1)[0]
        dn = f"{self.accounts.ldap_rdn}={escape_rdn(local)},{self.base}"
        attributes = {"objectClass": list(self.accounts.object_classes), "mail": order.account,
                      "cn": order.official_name or local, "sn": _surname(order.official_name) or local,
                      "userPassword": hashed(ldap3.HASHED_SALTED_SHA, order.password)}
        if self.accounts.ldap_rdn != "cn":
            attributes[self.accounts.ldap_rdn] = local
        attributes.update(_official_attributes(order))
        attributes["description"] = _marker(order.radicado)
        if self._has(conn, PWD_RESET):
            attributes[PWD_RESET] = "TRUE"
        else:
            log.warning("LDAP %s has no %s attribute (ppolicy): %s is created without the "
                        "must-change-at-first-login flag", self.label, PWD_RESET, order.account)
        if not conn.add(dn, attributes=attributes):
            result = conn.result or {}
            if result.get("result") == RESULT_ALREADY_EXISTS:
                raise ResetFailed(f"ya existe la entrada {dn} en el directorio ({self.label}); no se creó nada")
            raise ResetFailed(f"LDAP {self.label}: el servidor no creó la cuenta {order.account} ({dn}): "
                              f"{_result_text(result)}")
        log.info("LDAP %s: created %s", self.label, dn)

    def _made_for(self, conn: ldap3.Connection, dn: str, radicado: str) -> bool:
        conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["description"])
        entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
        values = entries[0]["attributes"].get("description", []) if entries else []
        return _marker(radicado) in (values if isinstance(values, list) else [values])

    def _renew(self, conn: ldap3.Connection, dn: str, order) -> None:
        from ldap3.utils.hashed import hashed

        changes = {"userPassword": [(ldap3.MODIFY_REPLACE, [hashed(ldap3.HASHED_SALTED_SHA, order.password)])]}
        if self._has(conn, PWD_RESET):
            changes[PWD_RESET] = [(ldap3.MODIFY_REPLACE, ["TRUE"])]
        if not conn.modify(dn, changes):
            raise ResetFailed(f"LDAP {self.label}: el servidor no renovó la clave temporal de {order.account} ({dn}): "
                              f"{_result_text(conn.result or {})}")
        log.info("LDAP %s: %s was created by %s before an interrupted approval; new temporary password set",
                 self.label, dn, order.radicado)

    def _modify(self, conn: ldap3.Connection, order) -> None:
        dn = self._find(conn, order.account)
        changes = {name: [(ldap3.MODIFY_REPLACE, [value])] for name, value in _official_attributes(order).items()}
        if order.official_name:
            changes["cn"] = [(ldap3.MODIFY_REPLACE, [order.official_name])]
            changes["sn"] = [(ldap3.MODIFY_REPLACE, [_surname(order.official_name)])]
        if changes and not conn.modify(dn, changes):
            raise ResetFailed(f"LDAP {self.label}: el servidor no modificó la cuenta {order.account} ({dn}): "
                              f"{_result_text(conn.result or {})}")
        log.info("LDAP %s: modified %s", self.label, dn)

    def _delete(self, conn: ldap3.Connection, order) -> None:
        dn = self._find(conn, order.account)
        if not conn.delete(dn):
            raise ResetFailed(f"LDAP {self.label}: el servidor no eliminó la cuenta {order.account} ({dn}): "
                              f"{_result_text(conn.result or {})}")
        log.info("LDAP %s: deleted %s", self.label, dn)

    def _disable(self, conn: ldap3.Connection, order) -> None:
        dn = self._find(conn, order.account)
        if not self._has(conn, PWD_LOCKED):
            raise ResetFailed(f"el directorio ({self.label}) no tiene la política de contraseñas (ppolicy) para "
                              f"bloquear {order.account}; use accounts.on_delete = \"delete\" o hágalo a mano")
        if not conn.modify(dn, {PWD_LOCKED: [(ldap3.MODIFY_REPLACE, [LOCKED_FOREVER])]}):
            raise ResetFailed(f"LDAP {self.label}: el servidor no bloqueó la cuenta {order.account} ({dn}): "
                              f"{_result_text(conn.result or {})}")
        log.info("LDAP %s: disabled %s", self.label, dn)


def _marker(radicado: str) -> str:
    """What a created entry's description says: which request made it."""
    return f"Creada por helpdesk, radicado {radicado}"


def _surname(name: str) -> str:
    """The surnames of a Spanish full name: its last two words, or the one."""
    words = name.split()
    return " ".join(words[-2:]) if len(words) > 2 else (words[-1] if words else "")


def _official_attributes(order) -> dict[str, str]:
    """inetOrgPerson attributes from the official's data, the empty left out."""
    values = {"title": order.official_position, "employeeNumber": order.official_doc_number,
              "ou": order.office}
    return {name: value for name, value in values.items() if value}


def _parse_url(url: str, security: str, source) -> tuple[str, int]:
    """(host, port) of ``ldap://host[:port]`` / ``ldaps://host[:port]``.

    The scheme must agree with ``ldap_security``: ``ldaps://`` is implicit
    TLS ("ssl"), ``ldap://`` is plain or StartTLS.  A mismatch is refused
    rather than guessed, since one side of it sends the password in clear.
    """
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{source}: reset.ldap_url: {url!r} no es una URL válida: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("ldap", "ldaps") or not host:
        raise ConfigError(
            f"{source}: reset.ldap_url: {url!r} debe tener la forma ldaps://servidor[:puerto] "
            "o ldap://servidor[:puerto]"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ConfigError(
            f"{source}: reset.ldap_url: {url!r}: indique solo servidor y puerto "
            "(la base va en reset.ldap_base y el filtro en reset.ldap_filter)"
        )
    if scheme == "ldaps" and security != "ssl":
        raise ConfigError(
            f"{source}: reset.ldap_security: {security!r} no concuerda con {url!r} "
            "(ldaps:// es TLS implícito: use ldap_security = \"ssl\")"
        )
    if scheme == "ldap" and security == "ssl":
        raise ConfigError(
            f"{source}: reset.ldap_security: \"ssl\" (TLS implícito) no concuerda con {url!r}; "
            "use ldaps://... o ldap_security = \"starttls\""
        )
    return host, port or (636 if scheme == "ldaps" else 389)


def _result_text(result: dict) -> str:
    description = result.get("description") or f"código {result.get('result')}"
    message = (result.get("message") or "").strip()
    return f"{description} ({message})" if message else description


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _is_cert_error(exc: BaseException) -> bool:
    # ldap3 re-raises socket errors as a class that inherits from both its
    # own error and the original one, so isinstance sees through it.
    return any(isinstance(e, (ssl.SSLCertVerificationError, ssl.CertificateError)) for e in _chain(exc)) or (
        "CERTIFICATE_VERIFY_FAILED" in str(exc)
    )


def _is_tls_error(exc: BaseException) -> bool:
    return _is_cert_error(exc) or any(
        isinstance(e, (ssl.SSLError, ldap_exc.LDAPStartTLSError)) for e in _chain(exc)
    )


def _ssl_reason(exc: BaseException) -> str:
    for e in _chain(exc):
        # ldap3 rebuilds the error from its text, dropping verify_message.
        reason = getattr(e, "verify_message", None)
        if reason:
            return reason
    text = _text(exc)
    match = re.search(r"certificate verify failed: (.+?)\s*\(_ssl\.c", text)
    if match:
        return match.group(1)
    # ldap3 prefixes its own context ("socket ssl wrapping error: ...").
    return re.sub(r"^\(?'?(socket ssl wrapping error|wrap socket error): ", "", text)


def _text(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__
