"""``helpdesk demo``: the whole flow on the embedded defaults, no server.

It builds a private workspace (Maildir inbox, file outbox, SQLite), drops
sample messages into the inbox the way a mail server would, runs the same
``Daemon`` that production runs, and narrates the result in Spanish.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import io
import shutil
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Callable

import openpyxl

from . import views
from .config import Config, InboxConfig, SmtpConfig, StorageConfig
from .daemon import Daemon
from .store import Store
from .tickets import STATE_LABELS

SENDER = "sistemas@sanisidro-antioquia.gov.co"


def run_demo(base: Config | None, workdir: Path | None, say: Callable[[str], None]) -> None:
    base = base or Config()
    workdir = workdir or base.base_dir / "var" / "demo"
    if workdir.exists():
        shutil.rmtree(workdir)
    config = dataclasses.replace(
        base,
        inbox=InboxConfig(source="maildir", path=str(workdir / "inbox")),
        smtp=dataclasses.replace(SmtpConfig(), transport="file", path=str(workdir / "outbox"),
                                 from_address=base.smtp.from_address, from_name=base.smtp.from_name),
        storage=StorageConfig(database=str(workdir / "helpdesk.db")),
    )
    store = Store(config.database_path, config.raw_dir)
    daemon = Daemon(config, store)
    inbox = config.path(config.inbox.path)

    say("Demostración de helpdesk: buzón Maildir y salida a archivos, sin servidores.")
    say(f"Carpeta de trabajo: {workdir}\n")
    request = sample_request(config.smtp.from_address)
    arrivals = [
        ("solicitud de la Alcaldía de San Isidro (3 adjuntos)", request),
        ("la misma solicitud entregada dos veces por el servidor", request),
        ("respuesta automática «fuera de la oficina»", out_of_office(config.smtp.from_address)),
        ("solicitud de la Gobernación en ISO-8859-1", latin1_request(config.smtp.from_address)),
    ]
    _narrate_round(say, 1, arrivals, inbox, daemon)

    ack = store.one("SELECT message_id, ticket_id FROM outbox WHERE kind = 'ack' ORDER BY id LIMIT 1")
    follow_up = reply_to_ack(config.smtp.from_address, ack["message_id"])
    _narrate_round(say, 2, [("respuesta de la entidad al acuse de recibo", follow_up)], inbox, daemon)

    say("Solicitudes registradas:")
    for t in views.list_tickets(store):
        say(f"  {t['radicado']}  {STATE_LABELS[t['state']]:<12} de {t['sender']}")
    outbox_dir = config.path(config.smtp.path)
    files = sorted(outbox_dir.glob("*.eml"))
    say(f"\nCorreos escritos en {outbox_dir}: {len(files)}")
    for f in files:
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        say(f"  {f.name}: para {msg['To']}, «{msg['Subject']}»")
    if files:
        first = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
        say("\nTexto del primer acuse de recibo:\n")
        say("    " + first.get_body(("plain",)).get_content().strip().replace("\n", "\n    "))
    say(f"\nPara ver una solicitud: helpdesk --config {_demo_config_hint(workdir)} show RADICADO")
    store.close()


def _narrate_round(say, number: int, arrivals, inbox: Path, daemon: Daemon) -> None:
    say(f"Ronda {number}: llegan {len(arrivals)} mensaje(s) al buzón:")
    for label, raw in arrivals:
        say(f"  - {label}")
        _deliver_to_maildir(inbox, raw)
    outcomes = daemon.run_once()
    say("Resultado:")
    for outcome in outcomes:
        say(f"  - {describe(outcome)}")
    say("")


def describe(outcome) -> str:
    if outcome.action == "new_ticket":
        sent = " y se envió el acuse de recibo" if outcome.replies else " (sin respuesta: límite diario)"
        return f"solicitud nueva: radicado {outcome.radicado}{sent}"
    if outcome.action == "joined":
        return f"respuesta unida al radicado {outcome.radicado} (sin radicado nuevo ni acuse)"
    if outcome.action == "duplicate":
        return "mensaje ya procesado: no se crea nada nuevo"
    if outcome.action == "ignored":
        return f"mensaje automático ({outcome.reason}): no se responde ni se asigna radicado"
    return f"en cuarentena: {outcome.reason} (vea helpdesk failed)"


def _deliver_to_maildir(inbox: Path, raw: bytes) -> None:
    """What a mail server does: write in tmp/, then rename into new/."""
    name = f"{time.time_ns()}.demo.helpdesk"
    tmp = inbox / "tmp" / name
    tmp.parent.mkdir(parents=True, exist_ok=True)
    (inbox / "new").mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(raw)
    tmp.rename(inbox / "new" / name)


def _demo_config_hint(workdir: Path) -> str:
    config = workdir / "config.toml"
    config.write_text(
        f'[inbox]\nsource = "maildir"\npath = "inbox"\n\n[smtp]\ntransport = "file"\npath = "outbox"\n\n'
        f'[storage]\ndatabase = "helpdesk.db"\n',
        encoding="utf-8",
    )
    return str(config)


# -- sample messages ----------------------------------------------------


def _base(sender: str, to: str, subject: str, body: str, charset: str = "utf-8") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.partition("@")[2])
    msg.set_content(body, charset=charset)
    return msg


def sample_request(support: str) -> bytes:
    msg = _base(
        f"Sistemas Alcaldía <{SENDER}>",
        support,
        "Solicitud de reinicio de clave del correo institucional",
        "Buenos días:\n\nAdjuntamos el formato firmado, el formato en Excel y el acta de posesión "
        "del señor alcalde para el reinicio de la clave de contactenos@sanisidro-antioquia.gov.co.\n\n"
        "Cordialmente,\nOficina de Sistemas",
    )
    msg.add_attachment(minimal_pdf("Formato de solicitud firmado"), maintype="application",
                       subtype="pdf", filename="formato_solicitud_firmado.pdf")
    msg.add_attachment(sample_form_xlsx(), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       filename="Formato solicitud diligenciado.xlsx")
    msg.add_attachment(minimal_pdf("Acta de posesión del alcalde"), maintype="application",
                       subtype="pdf", filename="Acta de posesión alcalde.pdf")
    return msg.as_bytes()


def latin1_request(support: str) -> bytes:
    msg = _base(
        "Gobernación <soporte.ti@gobernacion-ejemplo.gov.co>",
        support,
        "Reinicio de contraseña – usuario página web",
        "Señores Gobierno en línea:\n\nSolicitamos el reinicio de la contraseña del usuario «admin.web».\n",
        charset="iso-8859-1",
    )
    return msg.as_bytes()


def out_of_office(support: str) -> bytes:
    msg = _base("Juan Pérez <jperez@otra-entidad.gov.co>", support, "Respuesta automática: fuera de la oficina",
                "Estaré fuera de la oficina hasta el lunes.")
    msg["Auto-Submitted"] = "auto-replied"
    return msg.as_bytes()


def reply_to_ack(support: str, ack_message_id: str) -> bytes:
    msg = _base(SENDER, support, "RE: [Radicado] Solicitud recibida",
                "Gracias. Quedamos atentos a la revisión de los documentos.")
    msg["In-Reply-To"] = f"<{ack_message_id}>"
    msg["References"] = f"<{ack_message_id}>"
    return msg.as_bytes()


def minimal_pdf(text: str) -> bytes:
    """A valid one-page PDF with a text layer, built by hand (no dependency)."""
    safe = text.encode("latin-1", "replace").replace(b"(", b"[").replace(b")", b"]")
    stream = b"BT /F1 18 Tf 72 720 Td (" + safe + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def sample_form_xlsx() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Solicitud"
    rows = [
        ["1.1 Datos de la entidad"],
        ["Nombre de la entidad", "Alcaldía de San Isidro"],
        ["NIT", "890980040-8"],
        ["Departamento", "Antioquia"],
        ["Municipio", "San Isidro"],
        [],
        ["1.2 Datos del representante legal"],
        ["Nombres y apellidos", "María Fernanda Gómez Ruiz"],
        ["Tipo de documento", "Cédula de ciudadanía"],
        ["Número de documento", "43123456"],
        ["Cargo", "Alcaldesa"],
        ["Correo electrónico", "alcaldia@sanisidro-antioquia.gov.co"],
        ["Teléfono", "6045551234"],
        [],
        ["2. Cuentas a las que se solicita reinicio de clave"],
        ["Tipo", "Cuenta"],
        ["Correo electrónico", "contactenos@sanisidro-antioquia.gov.co"],
    ]
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
