"""What to do about a permission denied: which folder or file stops this
user, and the one step that lets them through.

A staff member outside group helpdesk, one added to it after logging in
(a process keeps the groups of its login), a staff member running a
command of the service, the service user itself: each needs a different
step, and "Permission denied" said none of them. ``advice(path)`` walks the
path as the kernel does, finds the first folder it cannot enter or the file
it cannot read or write, and says the step for that owner, group and mode.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

# The permission bit each action needs, for the owner; >> 3 for the group.
BITS = {"entrar en": stat.S_IXUSR, "leer": stat.S_IRUSR, "escribir en": stat.S_IWUSR}
# The action said of one's own file: "no le dejan leerlo".
OWN = {"entrar en": "entrar", "leer": "leerlo", "escribir en": "escribir en él"}


@dataclass(frozen=True)
class Blocker:
    """The first object on the way that this process may not use so."""

    path: Path
    action: str  # "entrar en" | "leer" | "escribir en"
    owner: str
    group: str
    mode: int

    @property
    def summary(self) -> str:
        return f"{self.owner}:{self.group} {self.mode:o}"


def _name(table, key: int) -> str:
    try:
        return table(key)[0]
    except KeyError:
        return str(key)


def _blocker(path: Path, action: str) -> Blocker:
    st = path.stat()
    return Blocker(path, action, _name(pwd.getpwuid, st.st_uid), _name(grp.getgrgid, st.st_gid),
                   stat.S_IMODE(st.st_mode))


def find_blocker(path: str | os.PathLike) -> Blocker | None:
    """The folder on the way this process cannot enter, else the file it
    cannot read or write (or the folder it cannot create it in)."""
    target = Path(os.path.abspath(path))
    try:
        for folder in reversed(target.parents):
            if not os.access(folder, os.X_OK):
                return _blocker(folder, "entrar en")
        if not os.path.exists(target):
            parent = target.parent
            return None if os.access(parent, os.W_OK) else _blocker(parent, "escribir en")
        if os.path.isdir(target) and not os.access(target, os.X_OK):
            return _blocker(target, "entrar en")
        if not os.access(target, os.R_OK):
            return _blocker(target, "leer")
        if not os.access(target, os.W_OK):
            return _blocker(target, "escribir en")
    except OSError:
        return None
    return None


def current_user() -> str:
    return _name(pwd.getpwuid, os.geteuid())


def _in_group_database(user: str, group: str) -> bool:
    """Member of ``group`` in /etc/group (or by primary group), whatever this login's groups are."""
    try:
        entry = grp.getgrnam(group)
        return user in entry.gr_mem or pwd.getpwnam(user).pw_gid == entry.gr_gid
    except KeyError:
        return False


def advice_for(blocker: Blocker, user: str | None = None) -> str:
    """The step that lets ``user`` (this process's user) through ``blocker``, as a sentence."""
    user = user or current_user()
    bit = BITS[blocker.action]
    where = blocker.path
    if blocker.owner == user:
        return (f"{where} es de {user}, pero sus permisos ({blocker.summary}) no le dejan "
                f"{OWN[blocker.action]}: corríjalos con chmod.")
    if blocker.mode & (bit >> 3) and blocker.group != "root":
        group = blocker.group
        if _in_group_database(user, group):
            return (f"{where} es del grupo {group} y {user} ya está en él, pero esta sesión empezó antes de que lo "
                    f"agregaran: cierre la sesión y vuelva a entrar (o ejecute «newgrp {group}»).")
        return (f"{where} es del grupo {group} y {user} no está en él: un administrador lo agrega con "
                f"«usermod -aG {group} {user}», que vale desde el próximo inicio de sesión de {user}.")
    if blocker.owner == "root":
        return f"solo root puede {blocker.action} {where} ({blocker.summary}): ejecute el comando como root."
    return (f"solo el usuario {blocker.owner} puede {blocker.action} {where} ({blocker.summary}): ejecute el "
            f"comando como {blocker.owner} (sudo -u {blocker.owner} helpdesk ...).")


def advice(path: str | os.PathLike | None) -> str:
    """What to do about a permission denied on ``path``, as a sentence of its own; a
    general hint when it cannot be told."""
    blocker = find_blocker(path) if path is not None else None
    if blocker is None:
        where = f" de {path}" if path is not None else ""
        return f"Revise el dueño y los permisos{where} (ls -l) y con qué usuario ejecuta el comando."
    text = advice_for(blocker)
    return text[0].upper() + text[1:]
