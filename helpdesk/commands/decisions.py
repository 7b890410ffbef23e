"""Staff decisions: approve, reject, revoke, correct, reply, reopen, and review, which walks the queue."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import wording
from ..errors import HelpdeskError
from ..staff import labels, views
from . import writing
from .base import Context, cli, confirm_typed, deliver_now, echo, pass_ctx, renderer
from .tickets import show_ticket


@cli.command()
@click.argument("radicado")
@click.option("--by", "by", required=True, help="Nombre de quien aprueba (queda en el historial).")
@click.option("--yes", is_flag=True, help="Confirma sin preguntar (backend manual: las claves ya se aplicaron).")
@click.option("--acknowledge-warnings", is_flag=True,
              help="Aprueba aunque haya advertencias de alto riesgo (remitente no autenticado, correo del "
                   "representante legal personal o cambiado), después de revisarlas.")
@click.option("--confirm-deletion", "confirm_deletion", metavar="CUENTA", default=None,
              help="Eliminación de una cuenta: confirma sin preguntar escribiendo la cuenta que se elimina.")
@pass_ctx
def approve(ctx: Context, radicado: str, by: str, yes: bool, acknowledge_warnings: bool = False,
            confirm_deletion: str | None = None) -> None:
    """Aprueba una solicitud y ejecuta la acción de su trámite.

    Reinicio de claves: reinicia las claves y las envía al representante
    legal (campo 1.2). Cuentas de correo: crea, modifica o elimina la
    cuenta, envía la cuenta y la clave temporal al funcionario y un aviso a
    la dependencia. Con el backend manual muestra lo que hay que aplicar en
    la consola del proveedor y pide confirmación antes de enviar el correo.
    Una eliminación pide además escribir la cuenta que se elimina.

    Ejemplo: helpdesk approve GEL-2026-000042 --by "Ana Pérez"
    """
    from ..resets.accounts import AccountOrder
    from ..staff import decisions as staff
    from ..staff.unlock import UnlockOrder

    def confirm(credentials) -> bool:
        if isinstance(credentials, AccountOrder):
            return _confirm_account(ctx, radicado, credentials, yes)
        if ctx.config.reset.backend != "manual":
            return True
        if isinstance(credentials, UnlockOrder):
            echo(f"Desbloquee la cuenta {credentials.account} en la consola del proveedor (quite el bloqueo por "
                 "intentos fallidos; la contraseña no cambia).\n")
            return yes or _applied_by_hand("¿Ya la desbloqueó? Se enviará el aviso al correo registrado de la cuenta.",
                                           radicado)
        echo("Aplique estas claves temporales en la consola del proveedor (se muestran solo esta vez).")
        echo("Los guiones son parte de la clave: cópiela completa, con ellos.\n")
        for c in credentials:
            echo(f"  {c.account:<45} {c.password}")
        echo("")
        return yes or _applied_by_hand("¿Ya aplicó las claves? Se enviará el correo al representante legal.", radicado)

    def deletion(order) -> bool:
        if confirm_deletion is not None:
            return confirm_deletion.strip().lower() == order.account
        verb = "ELIMINAR" if order.action == "delete" else "DESHABILITAR"
        echo(f"Va a {verb} la cuenta {order.account} ({order.official_name or 'sin funcionario'}, "
             f"{order.office or 'sin dependencia'}). Quien la usa pierde el acceso a su correo.")
        return confirm_typed(f"Escriba la cuenta ({order.account}) para confirmar; cualquier otra cosa cancela",
                             (order.account,))

    approved = staff.approve(ctx.store, ctx.config, renderer(ctx), radicado, by, confirm, acknowledge_warnings,
                             ctx.rules, deletion)
    if approved is None:
        echo("Aprobación cancelada: no se envió nada.")
        sys.exit(1)
    procedure = ctx.rules.procedures.get(approved.ticket.procedure)
    action = procedure.action if procedure else "reset"
    if action == "unlock":
        what = "cuenta desbloqueada; el aviso va al correo registrado"
    elif action == "change_email":
        hold = ctx.config.procedures.hold_of(approved.ticket.procedure)
        what = ("enlace de confirmación enviado al correo nuevo y aviso con enlace de cancelación al correo "
                "registrado; el cambio se aplica cuando la persona lo confirme"
                + (f" y pasen {hold:g} h sin que el titular lo cancele" if hold else ""))
    elif approved.order is not None:
        what = (f"{ACTION_DONE[approved.order.action]} la cuenta {approved.order.account}; el resultado va a "
                f"{approved.ticket.legal_rep_email} y el aviso a la dependencia")
    elif not approved.credentials:  # [reset] delivery = "link": nothing applied yet
        what = (f"los enlaces para cambiar las claves van a {approved.ticket.legal_rep_email}; el cambio se aplica "
                "cuando la persona los use")
    else:
        what = (f"{wording.count(len(approved.credentials), 'cuenta reiniciada', 'cuentas reiniciadas')}; "
                f"el correo con las claves va a {approved.ticket.legal_rep_email}")
    echo(f"Solicitud {approved.ticket.radicado} aprobada: {what}.")
    deliver_now(ctx, approved.outbox_id)


ACTION_DONE = {"create": "se creó", "modify": "se modificó", "delete": "se eliminó", "disable": "se deshabilitó"}


def _confirm_account(ctx: Context, radicado: str, order, yes: bool) -> bool:
    """The manual backend: what to do by hand, then the typed confirmation."""
    if ctx.config.accounts.backend_of(ctx.config.reset) != "manual":
        return True
    what = {"create": "Cree la cuenta", "modify": "Modifique los datos de la cuenta",
            "delete": "Elimine la cuenta", "disable": "Deshabilite (bloquee) la cuenta"}[order.action]
    echo(f"{what} {order.account} en la consola del proveedor de correo:\n")
    for label, value in (("Funcionario", order.official_name), ("Documento", f"{order.official_doc_type} "
                         f"{order.official_doc_number}".strip()), ("Cargo", order.official_position),
                         ("Dependencia", order.office), ("Cambios", order.changes if order.action == "modify" else "")):
        if value:
            echo(f"  {label + ':':<13} {value}")
    if order.password:
        echo(f"  {'Clave temporal:':<13} {order.password}   (se muestra solo esta vez; con los guiones)")
        echo("  Marque «cambiar la contraseña en el primer inicio de sesión».")
    echo("")
    return yes or _applied_by_hand("¿Ya lo hizo? Se enviará el resultado al funcionario y a la dependencia.", radicado)


def _applied_by_hand(question: str, radicado: str) -> bool:
    """The manual backend's confirmation, typed out: the radicado or «sí»."""
    wanted = radicado.strip().upper()
    return confirm_typed(f"{question}\nEscriba el radicado ({wanted}) o «sí» para enviarlo; cualquier otra cosa "
                         "cancela", (wanted, "sí", "si"))


@cli.command()
@click.argument("radicado")
@click.option("--by", "by", required=True, help="Nombre de quien rechaza.")
@click.option("--reason", required=True, help="Motivo, que se envía al solicitante.")
@pass_ctx
def reject(ctx: Context, radicado: str, by: str, reason: str) -> None:
    """Rechaza una solicitud y envía el motivo al solicitante.

    También con los enlaces ya enviados: los que no se usaron dejan de
    servir (como con helpdesk revoke).

    Ejemplo: helpdesk reject GEL-2026-000042 --by "Ana Pérez" --reason "El acta no corresponde a la entidad"
    """
    from ..staff import decisions as staff

    decided = staff.reject(ctx.store, ctx.config, renderer(ctx), radicado, by, reason, ctx.rules)
    echo(f"Solicitud {decided.ticket.radicado} rechazada; se envía el motivo a {decided.recipient}.")
    deliver_now(ctx, decided.outbox_id)


@cli.command()
@click.argument("radicado")
@click.option("--by", "by", required=True, help="Nombre de quien revoca (queda en el historial).")
@click.option("--reason", required=True, help="Motivo, que se envía al solicitante.")
@pass_ctx
def revoke(ctx: Context, radicado: str, by: str, reason: str) -> None:
    """Revoca una aprobación: invalida los enlaces sin usar y rechaza la solicitud.

    Dejan de servir los enlaces de cambio de clave, la confirmación del
    correo nuevo, el enlace de cancelación del correo registrado y los
    enlaces de autoservicio de sus cuentas pedidos desde entonces; un cambio
    de correo pendiente no se aplica. Se envía el motivo al solicitante.

    Ejemplo: helpdesk revoke CCO-2026-000042 --by "Ana Pérez" --reason "El documento de identidad no corresponde"
    """
    from ..staff import decisions as staff

    decided = staff.revoke(ctx.store, ctx.config, renderer(ctx), radicado, by, reason, ctx.rules)
    echo(f"Solicitud {decided.ticket.radicado} revocada: sus enlaces sin usar ya no sirven y se envía el motivo "
         f"a {decided.recipient}.")
    deliver_now(ctx, decided.outbox_id)


@cli.command()
@click.argument("radicado")
@click.option("--by", "by", required=True, help="Nombre de quien pide la corrección.")
@click.option("--reason", required=True, help="Qué debe corregir la entidad; se le envía tal cual.")
@pass_ctx
def correct(ctx: Context, radicado: str, by: str, reason: str) -> None:
    """Pide al solicitante una corrección, con el motivo escrito por el equipo.

    Ejemplo: helpdesk correct GEL-2026-000042 --by "Ana Pérez" --reason "La firma del formato no es legible"
    """
    from ..staff import decisions as staff

    decided = staff.request_correction(ctx.store, ctx.config, renderer(ctx), radicado, by, reason, ctx.rules)
    echo(f"Se pidió una corrección en {decided.ticket.radicado}; se envía a {decided.recipient}.")
    deliver_now(ctx, decided.outbox_id)


@cli.command()
@click.argument("radicado")
@click.option("--by", "by", required=True, help="Nombre de quien amplía el término (queda en el historial).")
@click.option("--days", "days", type=click.IntRange(min=1),
              help="Días hábiles que se suman a la fecha de vencimiento actual (como máximo el término inicial).")
@click.option("--correction-month", "correction_month", is_flag=True,
              help="En vez de --days: la prórroga de un mes que el solicitante pidió para corregir (artículo 17).")
@click.option("--reason", required=True, help="Por qué no se puede responder a tiempo; se le envía al solicitante.")
@pass_ctx
def extend(ctx: Context, radicado: str, by: str, days: int | None, correction_month: bool, reason: str) -> None:
    """Amplía el término para responder una solicitud y avisa al solicitante.

    Solo antes de la fecha de vencimiento, y como máximo por el término
    inicial del trámite (Ley 1755 de 2015, artículo 14, parágrafo). La nueva
    fecha queda N días hábiles después de la actual; el solicitante recibe
    la nueva fecha y el motivo (correo term_extended). Con
    --correction-month, en una solicitud que espera una corrección, da al
    solicitante que la pidió antes de que venza la prórroga de su plazo
    para corregir (artículo 17), una vez.

    Ejemplo: helpdesk extend GEL-2026-000042 --by "Ana Pérez" --days 10 --reason "El proveedor de correo responde en enero"
    """
    from ..staff.extend import extend as extend_term
    from ..staff.extend import extend_correction
    from ..terms.calendar import long_date

    if (days is None) == (not correction_month):
        raise click.UsageError("indique --days N o --correction-month (uno de los dos)")
    if correction_month:
        done = extend_correction(ctx.store, ctx.config, renderer(ctx), ctx.rules, radicado, by, reason)
        echo(f"Plazo para corregir {done.decided.ticket.radicado} prorrogado: vencía el "
             f"{long_date(done.previous_due)}, ahora vence el {long_date(done.new_due)}; se avisa a "
             f"{done.decided.recipient}.")
        deliver_now(ctx, done.decided.outbox_id)
        return
    done = extend_term(ctx.store, ctx.config, renderer(ctx), ctx.rules, radicado, by, days, reason)
    echo(f"Término de {done.decided.ticket.radicado} ampliado: vencía el {long_date(done.previous_due)}, ahora vence "
         f"el {long_date(done.new_due)}; se avisa a {done.decided.recipient}.")
    deliver_now(ctx, done.decided.outbox_id)


@cli.command()
@click.option("--by", "by", required=True, help="Nombre de quien revisa (queda en el historial).")
@click.option("--attachments-dir", type=click.Path(file_okay=False), default=None,
              help="Carpeta donde guardar los adjuntos para revisarlos (por omisión una carpeta temporal).")
@pass_ctx
def review(ctx: Context, by: str, attachments_dir: str | None) -> None:
    """Recorre la cola: muestra cada solicitud y pregunta qué hacer.

    Para cada solicitud: [a]probar, [r]echazar (con motivo), pedir [c]orrección
    (con motivo), [e]scribir una respuesta al solicitante, [g]uardar los
    adjuntos para mirarlos, [s]altar o [q] salir.
    Nada se decide sin una respuesta explícita.

    El motivo o la respuesta se escribe en varias líneas: en el editor de
    $VISUAL o $EDITOR si está definido; si no, aquí mismo, terminando con
    una línea que tenga solo un punto. Luego se muestra el correo tal como
    lo recibirá el solicitante, y solo se envía si responde «s». Ctrl-C no
    envía nada.

    Ejemplo: helpdesk review --by "Ana Pérez"
    """
    items = views.queue(ctx.store, ctx.config.limits)
    if not items:
        echo("No hay solicitudes pendientes de aprobación ni mensajes por responder.")
        return
    choices = {"a": "aprobar", "r": "rechazar", "c": "corregir", "e": "escribir una respuesta",
               "g": "guardar adjuntos", "s": "saltar", "q": "salir"}
    for number, item in enumerate(items, start=1):
        echo(f"\n===== {number}/{len(items)} =====")
        show_ticket(ctx, item["radicado"], hint=False)
        if not _review_one(ctx, item["radicado"], by, attachments_dir, choices):
            echo("Revisión terminada.")
            return
    echo("\nNo quedan más solicitudes en la cola.")


def _review_one(ctx: Context, radicado: str, by: str, attachments_dir: str | None, choices: dict) -> bool:
    """Ask what to do with one ticket until something is decided or skipped;
    False when the staff member quits. A cancelled approval, a refusal or an
    empty reason asks again: nothing moves on without an explicit answer."""
    import tempfile

    from ..examination.ticket import save_attachments

    invoke = click.get_current_context().invoke
    while True:
        answer = click.prompt("\n¿Qué hace? [a]probar, [r]echazar, [c]orrección, [e]scribir una respuesta, "
                              "[g]uardar adjuntos, [s]altar, [q] salir", type=click.Choice(list(choices)),
                              show_choices=False)
        if answer == "q":
            return False
        if answer == "s":
            echo("Sin decisión; sigue en la cola.")
            return True
        if answer == "g":
            folder = Path(attachments_dir or tempfile.mkdtemp(prefix="helpdesk-")) / radicado
            ticket_id = ctx.store.one("SELECT id FROM tickets WHERE radicado = ?", (radicado,))["id"]
            try:
                paths = save_attachments(ctx.store, ctx.config, ticket_id, folder)
            except HelpdeskError as exc:
                echo(f"No se pudo: {exc}")
                continue
            echo(f"{wording.count(len(paths), 'adjunto', 'adjuntos')} en {folder}")
            continue
        try:
            if answer == "a":
                acknowledged = _acknowledge_risks(ctx, radicado)
                if acknowledged is None:
                    continue
                invoke(approve, radicado=radicado, by=by, yes=False, acknowledge_warnings=acknowledged)
                return True
            text = _confirmed_text(ctx, radicado, answer)
            if text is None:
                continue
            if answer == "e":
                invoke(reply_cmd, radicado=radicado, by=by, message=text)
            else:
                invoke(reject if answer == "r" else correct, radicado=radicado, by=by, reason=text)
            return True
        except HelpdeskError as exc:
            echo(f"No se pudo: {exc}")
        except SystemExit:
            pass  # a cancelled approval: already said so; asked again


# What each letter of the menu writes, and how `review` names it.
WRITTEN = {"r": ("reject", "el motivo del rechazo"), "c": ("correct", "lo que la entidad debe corregir"),
           "e": ("reply", "la respuesta")}


def _confirmed_text(ctx: Context, radicado: str, answer: str) -> str | None:
    """The text of a rejection, correction or reply: written in several
    lines (commands/writing.py), shown as the email that will go, then
    confirmed; None (nothing sent) when there is no text or the answer is no."""
    from ..staff import decisions as staff

    decision, what = WRITTEN[answer]
    staff.allowed(ctx.store, radicado, decision)  # refused before a word is written, not after
    text = writing.write(what, radicado)
    if not text:
        echo("Sin texto no se decide nada.")
        return None
    writing.preview(staff.draft(ctx.store, ctx.config, renderer(ctx), radicado, decision, text, ctx.rules))
    return text if writing.confirmed() else None


def _acknowledge_risks(ctx: Context, radicado: str) -> bool | None:
    """In `review`, a ticket with high-risk warnings is approved only after
    the staff member types that they saw them; None when they did not."""
    from ..staff.approval import high_risk_warnings

    ticket_id = ctx.store.one("SELECT id FROM tickets WHERE radicado = ?", (radicado,))["id"]
    risks = high_risk_warnings(ctx.store, ticket_id, ctx.rules.trust)
    if not risks:
        return False
    echo("ATENCIÓN: advertencias de alto riesgo: "
         + ", ".join(f"{labels.code_label(r, ctx.rules.trust)} ({r})" for r in risks))
    if confirm_typed("Escriba «revisadas» si las revisó y aun así aprueba; cualquier otra cosa vuelve al menú",
                     ("revisadas",)):
        return True
    echo("Sin aprobar; revise la solicitud (helpdesk show) antes de decidir.")
    return None


@cli.command("reply")
@click.argument("radicado")
@click.option("--by", "by", required=True, help="Nombre de quien responde (queda en el historial).")
@click.option("--message", required=True, help="El texto de la respuesta, que se envía al solicitante.")
@pass_ctx
def reply_cmd(ctx: Context, radicado: str, by: str, message: str) -> None:
    """Responde al solicitante con un texto escrito por el equipo, en cualquier estado.

    El correo va al solicitante como respuesta a su último mensaje, queda en
    el historial y la solicitud deja de figurar como «mensaje nuevo» en la cola.

    Ejemplo: helpdesk reply GEL-2026-000042 --by "Ana Pérez" --message "Su solicitud sigue en revisión."
    """
    from ..staff import decisions as staff

    decided = staff.reply(ctx.store, ctx.config, renderer(ctx), radicado, by, message, ctx.rules)
    echo(f"Respuesta registrada en {decided.ticket.radicado}; se envía a {decided.recipient}.")
    deliver_now(ctx, decided.outbox_id)


@cli.command()
@click.argument("radicado")
@click.option("--by", "by", required=True, help="Nombre de quien reabre (queda en el historial).")
@pass_ctx
def reopen(ctx: Context, radicado: str, by: str) -> None:
    """Reabre una solicitud rechazada, resuelta o desistida: sus documentos se examinan de nuevo.

    Para la entidad que respondió con documentos nuevos: el servicio examina
    todos los documentos de la solicitud (el más reciente de cada tipo) y
    responde con una corrección o la aceptación, como a una solicitud nueva.

    Ejemplo: helpdesk reopen GEL-2026-000042 --by "Ana Pérez"
    """
    from ..staff import decisions as staff

    ticket = staff.reopen(ctx.store, radicado, by)
    echo(f"Solicitud {ticket.radicado} reabierta: el servicio examinará de nuevo sus documentos "
               "y responderá al solicitante.")
