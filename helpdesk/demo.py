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
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Callable

import openpyxl

from .config import Config, InboxConfig, SmtpConfig, StorageConfig
from .daemon import Daemon
from .staff import views
from .store import Store
from .tickets import STATE_LABELS

SENDER = "sistemas@sanisidro-antioquia.gov.co"
GOB_SENDER = "soporte.ti@gobernacion-ejemplo.gov.co"


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
    support = config.smtp.from_address
    request = sample_request(support)
    _narrate_round(say, 1, [
        ("solicitud completa de la Alcaldía de San Isidro (3 adjuntos)", request),
        ("la misma solicitud entregada dos veces por el servidor", request),
        ("respuesta automática «fuera de la oficina»", out_of_office(support)),
        ("solicitud de la Gobernación sin adjuntos (en ISO-8859-1)", latin1_request(support)),
    ], inbox, daemon, store)

    gob = store.one("SELECT id FROM tickets WHERE sender = ?", (GOB_SENDER,))["id"]
    _narrate_round(say, 2, [
        ("la Gobernación responde con los documentos, pero el NIT está mal escrito",
         documents_reply(support, _last_sent_id(store, gob), nit="890.900.286-7")),
    ], inbox, daemon, store)
    _narrate_round(say, 3, [
        ("la Gobernación envía solo el Excel corregido",
         documents_reply(support, _last_sent_id(store, gob), nit="890.900.286-0", only_excel=True)),
    ], inbox, daemon, store)

    say("Solicitudes registradas:")
    for t in views.list_tickets(store):
        say(f"  {t['radicado']}  {STATE_LABELS[t['state']]:<24} {t['entity_name'] or '-'}")
    outbox_dir = config.path(config.smtp.path)
    files = sorted(outbox_dir.glob("*.eml"))
    say(f"\nCorreos escritos en {outbox_dir}: {len(files)}")
    for f in files:
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        say(f"  {f.name}: para {msg['To']}, «{msg['Subject']}»")
    helpdesk = f"{_program()} --config {_demo_config_hint(workdir)}"
    say(f"\nSiguiente: {helpdesk} queue   (lo que espera una decisión)")
    say(f"Después:   {helpdesk} show RADICADO   (una solicitud completa)")
    say(f'           {helpdesk} review --by "Su nombre"   (decidir una a una)')
    daemon.close()
    store.close()


def _last_sent_id(store: Store, ticket_id: int) -> str:
    return store.one("SELECT message_id FROM outbox WHERE ticket_id = ? ORDER BY id DESC LIMIT 1", (ticket_id,))["message_id"]


def _narrate_round(say, number: int, arrivals, inbox: Path, daemon: Daemon, store: Store) -> None:
    count = "llega 1 mensaje" if len(arrivals) == 1 else f"llegan {len(arrivals)} mensajes"
    say(f"Ronda {number}: {count} al buzón:")
    for label, raw in arrivals:
        say(f"  - {label}")
        _deliver_to_maildir(inbox, raw)
    before = store.one("SELECT coalesce(max(id), 0) FROM outbox")[0]
    outcomes = daemon.run_once()
    say("Resultado:")
    for outcome in outcomes:
        say(f"  - {describe(outcome)}")
    for row in store.query("SELECT o.kind, o.rcpt_to, o.raw, t.radicado FROM outbox o JOIN tickets t "
                           "ON t.id = o.ticket_id WHERE o.id > ? ORDER BY o.id", (before,)):
        say(f"  - correo «{row['kind']}» a {row['rcpt_to']} ({row['radicado']})")
        if row["kind"] == "correction":
            msg = email.message_from_bytes(row["raw"], policy=email.policy.default)
            for line in msg.get_body(("plain",)).get_content().splitlines():
                if line[:3].rstrip(". ").isdigit():
                    say(f"      {line}")
    say("")


def describe(outcome) -> str:
    if outcome.action == "new_ticket":
        sent = " y se envió el acuse de recibo" if outcome.replies else " (sin respuesta: límite diario)"
        return f"solicitud nueva: radicado {outcome.radicado}{sent}"
    if outcome.action == "joined":
        what = f": {outcome.reason}" if outcome.reason else ""
        return f"respuesta unida al radicado {outcome.radicado}{what} (sin radicado nuevo ni acuse)"
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
        '[inbox]\nsource = "maildir"\npath = "inbox"\n\n[smtp]\ntransport = "file"\npath = "outbox"\n\n'
        '[storage]\ndatabase = "helpdesk.db"\n',
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
    _attach_documents(msg, SAN_ISIDRO, scan_names=("formato_solicitud_firmado.pdf", "Acta de posesión alcalde.pdf"))
    return msg.as_bytes()


SAN_ISIDRO = {
    "entity": "Alcaldía de San Isidro", "nit": "890980040-8", "department": "Antioquia", "municipality": "San Isidro",
    "rep": "María Fernanda Gómez Ruiz", "position": "Alcaldesa", "rep_email": "alcaldia@sanisidro-antioquia.gov.co",
    "accounts": [("Correo electrónico", "contactenos@sanisidro-antioquia.gov.co")],
}
GOBERNACION = {
    "entity": "Gobernación de Ejemplo", "nit": "890.900.286-0", "department": "Antioquia", "municipality": "Medellín",
    "rep": "Andrés Felipe Restrepo Mejía", "position": "Gobernador", "rep_email": "despacho@gobernacion-ejemplo.gov.co",
    "accounts": [("Usuario de página web", "admin.web"), ("Correo electrónico", "contactenos@gobernacion-ejemplo.gov.co")],
}


def _attach_documents(msg: EmailMessage, entity: dict, scan_names=("formato_firmado.pdf", "acta_posesion.pdf"),
                      only_excel: bool = False) -> None:
    if not only_excel:
        msg.add_attachment(form_scan(entity["entity"], entity["rep"], entity["position"]),
                           maintype="application", subtype="pdf", filename=scan_names[0])
    msg.add_attachment(sample_form_xlsx(entity), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       filename="Formato solicitud diligenciado.xlsx")
    if not only_excel:
        msg.add_attachment(acta_scan(entity["rep"], entity["position"]),
                           maintype="application", subtype="pdf", filename=scan_names[1])


def documents_reply(support: str, answering: str, nit: str, only_excel: bool = False) -> bytes:
    msg = _base(GOB_SENDER, support, "RE: documentos de la solicitud", "Adjuntamos los documentos solicitados.")
    msg["In-Reply-To"] = f"<{answering}>"
    msg["References"] = f"<{answering}>"
    _attach_documents(msg, {**GOBERNACION, "nit": nit}, only_excel=only_excel)
    return msg.as_bytes()


def latin1_request(support: str) -> bytes:
    msg = _base(
        f"Gobernación <{GOB_SENDER}>",
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


def sample_form_xlsx(entity: dict) -> bytes:
    """The official template, filled in as an entity would."""
    from .documents.form_template import write_template

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "formato.xlsx"
        write_template(path)
        wb = openpyxl.load_workbook(path)
    ws = wb["Solicitud"]
    values = {
        "Nombre de la entidad": entity["entity"], "NIT": entity["nit"], "Departamento": entity["department"],
        "Municipio": entity["municipality"], "Nombres y apellidos": entity["rep"],
        "Tipo de documento": "Cédula de ciudadanía", "Número de documento": "43123456",
        "Cargo": entity["position"], "Correo electrónico": entity["rep_email"], "Teléfono": "6045551234",
    }
    table = None
    for row in ws.iter_rows(min_col=1, max_col=1):
        label = row[0].value
        if label == "Tipo":
            table = row[0].row
        elif label in values and table is None:
            ws.cell(row[0].row, 2, values[label])
    for n, (kind, account) in enumerate(entity["accounts"], start=1):
        ws.cell(table + n, 1, kind)
        ws.cell(table + n, 2, account)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def scan_pdf(lines: list[str], signature_label: str = "") -> bytes:
    """A page as a scanner makes it: one page-sized image (A4 at 150 dpi),
    no text layer; a signature stroke over ``signature_label`` when given."""
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("L", (1240, 1754), color=245)
    draw = ImageDraw.Draw(page)
    try:  # Debian's fonts-dejavu-core: accents as printed; Pillow's own font has none
        font = ImageFont.truetype("DejaVuSans.ttf", 26)
    except OSError:
        font = ImageFont.load_default(size=26)
    for n, line in enumerate(lines):
        draw.text((120, 150 + 50 * n), line, fill=20, font=font)
    draw.line((120, 1400, 520, 1370), fill=10, width=4)  # the signature
    draw.line((120, 1410, 620, 1410), fill=60, width=1)  # the line it is made over
    if signature_label:
        draw.text((120, 1425), signature_label, fill=20, font=font)
    out = io.BytesIO()
    page.save(out, format="PDF", resolution=150.0)
    return out.getvalue()


def form_scan(entity: str, rep: str, position: str) -> bytes:
    """The request form as an entity prints, signs and scans it: its title,
    its sections and the signature over its label (what OCR looks for)."""
    return scan_pdf(["FORMATO DE SOLICITUD DE REINICIO DE CLAVES", "1.1 Datos de la entidad",
                     f"Nombre de la entidad: {entity}", "1.2 Datos del representante legal",
                     f"Nombres y apellidos: {rep}", f"Cargo: {position}",
                     "2. Cuentas a las que se solicita reinicio de clave"],
                    signature_label="Firma del representante legal")


def acta_scan(rep: str, position: str) -> bytes:
    """A copy of the acta de posesión, as long as real ones are."""
    return scan_pdf(["ACTA DE POSESIÓN No. 001", "En la fecha se presentó ante el despacho",
                     f"{rep.upper()}, con el fin de tomar posesión del cargo",
                     f"de {position}, para el cual fue elegido. Prestó el juramento",
                     "de rigor y prometió cumplir la Constitución y las leyes de",
                     "la República. Para constancia se firma la presente acta."])


def _program() -> str:
    """How to call helpdesk again: its bare name when the shell finds this
    same program, else its full path (a venv that is not on the PATH)."""
    invoked = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    found = shutil.which("helpdesk")
    if invoked is None or not invoked.name.startswith("helpdesk"):
        return "helpdesk"
    if found and Path(found).resolve() == invoked:
        return "helpdesk"
    return str(invoked)
