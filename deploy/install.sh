#!/usr/bin/env bash
# Installs helpdesk as a systemd service from the checkout this script is in
# (README, "Install as a service"; docs/guia-instalacion.md). Run as root:
#
#     sudo deploy/install.sh [--no-start] [--root DIR] [--wheel FILE]
#
# What it sets up, and the owners and modes it keeps them at:
#   user and group helpdesk (system user, no login)
#   /opt/helpdesk/.venv            root, 0755: a venv with the wheel built from this checkout
#   /opt/helpdesk/README.md        the unit's Documentation=
#   /etc/helpdesk                  root:helpdesk 0750
#   /etc/helpdesk/config.toml      root:helpdesk 0640: the shipped config.toml with its data
#                                  under /var/lib/helpdesk; never overwritten once there
#   /etc/helpdesk/credentials      root:root 0700, with imap-password and smtp-password (0600,
#                                  empty until you write them): systemd hands them to the
#                                  service through LoadCredential=, nobody else reads them
#   /var/lib/helpdesk              helpdesk:helpdesk 2770: database and raw mail, shared with
#                                  the group (staff run their commands as themselves)
#   /etc/systemd/system/helpdesk.service and helpdesk-web.service
#   /opt/helpdesk/bin/helpdesk-foreground  runs helpdesk as the service would, where systemd
#                                  does not run the machine (containers, WSL): user helpdesk,
#                                  the credentials handed over as LoadCredential= does
#   /usr/local/bin/helpdesk        a link to the venv's command, and /etc/profile.d/helpdesk.sh
#                                  setting HELPDESK_CONFIG, so staff type `helpdesk queue`
# Then, when systemd runs this machine (and without --no-start), the service
# is enabled and started, or restarted when its code or unit changed.
#
# --root DIR puts every one of those paths under DIR (DIR/etc/helpdesk, ...),
# with the config, the units and helpdesk-foreground pointing there, and
# never enables or starts anything: a self-contained install beside the
# real one, which the tests use (tests/test_deploy.py) so that they never
# touch the machine's. The user and group helpdesk are the machine's even
# then: they are what a real install creates (home /var/lib/helpdesk), the
# units name them, and staff join that group; a later real install finds
# them as it would have made them. Only the packages python3-venv,
# tesseract-ocr-spa and fonts-dejavu-core, when missing, are installed into the system too.
#
# --wheel FILE installs that wheel (helpdesk-*.whl, built from this same
# checkout, e.g. by `pip wheel --no-deps .`) instead of building one here:
# the tests build the wheel once for the whole suite instead of once per
# install. Which build is installed is still decided by the wheel's RECORD.
#
# Idempotent: every step first looks at what is there. A second run with
# nothing new changes nothing and says so. Upgrade: git pull, run it again.
set -euo pipefail
umask 022   # the venv and the unit must be readable by the service user

# The service user runs this interpreter: the system's, not one under /root.
PYTHON=${HELPDESK_PYTHON:-/usr/bin/python3}
SRC=$(cd "$(dirname "$0")/.." && pwd)

usage() {
    echo "Uso: sudo deploy/install.sh [--no-start] [--root CARPETA] [--wheel ARCHIVO]"
    echo "Instala helpdesk como servicio de systemd desde esta copia del repositorio:"
    echo "usuario helpdesk, /opt/helpdesk, /etc/helpdesk, /var/lib/helpdesk y la unidad."
    echo "Se puede repetir: solo cambia lo que falta o es distinto, y nunca sobrescribe"
    echo "/etc/helpdesk/config.toml ni las contraseñas."
    echo "  --no-start       no habilita ni inicia el servicio"
    echo "  --root CARPETA   instala todo bajo CARPETA (CARPETA/etc/helpdesk, CARPETA/opt/helpdesk...),"
    echo "                   con la configuración y las unidades apuntando allí; no habilita ni inicia"
    echo "                   nada (el usuario y el grupo helpdesk sí son los de la máquina)"
    echo "  --wheel ARCHIVO  instala ese paquete (helpdesk-*.whl, compilado de esta misma copia) en vez"
    echo "                   de compilarlo aquí"
}

start=yes
ROOT_DIR=""
WHEEL=""
while [ $# -gt 0 ]; do
    case $1 in
        --no-start) start=no ;;
        --root) [ $# -ge 2 ] || { echo "install.sh: --root necesita una carpeta" >&2; exit 2; }
                ROOT_DIR=$2; shift ;;
        --root=*) ROOT_DIR=${1#--root=} ;;
        --wheel) [ $# -ge 2 ] || { echo "install.sh: --wheel necesita un archivo" >&2; exit 2; }
                 WHEEL=$2; shift ;;
        --wheel=*) WHEEL=${1#--wheel=} ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: opción desconocida: $1 (use --no-start, --root, --wheel o --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ -n "$ROOT_DIR" ]; then
    # The paths land in sed expressions, the units and TOML strings: plain characters only.
    case $ROOT_DIR in
        /*) ;;
        *) echo "install.sh: --root necesita una ruta absoluta: $ROOT_DIR" >&2; exit 2 ;;
    esac
    if ! printf '%s' "$ROOT_DIR" | grep -Eq '^[A-Za-z0-9._/-]+$'; then
        echo "install.sh: --root: use una ruta de letras, números y . _ - /: $ROOT_DIR" >&2; exit 2
    fi
    ROOT_DIR=$(realpath -m "$ROOT_DIR")
    [ "$ROOT_DIR" != / ] || ROOT_DIR=""
fi
if [ -n "$WHEEL" ]; then
    case $(basename "$WHEEL") in
        helpdesk-*.whl) ;;
        *) echo "install.sh: --wheel necesita un archivo helpdesk-*.whl: $WHEEL" >&2; exit 2 ;;
    esac
    [ -f "$WHEEL" ] || { echo "install.sh: --wheel: no existe el archivo $WHEEL" >&2; exit 2; }
    WHEEL=$(realpath "$WHEEL")
fi

PREFIX=$ROOT_DIR/opt/helpdesk
VENV=$PREFIX/.venv
ETC=$ROOT_DIR/etc/helpdesk
CREDENTIALS=$ETC/credentials
DATA=$ROOT_DIR/var/lib/helpdesk
RUNTIME=$ROOT_DIR/run/helpdesk
UNIT_DIR=$ROOT_DIR/etc/systemd/system
UNIT=$UNIT_DIR/helpdesk.service
WEB_UNIT=$UNIT_DIR/helpdesk-web.service
FOREGROUND=$PREFIX/bin/helpdesk-foreground
COMMAND_LINK=$ROOT_DIR/usr/local/bin/helpdesk
PROFILE=$ROOT_DIR/etc/profile.d/helpdesk.sh

changes=0
say() { printf 'install.sh: %s\n' "$*"; }
changed() { say "$*"; changes=$((changes + 1)); }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "ejecútelo como root: sudo deploy/install.sh"
[ -f "$SRC/pyproject.toml" ] && [ -f "$SRC/deploy/helpdesk.service" ] \
    || fail "$SRC no es una copia de helpdesk (falta pyproject.toml o deploy/helpdesk.service)"
if [ -n "$ROOT_DIR" ]; then
    [ "$start" = yes ] && say "con --root no se habilita ni se inicia nada: systemd no ve las unidades de $ROOT_DIR"
    start=no
fi

# render FILE: a shipped file (a unit, helpdesk-foreground) with the system
# paths it names moved under --root. Tokens first, so that a path already
# moved is never moved twice; without --root the text comes out unchanged.
render() {
    sed -e "s#/opt/helpdesk#@PREFIX@#g" -e "s#/etc/helpdesk#@ETC@#g" \
        -e "s#/var/lib/helpdesk#@DATA@#g" -e "s#/run/helpdesk#@RUNTIME@#g" \
        -e "s#@PREFIX@#$PREFIX#g" -e "s#@ETC@#$ETC#g" -e "s#@DATA@#$DATA#g" -e "s#@RUNTIME@#$RUNTIME#g" "$1"
}

# ensure_owner PATH USER GROUP MODE: fixes owner and mode when they differ.
ensure_owner() {
    local path=$1 want="$2:$3:$4" have
    have=$(stat -c '%U:%G:%a' "$path")
    if [ "$have" != "$want" ]; then
        chown "$2:$3" "$path"
        chmod "$4" "$path"
        changed "$path: dueño y permisos $have -> $want"
    fi
}

# ensure_dir PATH USER GROUP MODE
ensure_dir() {
    if [ -d "$1" ]; then
        ensure_owner "$@"
    else
        install -d -o "$2" -g "$3" -m "$4" "$1"
        changed "$1: carpeta creada ($2:$3 $4)"
    fi
}

# -- Python ------------------------------------------------------------
[ -x "$PYTHON" ] || fail "no existe $PYTHON; instale python3 (3.11 o posterior) o indique otro con HELPDESK_PYTHON"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || fail "$PYTHON es Python $("$PYTHON" -c 'import platform; print(platform.python_version())'); se necesita 3.11 o posterior (HELPDESK_PYTHON elige otro)"
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    command -v apt-get >/dev/null || fail "$PYTHON no tiene el módulo venv; instálelo (en Debian: python3-venv)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    changed "paquete python3-venv instalado"
fi

# -- OCR: Tesseract's Spanish data ------------------------------------
# Scans are read in the document worker by tesserocr (its wheel carries the
# engine); the language data is Debian's. Without it helpdesk still runs and
# every scan carries scan_not_read (helpdesk check's ocr line says so).
if ! dpkg-query -W -f='${Status}' tesseract-ocr-spa 2>/dev/null | grep -q "ok installed"; then
    if command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-spa >/dev/null
        changed "paquetes tesseract-ocr y tesseract-ocr-spa instalados (lectura de escaneos)"
    else
        say "aviso: instale Tesseract con los datos del español (tesseract-ocr-spa); sin ellos los escaneos no se leen"
    fi
fi

# -- fonts: the sample requests' scans ----------------------------------
# helpdesk sample-request draws its scans in DejaVu (helpdesk/samples/page.py);
# without it that one command says so and the rest runs.
if ! dpkg-query -W -f='${Status}' fonts-dejavu-core 2>/dev/null | grep -q "ok installed"; then
    if command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null
        changed "paquete fonts-dejavu-core instalado (solicitudes de prueba)"
    else
        say "aviso: instale las fuentes DejaVu (fonts-dejavu-core) para helpdesk sample-request"
    fi
fi

# -- user and folders --------------------------------------------------
if ! getent passwd helpdesk >/dev/null; then
    # The group may exist already (created first to add the staff to it).
    if getent group helpdesk >/dev/null; then group_option=(--gid helpdesk); else group_option=(--user-group); fi
    # Home /var/lib/helpdesk even with --root: the user is the machine's.
    useradd --system "${group_option[@]}" --home-dir /var/lib/helpdesk --no-create-home \
        --shell /usr/sbin/nologin --comment "helpdesk service" helpdesk
    changed "usuario de sistema helpdesk creado"
fi
if [ -n "$ROOT_DIR" ]; then
    [ -d "$ROOT_DIR" ] || install -d -m 0755 "$ROOT_DIR"
    runuser -u helpdesk -- test -x "$ROOT_DIR" \
        || fail "el usuario helpdesk no puede entrar en $ROOT_DIR: dé permiso de paso (chmod o+x) a esa carpeta y a las de encima"
fi
ensure_dir "$PREFIX" root root 755
ensure_dir "$ETC" root helpdesk 750
ensure_dir "$CREDENTIALS" root root 700
# setgid: what anyone creates in it belongs to group helpdesk.
ensure_dir "$DATA" helpdesk helpdesk 2770

# -- the program: a wheel built from this checkout, into the venv ------
if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c '' 2>/dev/null; then
    rm -rf "$VENV"   # its interpreter is gone (a Python upgrade): made again below
    changed "$VENV: el intérprete ya no existe, se crea de nuevo"
fi
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
    changed "$VENV: entorno virtual creado con $PYTHON"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "$WHEEL" ]; then
    say "se instala el paquete $WHEEL (--wheel), sin compilarlo aquí"
    wheel=$WHEEL
else
    # Built from a copy: a build in the checkout would leave root-owned build/
    # and *.egg-info in it, and a stale build/ can carry deleted files along.
    mkdir "$work/src"
    tar -C "$SRC" --exclude=./.git --exclude=./.venv --exclude=./var --exclude=./build \
        --exclude='*.egg-info' --exclude=__pycache__ -cf - . | tar -C "$work/src" -xf -
    say "compilando el paquete (wheel) desde $SRC"
    "$VENV/bin/pip" wheel --quiet --disable-pip-version-check --no-deps --wheel-dir "$work/dist" "$work/src" \
        || fail "no se pudo compilar el paquete; vea el error de pip arriba"
    wheel=$(ls "$work"/dist/helpdesk-*.whl)
fi
# The wheel's RECORD lists every file it installs with its SHA-256: the same
# RECORD is the same program, whatever the zip's timestamps say.
build=$("$VENV/bin/python" - "$wheel" <<'EOF'
import hashlib, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    record = next(n for n in wheel.namelist() if n.endswith(".dist-info/RECORD"))
    print(hashlib.sha256(wheel.read(record)).hexdigest())
EOF
)
stamp=$VENV/helpdesk-build.sha256
program_changed=no
if [ -x "$VENV/bin/helpdesk" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$build" ]; then
    say "$(basename "$wheel"): ya instalado, la misma compilación"
else
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$wheel" \
        || fail "no se pudieron instalar las dependencias; vea el error de pip arriba"
    # Same version number, other code (a git pull): replace it.
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
    echo "$build" > "$stamp"
    program_changed=yes
    changed "$(basename "$wheel") instalado en $VENV"
fi
runuser -u helpdesk -- "$VENV/bin/helpdesk" --help >/dev/null \
    || fail "el usuario helpdesk no puede ejecutar $VENV/bin/helpdesk (¿permisos de $PYTHON?)"

# Staff type `helpdesk queue` as themselves: the command on every PATH, and
# the service's configuration as their default (login shells).
[ -d "$(dirname "$COMMAND_LINK")" ] || install -d -m 0755 "$(dirname "$COMMAND_LINK")"
if [ "$(readlink "$COMMAND_LINK" 2>/dev/null)" != "$VENV/bin/helpdesk" ]; then
    if [ -e "$COMMAND_LINK" ] && [ ! -L "$COMMAND_LINK" ]; then
        say "se deja $COMMAND_LINK como está: no es un enlace de esta instalación"
    else
        ln -sfn "$VENV/bin/helpdesk" "$COMMAND_LINK"
        changed "$COMMAND_LINK -> $VENV/bin/helpdesk"
    fi
fi
profile="export HELPDESK_CONFIG=$ETC/config.toml"
[ -d "$(dirname "$PROFILE")" ] || install -d -m 0755 "$(dirname "$PROFILE")"
if [ "$(cat "$PROFILE" 2>/dev/null)" != "$profile" ]; then
    echo "$profile" > "$PROFILE"
    changed "$PROFILE: HELPDESK_CONFIG=$ETC/config.toml para todos los usuarios (desde su próximo inicio de sesión)"
fi

# Without systemd (containers, WSL): the service's way to run, by hand.
ensure_dir "$PREFIX/bin" root root 755
render "$SRC/deploy/helpdesk-foreground" > "$work/helpdesk-foreground"
if ! cmp -s "$work/helpdesk-foreground" "$FOREGROUND"; then
    install -o root -g root -m 0755 "$work/helpdesk-foreground" "$FOREGROUND"
    changed "$FOREGROUND instalado (helpdesk sin systemd)"
fi
ensure_owner "$FOREGROUND" root root 755

if ! cmp -s "$SRC/README.md" "$PREFIX/README.md"; then
    install -m 0644 "$SRC/README.md" "$PREFIX/README.md"
    changed "$PREFIX/README.md actualizado"
fi

# -- configuration -----------------------------------------------------
if [ -e "$ETC/config.toml" ]; then
    say "se conserva $ETC/config.toml tal como está (nunca se sobrescribe)"
else
    # The shipped config.toml, with its relative var/ paths (resolved next
    # to the config file, so under /etc) moved to the data folder.
    sed -e "s#^path = \"var/inbox\"#path = \"$DATA/inbox\"#" \
        -e "s#^path = \"var/outbox\"#path = \"$DATA/outbox\"#" \
        -e "s#^database = \"var/helpdesk.db\"#database = \"$DATA/helpdesk.db\"#" \
        "$SRC/config.toml" > "$work/config.toml"
    if grep -Eq '^[a-z_]+ = "var/' "$work/config.toml"; then
        fail "config.toml trae una ruta var/ que este script no sabe trasladar a $DATA: $(grep -E '^[a-z_]+ = "var/' "$work/config.toml" | head -1)"
    fi
    install -o root -g helpdesk -m 0640 "$work/config.toml" "$ETC/config.toml"
    changed "$ETC/config.toml creado desde config.toml, con los datos en $DATA"
    config_created=yes
fi
ensure_owner "$ETC/config.toml" root helpdesk 640

for name in imap-password smtp-password; do
    if [ -e "$CREDENTIALS/$name" ]; then
        say "se conserva $CREDENTIALS/$name"
    else
        # Empty until the administrator writes the password: LoadCredential=
        # refuses to start the service when the file is missing.
        install -o root -g root -m 0600 /dev/null "$CREDENTIALS/$name"
        changed "$CREDENTIALS/$name creado vacío"
    fi
    ensure_owner "$CREDENTIALS/$name" root root 600
done

# -- the unit ----------------------------------------------------------
unit_changed=no
[ -d "$UNIT_DIR" ] || install -d -m 0755 "$UNIT_DIR"
render "$SRC/deploy/helpdesk.service" > "$work/helpdesk.service"
if ! cmp -s "$work/helpdesk.service" "$UNIT"; then
    install -o root -g root -m 0644 "$work/helpdesk.service" "$UNIT"
    unit_changed=yes
    changed "$UNIT instalado"
fi
ensure_owner "$UNIT" root root 644
# The web pages' unit: installed, never enabled here (only a site that uses
# links or self-service needs it; README, "Reset by link").
render "$SRC/deploy/helpdesk-web.service" > "$work/helpdesk-web.service"
if ! cmp -s "$work/helpdesk-web.service" "$WEB_UNIT"; then
    install -o root -g root -m 0644 "$work/helpdesk-web.service" "$WEB_UNIT"
    unit_changed=yes
    changed "$WEB_UNIT instalado (sin habilitar)"
fi
ensure_owner "$WEB_UNIT" root root 644

if [ -n "$ROOT_DIR" ]; then
    :   # said at the start
elif [ "$start" = no ]; then
    say "no se habilita ni se inicia el servicio (--no-start)"
elif [ ! -d /run/systemd/system ]; then
    say "systemd no es el proceso 1 de esta máquina: el servicio queda instalado, sin habilitar ni iniciar;"
    say "para atenderlo sin systemd: $FOREGROUND (docs/guia-instalacion.md)"
else
    [ "$unit_changed" = no ] || systemctl daemon-reload
    if ! systemctl is-enabled --quiet helpdesk; then
        systemctl enable --quiet helpdesk
        changed "servicio helpdesk habilitado (arranca con la máquina)"
    fi
    if ! systemctl is-active --quiet helpdesk; then
        systemctl start helpdesk
        changed "servicio helpdesk iniciado"
    elif [ "$program_changed" = yes ] || [ "$unit_changed" = yes ]; then
        systemctl restart helpdesk
        changed "servicio helpdesk reiniciado con el programa nuevo"
    fi
fi

if [ "$changes" -eq 0 ]; then
    say "nada que cambiar: la instalación ya estaba al día"
else
    if [ "$changes" -eq 1 ]; then say "listo: 1 cambio"; else say "listo: $changes cambios"; fi
fi
if [ "${config_created:-no}" = yes ]; then
    cat <<EOF

Falta lo que solo usted sabe (docs/guia-instalacion.md):
  1. En $ETC/config.toml: [inbox] y [smtp] de su buzón y su servidor de correo
     (password_file = "imap-password" y "smtp-password"), [radicado] prefix,
     el teléfono de soporte en [replies].
  2. Las contraseñas, sin salto de línea final:
       printf '%s' 'la contraseña IMAP' > $CREDENTIALS/imap-password
       printf '%s' 'la contraseña SMTP' > $CREDENTIALS/smtp-password
  3. Compruebe los accesos con el usuario y las credenciales del servicio (no envía nada):
       $FOREGROUND check
     y reinicie: systemctl restart helpdesk && systemctl status helpdesk
     (sin systemd: $FOREGROUND, que atiende el buzón hasta Ctrl-C o SIGTERM)
  4. El personal, en el grupo helpdesk: usermod -aG helpdesk NOMBRE
     (vale desde su próximo inicio de sesión, como HELPDESK_CONFIG de $PROFILE)
EOF
fi
