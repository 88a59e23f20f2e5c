"""The deployment files (docker-compose.yml, Dockerfile, docker/entrypoint.sh), checked without Docker."""
from __future__ import annotations

import os
import re
import shlex
import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from geo.settings import AreaSettings, DatabaseSettings, IngestSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"

SETTINGS_CLASSES = (DatabaseSettings, AreaSettings, IngestSettings)
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN", re.I)
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}; $$ is a literal $.
INTERPOLATION = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")


# ---------------------------------------------------------------- helpers

def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution, enough for this file; a missing required variable raises KeyError."""
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group("name"), m.group("op"), m.group("arg")
        val = env.get(name)
        unset_or_empty = val is None or (val == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if unset_or_empty else val  # type: ignore[return-value]
        if op in (":?", "?"):
            if unset_or_empty:
                raise KeyError(f"{name}: {arg}")
            return val  # type: ignore[return-value]
        if op in (":+", "+"):
            return "" if unset_or_empty else arg
        return val or ""
    return INTERPOLATION.sub(sub, value)


def is_pure_interpolation(value: str) -> bool:
    m = INTERPOLATION.fullmatch(value.strip())
    return bool(m) and m.group(0) != "$$"


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...]
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def volume_mounts(service: dict) -> dict[str, str]:
    """target -> source of the service's volumes (short and long syntax)."""
    out = {}
    for v in service.get("volumes") or []:
        if isinstance(v, str):
            parts = v.split(":")
            if len(parts) >= 2:
                out[parts[1]] = parts[0]
        else:
            out[v["target"]] = v.get("source", "")
    return out


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, line continuations joined, comments dropped."""
    out, buf = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def strings_in(node: object) -> list[str]:
    """Every key and scalar of a parsed YAML document, as text."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (str(k), *strings_in(v))]
    if isinstance(node, list):
        return [s for v in node for s in strings_in(v)]
    return [] if node is None else [str(node)]


def setting_env_names() -> set[str]:
    names = set()
    for cls in SETTINGS_CLASSES:
        prefix = cls.model_config.get("env_prefix", "")
        for field, info in cls.model_fields.items():
            names.add(f"{prefix}{info.alias or field}".upper())
    return names


def geo_command_lines() -> list[list[str]]:
    """Every `geo ...` invocation in the entrypoint (outside comments), the Dockerfile and compose health checks."""
    lines: list[list[str]] = []
    for line in ENTRYPOINT.read_text().splitlines():
        code = line.split("#", 1)[0]
        for m in re.finditer(r"(?:^|[;&|]|\b(?:exec|then|do)\b)\s*(geo(?:\s+[a-z][a-z-]*)+)", code):
            lines.append(m.group(1).split())
    for word, args in dockerfile_instructions():
        if word in ("HEALTHCHECK", "CMD"):
            tokens = shlex.split(args.replace("[", " ").replace("]", " ").replace(",", " "))
            if "geo" in tokens:
                lines.append(tokens[tokens.index("geo"):])
    for svc in compose()["services"].values():
        test = (svc.get("healthcheck") or {}).get("test")
        tokens = test if isinstance(test, list) else shlex.split(test or "")
        if "geo" in tokens:
            lines.append(tokens[tokens.index("geo"):])
    return lines


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def spec() -> dict:
    assert COMPOSE.is_file(), "docker-compose.yml is missing"
    data = compose()
    assert isinstance(data, dict)
    return data


# ---------------------------------------------------------------- docker-compose.yml

def test_compose_spec_without_version_key(spec: dict) -> None:
    assert "version" not in spec, "the Compose spec has no `version:` key (obsolete)"
    assert {"db", "app"} <= set(spec["services"])


def test_db_is_postgis_15(spec: dict) -> None:
    image = spec["services"]["db"]["image"]
    assert re.fullmatch(r"postgis/postgis:15-3\.\d+(-\w+)?", image), image


def test_both_services_have_healthchecks(spec: dict) -> None:
    for name in ("db", "app"):
        hc = spec["services"][name].get("healthcheck")
        assert hc and not hc.get("disable"), f"{name} has no health check"
        test = hc["test"]
        assert test and test != ["NONE"], f"{name}'s health check does nothing"


def test_db_healthcheck_is_pg_isready_for_its_user_and_db(spec: dict) -> None:
    test = spec["services"]["db"]["healthcheck"]["test"]
    cmd = test[-1] if isinstance(test, list) else test
    assert "pg_isready" in cmd
    assert re.search(r"-U\s+\S*POSTGRES_USER", cmd) and re.search(r"-d\s+\S*POSTGRES_DB", cmd), cmd


def test_app_waits_for_healthy_db(spec: dict) -> None:
    app = spec["services"]["app"]
    deps = app["depends_on"]
    assert isinstance(deps, dict), "depends_on needs the long form to carry a condition"
    assert deps["db"]["condition"] == "service_healthy"
    assert "build" in app, "app is built from the Dockerfile"
    assert app.get("restart") == "unless-stopped"
    assert any(str(p).split(":")[-2:] == ["8050", "8050"] for p in app.get("ports", [])), app.get("ports")


def test_named_volumes_declared_and_mounted(spec: dict) -> None:
    declared = set(spec.get("volumes") or {})
    db_mounts = volume_mounts(spec["services"]["db"])
    app_mounts = volume_mounts(spec["services"]["app"])
    assert db_mounts.get("/var/lib/postgresql/data") in declared, db_mounts
    assert app_mounts.get("/app/.geo") in declared, app_mounts
    for svc in spec["services"].values():
        for target, source in volume_mounts(svc).items():
            if source and not source.startswith((".", "/", "~", "$")):
                assert source in declared, f"volume {source!r} (for {target}) is not declared"


def test_password_comes_from_the_environment(spec: dict) -> None:
    pw = env_of(spec["services"]["db"])["POSTGRES_PASSWORD"]
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", pw), \
        f"POSTGRES_PASSWORD must be required from the environment (${{POSTGRES_PASSWORD:?...}}), got {pw!r}"
    with pytest.raises(KeyError):  # no default: compose refuses to start without it
        interpolate(pw, {})


def test_no_plain_text_secret(spec: dict) -> None:
    for name, svc in spec["services"].items():
        for key, value in env_of(svc).items():
            if SECRET_NAME.search(key):
                assert is_pure_interpolation(value), f"{name}.{key} is a literal: {value!r}"
            # A URL with credentials: with every variable set to a marker, its password must be one marker.
            markers = {m.group("name"): f"VAR-{m.group('name')}" for m in INTERPOLATION.finditer(value)
                       if m.group("name")}
            resolved = interpolate(value, markers)
            if "://" in resolved:
                password = urlsplit(resolved).password
                assert password is None or password in markers.values(), \
                    f"{name}.{key} carries a literal password"


def test_app_database_url_points_at_db_service(spec: dict) -> None:
    env = {"POSTGRES_PASSWORD": "sentinel-pw-42"}
    db_env = {k: interpolate(v, env) for k, v in env_of(spec["services"]["db"]).items()}
    url = interpolate(env_of(spec["services"]["app"])["GEO_DATABASE_URL"], env)
    u = urlsplit(url)
    assert u.scheme in ("postgresql", "postgresql+psycopg"), url
    assert u.hostname == "db" and (u.port or 5432) == 5432, url
    assert u.username == db_env["POSTGRES_USER"]
    assert u.password == "sentinel-pw-42"
    assert u.path.lstrip("/") == db_env["POSTGRES_DB"]
    # The platform accepts it as is.
    assert DatabaseSettings(database_url=url).url().startswith("postgresql+psycopg://")


def test_every_geo_variable_in_compose_is_a_setting(spec: dict) -> None:
    known = setting_env_names()
    assert {"GEO_DATABASE_URL", "GEO_AOI_BBOX", "GEO_INGEST_REPORTS_DIR"} <= known  # the collection works
    used = set(re.findall(r"\bGEO_[A-Z0-9_]+\b", " ".join(strings_in(spec))))  # keys, values; not comments
    assert "GEO_DATABASE_URL" in used
    unknown = sorted(used - known)
    assert not unknown, f"not settings in geo.settings: {unknown}"


# ---------------------------------------------------------------- Dockerfile, entrypoint, .dockerignore

def test_dockerfile_python_311_slim_bookworm() -> None:
    froms = [args for word, args in dockerfile_instructions() if word == "FROM"]
    assert froms, "no FROM"
    assert re.match(r"python:3\.11(\.\d+)?-slim-bookworm\b", froms[-1]), froms[-1]


def test_dockerfile_does_not_run_as_root() -> None:
    users = [args for word, args in dockerfile_instructions() if word == "USER"]
    assert users, "no USER line: the container would run as root"
    assert users[-1].split(":")[0] not in ("root", "0"), users[-1]


def test_dockerfile_installs_this_project() -> None:
    instructions = dockerfile_instructions()
    copied_pyproject = False
    for word, args in instructions:
        if word == "COPY" and "pyproject.toml" in args.split():
            copied_pyproject = True
        if word == "RUN":
            tokens = shlex.split(args)
            commands, cmd = [], []
            for t in tokens + ["&&"]:
                if t in ("&&", ";", "||"):
                    commands.append(cmd)
                    cmd = []
                else:
                    cmd.append(t)
            for cmd in commands:
                if cmd[:2] == ["pip", "install"] or cmd[:4] == ["python", "-m", "pip", "install"]:
                    if "." in cmd:
                        assert copied_pyproject, "pip install . before pyproject.toml is copied"
                        return
    pytest.fail("no `pip install .` of this project")


def test_dockerfile_copies_only_what_exists() -> None:
    for word, args in dockerfile_instructions():
        if word == "COPY" and "--from" not in args:
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            for src in sources:
                assert (ROOT / src).exists(), f"COPY {src}: no such file in the build context"


def test_dockerfile_healthcheck_port_and_entrypoint() -> None:
    instructions = dockerfile_instructions()
    by_word: dict[str, list[str]] = {}
    for word, args in instructions:
        by_word.setdefault(word, []).append(args)
    assert any(re.search(r'"geo",\s*"db",\s*"status"|\bgeo db status\b', a) for a in by_word["HEALTHCHECK"])
    assert "8050" in " ".join(by_word["EXPOSE"])
    assert any(re.search(r"\bGEO_WEB_PORT=8050\b", a) for a in by_word["ENV"])
    assert any("docker/entrypoint.sh" in a for a in by_word["COPY"])
    assert by_word.get("ENTRYPOINT"), "no ENTRYPOINT"


def test_entrypoint_is_executable_and_strict() -> None:
    assert ENTRYPOINT.is_file()
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR and os.access(ENTRYPOINT, os.X_OK), "not executable"
    text = ENTRYPOINT.read_text()
    assert text.startswith("#!/bin/sh") or text.startswith("#!/usr/bin/env sh") or text.startswith("#!/bin/bash")
    assert re.search(r"^\s*set -[a-z]*e", text, re.M), "no `set -e`"
    assert re.search(r"^\s*geo db migrate\b", text, re.M), "does not migrate"
    assert 'exec "$@"' in text
    assert "\r" not in text, "CRLF line endings break the shebang"


def test_geo_commands_used_by_the_image_exist() -> None:
    from typer.main import get_command

    from geo import cli
    cli._load_plugins()
    root = get_command(cli.app)
    used = geo_command_lines()
    assert ["geo", "db", "migrate"] in [u[:3] for u in used]
    for tokens in used:
        cmd = root
        for word in tokens[1:]:
            if word.startswith("-") or not hasattr(cmd, "commands"):
                break
            assert word in cmd.commands, f"`{' '.join(tokens)}`: no command {word!r}"
            cmd = cmd.commands[word]


def test_dockerignore_keeps_local_state_out() -> None:
    entries = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for needed in (".venv", ".geo", "test-artifacts", "bench/out", ".git", ".env"):
        assert needed in entries, f".dockerignore does not exclude {needed}"
