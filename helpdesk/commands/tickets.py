"""Reading tickets: tickets, show, queue, and the blank form."""

from __future__ import annotations

from pathlib import Path

import click

from .. import texts, wording
from ..errors import HelpdeskError
from ..staff import labels, views
from ..tickets import state_label
from .base import Context, cli, echo, indented, pass_ctx, print_json, procedure_named, risk


class StateType(click.ParamType):
    """A ticket state: the contract's code or its Spanish name."""

    name = "estado"

    def convert(self, value, param, ctx):
        state = labels.state_from_user(value)
        if state is None:
            self.fail(f"«{texts.safe_text(value)}» no es un estado; use {labels.state_names_hint()}", param, ctx)
        return state


@cli.command()
@click.option("--state", type=StateType(),
              help="Solo las solicitudes en este estado: recibida, por-corregir, pendiente, resuelta, rechazada o desistida "
                   "(o needs_correction, pending_approval...).")
@click.option("--procedure", "procedure", metavar="TRÁMITE",
              help="Solo las solicitudes de este trámite (vea helpdesk procedures).")
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
@pass_ctx
def tickets(ctx: Context, state: str | None, procedure: str | None, as_json: bool) -> None:
    """Lista las solicitudes, las más recientes primero.

    Ejemplo: helpdesk tickets --state por-corregir --procedure reinicio-claves
    """
    if procedure is not None:
        procedure_named(ctx, procedure)
    rows = views.list_tickets(ctx.store, state, procedure)
    terms = views.add_terms(ctx.store, _office(ctx), rows)
    if as_json:
        print_json(rows)
        return
    if not rows:
        echo("No hay solicitudes.")
        return
    table = [TICKET_COLUMNS] + [
        (t["radicado"], state_label(t["state"]) + (", MENSAJE NUEVO" if t["follow_up"] else ""),
         ctx.time(t["created_at"]), t["procedure"], t["sender"], t["entity_name"] or "(sin identificar)",
         terms[t["radicado"]].text())
        for t in rows]
    for line in columns(table):
        echo(line)
    echo(f"\n{wording.count(len(rows), 'solicitud', 'solicitudes')}. Para ver una: helpdesk show RADICADO")


# The headings of `tickets`, one per column.
TICKET_COLUMNS = ("Radicado", "Estado", "Recibida", "Trámite", "Remitente", "Entidad", "Término")


def columns(table: list[tuple[str, ...]]) -> list[str]:
    """Rows as aligned columns two spaces apart, each as wide as its widest
    cell; the last one unpadded (no trailing spaces)."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    return ["  ".join([cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]) for row in table]


KIND_LABELS = {
    "signed_form": "formato firmado y escaneado",
    "excel_form": "formato en Excel",
    "acta_posesion": "acta de posesión",
    None: "sin clasificar",
}


@cli.command()
@click.argument("radicado")
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
@click.option("--save-attachments", "save_dir", type=click.Path(file_okay=False),
              help="Guarda los adjuntos recibidos en esta carpeta (para revisar firmas y escaneos).")
@pass_ctx
def show(ctx: Context, radicado: str, as_json: bool, save_dir: str | None) -> None:
    """Muestra una solicitud completa: datos del formato, documentos, hallazgos e historial.

    Ejemplo: helpdesk show GEL-2026-000042 --save-attachments /tmp/GEL-2026-000042
    """
    show_ticket(ctx, radicado, as_json, save_dir)


def show_ticket(ctx: Context, radicado: str, as_json: bool = False, save_dir: str | None = None,
                hint: bool = True) -> None:
    """The screen of `show`; `review` prints it without the hint of what
    to do next, since it asks that itself."""
    view = views.detail(ctx.store, radicado, ctx.config.limits)
    if save_dir:
        from ..examination.ticket import save_attachments

        ticket_id = ctx.store.one("SELECT id FROM tickets WHERE radicado = ?", (view["radicado"],))["id"]
        paths = save_attachments(ctx.store, ctx.config, ticket_id, Path(save_dir))
        if not as_json:
            if paths or not view["attachments_purged_at"]:
                echo(f"{wording.count(len(paths), 'adjunto guardado', 'adjuntos guardados')} en {save_dir}")
            if view["attachments_purged_at"]:
                echo(_purged_line(ctx, view))
    view["risk"] = risk(ctx, view["warnings"])
    office = _office(ctx)
    term = views.add_terms(ctx.store, office, [view])[view["radicado"]]
    correcting = _correction_limit(ctx, office, view)
    if correcting is not None:
        view["correction_limit"] = correcting.limit.isoformat()
    if as_json:
        print_json(view)
        return
    echo(view["risk"]["line"])
    echo(f"Radicado:      {view['radicado']}")
    echo(f"Trámite:       {_procedure_name(ctx, view['procedure'])}")
    echo(f"Estado:        {state_label(view['state'])}")
    echo(f"Remitente:     {view['sender']}")
    if view["requester"] != view["sender"]:
        echo(f"Responder a:   {view['requester']}")
    echo(f"Asunto:        {view['subject']}")
    echo(f"Recibida:      {ctx.time(view['created_at'])}")
    _term_line("Término:       ", term, ctx)
    if correcting is not None:
        from ..terms.calendar import long_date

        echo(f"Plazo para corregir: hasta el {long_date(correcting.limit)} (Ley 1755 de 2015, art. 17); después se "
             "archiva por desistimiento")
    if view["examination_pending"]:
        echo("Documentos:    pendientes de examen")
    if view["attachments_purged_at"]:
        echo(f"Adjuntos:      {_purged_line(ctx, view)}")
    if view["form"]:
        procedure = ctx.rules.procedures.get(view["procedure"])
        names = {k: f.name for k, f in (procedure.form if procedure else ctx.rules.form).fields.items()}
        echo("\nFormato (Excel):")
        for key, value in view["form"].items():
            echo(f"  {names.get(key, key) + ':':<52} {value}")
            if procedure and key == procedure.person_field and view.get("registered_name"):
                echo(f"  {'Titular según el directorio:':<52} {view['registered_name']}")
    if view["accounts"]:
        echo("\nCuentas:")
        for a in view["accounts"]:
            echo(f"  - {a['type']}: {a['account']}")
    if view["documents"]:
        echo("\nDocumentos:")
        for d in view["documents"]:
            used = "" if d["counted"] or not d["kind"] else " (reemplazado por uno más reciente)"
            error = f" — ilegible: {d['error']}" if d["error"] else ""
            echo(f"  - {d['filename']}: {KIND_LABELS.get(d['kind'], d['kind'])}{used}{error}")
            if d.get("digital_signature"):
                echo(f"      {labels.signature_line(d['digital_signature'])}")
            if d.get("reading"):
                for line in _reading_lines(d["reading"]):
                    echo(f"      {line}")
    for title, key in (("Problemas", "problems"), ("Advertencias", "warnings")):
        if view[key]:
            echo(f"\n{title}:")
            for f in view[key]:
                where = f" [{f['document']}]" if f.get("document") else ""
                echo(f"  - {labels.code_label(f['code'], ctx.rules.trust)} ({f['code']}): {f['detail']}{where}")
    echo("\nMensajes:")
    for m in view["messages"]:
        arrow = "recibido" if m["direction"] == "in" else "enviado "
        delivery = f" [{labels.delivery_label(m['delivery'])}]" if m.get("delivery") else ""
        echo(f"  {ctx.time(m['at'])}  {arrow}  {m['kind']:<10} {m['from']} -> {m['to']}{delivery}")
        echo(f"      {m['subject']}")
        if m.get("authentication"):
            echo(f"      Autenticación del remitente: {m['authentication']['summary']}")
        if m["direction"] == "in" and m["text"]:
            echo(indented(m["text"], "      | "))
    if view["links"]:
        echo("\nEnlaces:")
        for e in view["links"]:
            where = f" desde {e['client']}" if e["client"] else ""
            detail = f" — {e['detail']}" if e["detail"] else ""
            echo(f"  {ctx.time(e['at'])}  {e['account']}: {e['label']}{where}{detail}")
    if view["resets"]:
        echo("\nReinicios de clave:")
        for r in view["resets"]:
            result = "hecho" if r["ok"] else f"falló: {r['error']}"
            echo(f"  {ctx.time(r['at'])}  {r['account']} ({r['backend']}): {result} — {r['actor']}")
    if view["claimed_by"]:
        echo(f"\nEn aprobación por: {view['claimed_by']}")
    echo("\nHistorial:")
    for e in view["events"]:
        echo(f"  {ctx.time(e['at'])}  {e['actor']}: {e['action']}{' — ' + e['detail'] if e['detail'] else ''}")
    if hint:
        echo(f"\nSiguiente: {next_step(view)}")


BY = '--by "Su nombre"'


def next_step(view: dict) -> str:
    """What comes next for a ticket, as the command to type (CONTRACT §1-2):
    its state decides, and an unanswered message from the entity comes first."""
    r = view["radicado"]
    steps = [f'helpdesk reply {r} {BY} --message "…" (responde el mensaje nuevo)'] if view.get("follow_up") else []
    state = view["state"]
    if view.get("claimed_by"):
        steps.append(f"espere: {view['claimed_by']} la está aprobando")
    elif state == "pending_approval":
        steps.append(f'helpdesk approve {r} {BY}, o helpdesk reject {r} {BY} --reason "…" '
                     "(o correct, para pedir una corrección)")
    elif steps:
        pass  # the message to answer is what comes next
    elif state == "needs_correction":
        steps.append("nada por ahora: se espera la corrección de la entidad")
    elif state == "link_sent":
        steps.append(f'nada por ahora: se espera que usen los enlaces (helpdesk revoke {r} {BY} --reason "…" '
                     "los anula)")
    elif state == "received" and view.get("examination_pending"):
        steps.append("nada por ahora: el servicio está examinando los documentos")
    elif state == "received":  # a question whose answer was not a staff reply (one resolves it)
        steps.append(f'helpdesk reply {r} {BY} --message "…" (responde la pregunta)')
    else:
        steps.append(f"nada: la solicitud está cerrada (helpdesk reopen {r} {BY} si la entidad envía documentos "
                     "nuevos)")
    return "; ".join(steps)


@cli.command("form-template")
@click.argument("path", metavar="ARCHIVO.xlsx", type=click.Path(dir_okay=False))
@click.option("--procedure", "procedure", metavar="TRÁMITE", default=None,
              help="El trámite cuyo formato se escribe (por omisión, [procedures] default).")
@click.pass_obj
def form_template(ctx: Context, path: str, procedure: str | None) -> None:
    """Escribe el formato de solicitud en blanco (.xlsx) que diligencian las entidades.

    Ejemplo: helpdesk form-template formato_solicitud.xlsx --procedure reinicio-claves
    """
    from ..documents.form_template import blank_form_writer

    target = Path(path)
    if target.suffix.lower() not in (".xlsx", ".xlsm"):
        raise click.UsageError("el archivo debe terminar en .xlsx")
    chosen = procedure_named(ctx, procedure or ctx.config_or_defaults.procedures.default)
    write = blank_form_writer(chosen, ctx.rules.form)
    if write is None:
        raise HelpdeskError(f"el trámite {chosen.id} no tiene un formato en blanco")
    try:
        write(target)
    except OSError as exc:
        raise HelpdeskError(f"no se pudo escribir {target}: {exc.strerror}") from None
    echo(f"Formato escrito en {target}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
@pass_ctx
def queue(ctx: Context, as_json: bool) -> None:
    """Solicitudes que esperan a una persona, las más urgentes primero.

    Las pendientes de aprobación y todas las que tienen un mensaje de la
    entidad sin responder (en cualquier estado), con el texto del mensaje.
    Responda con helpdesk reply o decida con approve, reject o correct.
    Cada una muestra su término legal: «vence el … (faltan N días
    hábiles)» o «vencida hace N días hábiles» (Ley 1755 de 2015).

    Ejemplo: helpdesk queue
    """
    items = views.queue(ctx.store, ctx.config.limits)
    terms = views.add_terms(ctx.store, _office(ctx), items)
    items = views.by_urgency(items)
    for t in items:
        t["risk"] = risk(ctx, t["warnings"])
    if as_json:
        print_json(items)
        return
    if not items:
        echo("No hay solicitudes pendientes de aprobación ni mensajes por responder.")
        return
    echo(f"{wording.count(len(items), 'solicitud', 'solicitudes')} en espera:\n")
    for t in items:
        marks = [state_label(t["state"])]
        if t["follow_up"]:
            marks.append("MENSAJE NUEVO DEL SOLICITANTE")
        if t["claimed_by"]:
            marks.append(f"en aprobación por {t['claimed_by']}")
        echo(f"{t['radicado']}  {wording.ago(t['age_hours'])}  {'  '.join(marks)}")
        echo(f"  {t['risk']['line']}")  # the decision's first question: what looks wrong
        _term_line("  Término:       ", terms[t["radicado"]], ctx)
        echo(f"  Trámite:       {_procedure_name(ctx, t['procedure'])}")
        for line in _who(ctx, t):
            echo(f"  {line}")
        codes = sorted({f"{labels.code_label(w['code'], ctx.rules.trust)} ({w['code']})" for w in t["warnings"]})
        echo(f"  Advertencias:  {len(t['warnings'])}{' (' + '; '.join(codes) + ')' if codes else ''}")
        earlier = t["new_messages_total"] - len(t["new_messages"])
        if earlier:
            unanswered = wording.count(earlier, "mensaje anterior", "mensajes anteriores")
            echo(f"  ({unanswered} sin responder: vea helpdesk show {t['radicado']})")
        for m in t["new_messages"]:
            echo(f"  Mensaje de {m['from'] or '-'} ({ctx.time(m['at'])}): {m['subject']}")
            echo(indented(texts.excerpt(m["text"]), "    | "))
        echo("")
    echo(f'Siguiente: helpdesk review {BY} (las recorre una a una), o helpdesk show {items[0]["radicado"]}')


def _who(ctx: Context, t: dict) -> list[str]:
    """Who asks and for which accounts, as the queue shows them: by the
    procedure's own field names; "sin formulario" for a message that
    brought none (a question, or a request without its Excel)."""
    if not any(t[k] for k in ("entity_name", "entity_nit", "legal_rep_name", "legal_rep_email")) \
            and not t["accounts"]:
        return [f"{'Formato:':<14} sin formulario"]
    procedure = ctx.rules.procedures.get(t["procedure"])
    nit = f"  (NIT {t['entity_nit']})" if t["entity_nit"] else ""
    email = f" <{t['legal_rep_email']}>" if t["legal_rep_email"] else ""
    if procedure is None or procedure.entity_field == "entity_name":
        lines = [f"{'Entidad:':<14} {t['entity_name'] or 'sin nombre'}{nit}",
                 f"{'Representante:':<14} {t['legal_rep_name'] or 'sin nombre'}{email}"]
    else:  # a procedure's own form: its own names for who asks and who is concerned
        fields = procedure.form.fields
        lines = [f"{_short(fields[procedure.entity_field].name) + ':':<14} {t['entity_name'] or 'sin nombre'}",
                 f"{_short(fields[procedure.person_field].name) + ':':<14} {t['legal_rep_name'] or 'sin nombre'}{email}"]
    if t.get("registered_name"):
        lines.append(f"{'Titular:':<14} {t['registered_name']} (según el directorio)")
    lines.append(f"{'Cuentas:':<14} {', '.join(a['account'] for a in t['accounts']) or 'ninguna'}")
    return lines


def _office(ctx: Context):
    """The calendars and terms of this configuration (CONTRACT 12)."""
    from ..terms.office import office_of

    return office_of(ctx.config, ctx.rules.procedures)


def _correction_limit(ctx: Context, office, view: dict):
    """A ticket waiting for a correction: its limit to answer (terms/clock.py)."""
    if view["state"] != "needs_correction":
        return None
    from ..terms.clock import waiting

    ticket_id = ctx.store.one("SELECT id FROM tickets WHERE radicado = ?", (view["radicado"],))["id"]
    found = waiting(ctx.store.conn, ctx.config, office, ticket_id)
    return found[0] if found else None


def _term_line(label: str, standing, ctx: Context) -> None:
    """The term's line, red when overdue and yellow within [terms]
    warn_days, where the terminal shows colour (click drops the colour
    on a pipe or a file; NO_COLOR turns it off). The text is ours, never
    the entity's, so the colour codes are added after echo's cleaning."""
    import os

    text = standing.text()
    colour = None
    if standing.due is not None and not os.environ.get("NO_COLOR"):
        if standing.overdue or standing.left < 0:
            colour = "red"
        elif standing.left <= ctx.config.terms.warn_days:
            colour = "yellow"
    click.echo(texts.safe_text(label) + (click.style(text, fg=colour, bold=True) if colour else texts.safe_text(text)))


# First lines of a scan's text that show and review print.
READING_LINES = 6


def _reading_lines(reading: dict) -> list[str]:
    """What OCR read of a scan, for staff (CONTRACT §11): the engine and
    confidence, the form's fields as the scan shows them, the signature,
    the pages not read and the first lines read."""
    if not reading["engine"]:
        return ["Escaneo sin leer: " + "; ".join(p["reason"] for p in reading["pages"] if p["reason"])]
    out = [f"Leído por OCR ({reading['engine']}): "
           f"{wording.count(reading['pages_read'], 'página', 'páginas')}, "
           f"confianza media {reading['confidence']}/100"]
    for m in reading.get("matched", []):
        agrees = {True: "coincide con el formato Excel", False: "NO coincide con el formato Excel",
                  None: "sin dato en el formato Excel"}[m["agrees"]]
        if m["read"]:
            out.append(f"{m['field']}: «{m['read']}» (confianza {m['confidence']}), {agrees}")
        else:
            out.append(f"{m['field']}: «{m['form']}» no se encontró en lo leído")
    signature = reading.get("signature")
    if signature:
        out.append(f"Firma: tinta {signature['ink'] * 100:.1f} % del área sobre «{signature['label']}»"
                   if signature["found"] else "Firma: no se encontró la línea de firma; revísela a mano")
    for page in reading.get("pages", []):
        if page["state"] == "unread":
            out.append(f"Página {page['page']} sin leer: {page['reason']}")
        elif page["state"] == "blank":
            out.append(f"Página {page['page']}: en blanco")
    lines = [line for line in reading["text"].splitlines() if line.strip()][:READING_LINES]
    if lines:
        out.append("Primeras líneas leídas:")
        out += [f"| {line}" for line in lines]
    return out


def _purged_line(ctx: Context, view: dict) -> str:
    return f"adjuntos eliminados por la política de retención el {ctx.time(view['attachments_purged_at'])}"


def _short(name: str) -> str:
    """'Nombres y apellidos del funcionario (2)' -> 'Funcionario': a field's
    name without its section number, shortened to its last words."""
    bare = name.split(" (")[0]
    return bare.rsplit(" del ", 1)[-1].rsplit(" de la ", 1)[-1].capitalize() if " de" in bare else bare


def _procedure_name(ctx: Context, procedure_id: str) -> str:
    procedure = ctx.rules.procedures.get(procedure_id)
    return f"{procedure.name} ({procedure_id})" if procedure else procedure_id
