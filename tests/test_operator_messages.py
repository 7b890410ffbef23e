"""What the administrator meets first says what to do: a missing config
file names where it was looked for and how to name another; a password
file is found where install.sh puts it, and an empty or missing one is
said as such, naming the file and the folders looked in.

(The permission cases, which need other users, and the wrapper that runs
without systemd are proved against a real install in tests/test_deploy.py.)"""

from __future__ import annotations

from .conftest import USER, networked_sections, run_helpdesk, write_config


def test_a_missing_default_config_names_the_file_the_flag_and_the_variable(tmp_path):
    result = run_helpdesk("check", cwd=tmp_path, env={"HELPDESK_CONFIG": ""})
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: {tmp_path}/config.toml: no existe el archivo de configuración. Sin --config ni HELPDESK_CONFIG se "
        "busca config.toml en la carpeta actual; indique el archivo con --config RUTA o con HELPDESK_CONFIG=RUTA.\n")


def test_a_missing_config_named_by_the_variable_says_so(tmp_path):
    result = run_helpdesk("queue", cwd=tmp_path, env={"HELPDESK_CONFIG": str(tmp_path / "otro.toml")})
    assert result.returncode == 2
    assert result.stderr == (f"Error: {tmp_path}/otro.toml: no existe el archivo de configuración que indica "
                             "HELPDESK_CONFIG\n")


def imap_config(folder, dovecot, smtp_server):
    """The administrator's config after install.sh: the IMAP password in a file named relatively."""
    folder.mkdir(parents=True, exist_ok=True)
    sections = networked_sections(dovecot, smtp_server)
    del sections["inbox"]["password"]
    sections["inbox"]["password_file"] = "imap-password"
    return write_config(folder / "config.toml", sections)


def imap_line(result) -> list[str]:
    lines = result.stdout.splitlines()
    return [line for n, line in enumerate(lines)
            if line.startswith(("OK    IMAP", "FALLA IMAP")) or (n and lines[n - 1].startswith("FALLA IMAP"))]


def test_an_empty_password_file_is_reported_empty_not_as_a_refusal(tmp_path, dovecot, smtp_server):
    config = imap_config(tmp_path / "etc", dovecot, smtp_server)
    (tmp_path / "etc" / "credentials").mkdir()
    secret = tmp_path / "etc" / "credentials" / "imap-password"
    secret.write_text("")  # as install.sh creates it
    result = run_helpdesk("--config", config, "check", cwd=tmp_path, env={"CREDENTIALS_DIRECTORY": ""})
    assert result.returncode == 1
    assert imap_line(result) == [
        f"FALLA IMAP: {config}: inbox.password_file: {secret} está vacío: escriba la contraseña en {secret}, "
        "sin salto de línea final",
        f"      Qué hacer: printf '%s' 'la contraseña' > {secret}; luego repita la comprobación",
    ]


def test_check_finds_the_password_where_install_sh_puts_it(tmp_path, dovecot, smtp_server):
    # Root's `helpdesk check` after install.sh, without systemd: the file is
    # in credentials/ beside the config, not beside the config itself.
    config = imap_config(tmp_path / "etc", dovecot, smtp_server)
    (tmp_path / "etc" / "credentials").mkdir()
    (tmp_path / "etc" / "credentials" / "imap-password").write_text(dovecot.password(USER))
    result = run_helpdesk("--config", config, "check", cwd=tmp_path, env={"CREDENTIALS_DIRECTORY": ""})
    assert imap_line(result) == [f"OK    IMAP: sesión iniciada como {USER} en {dovecot.host}:{dovecot.port}; "
                                 "carpetas INBOX y Procesados"]

    # The service's own copy (LoadCredential=) still comes first.
    (tmp_path / "etc" / "credentials" / "imap-password").write_text("no-es-esta")
    loaded = tmp_path / "run-credentials"
    loaded.mkdir()
    (loaded / "imap-password").write_text(dovecot.password(USER) + "\n")
    result = run_helpdesk("--config", config, "check", cwd=tmp_path, env={"CREDENTIALS_DIRECTORY": str(loaded)})
    assert imap_line(result)[0].startswith(f"OK    IMAP: sesión iniciada como {USER}")


def test_a_missing_password_file_names_every_folder_looked_in(tmp_path, dovecot, smtp_server):
    config = imap_config(tmp_path / "etc", dovecot, smtp_server)
    result = run_helpdesk("--config", config, "check", cwd=tmp_path, env={"CREDENTIALS_DIRECTORY": ""})
    assert imap_line(result)[0] == (
        f"FALLA IMAP: {config}: inbox.password_file: no se puede leer «imap-password»: no está en "
        f"{tmp_path}/etc/credentials ni en {tmp_path}/etc")


def test_a_password_the_service_was_not_handed_says_where_to_put_it(tmp_path, dovecot, smtp_server):
    config = imap_config(tmp_path / "etc", dovecot, smtp_server)
    loaded = tmp_path / "run-credentials"  # LoadCredential= named other files only
    loaded.mkdir()
    result = run_helpdesk("--config", config, "check", cwd=tmp_path, env={"CREDENTIALS_DIRECTORY": str(loaded)})
    assert imap_line(result) == [
        f"FALLA IMAP: {config}: inbox.password_file: no se puede leer «imap-password»: el servicio no la recibió "
        f"en $CREDENTIALS_DIRECTORY ({loaded})",
        f"      Qué hacer: guarde la contraseña en {tmp_path}/etc/credentials/imap-password (de ahí la copian "
        "LoadCredential= y helpdesk-foreground) y vuelva a iniciar el servicio",
    ]
