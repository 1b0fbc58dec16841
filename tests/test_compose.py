"""The production stack (docker-compose.yml, Dockerfile, .env.example) fits the project.

No Docker engine is needed: the files are read and every command, module, path and setting
they name is looked up in the project.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.util
import re
import shlex
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from celery import Celery
from celery.app.utils import find_app
from django.conf import settings
from django.urls import resolve

from config import health

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ["web", "worker", "beat"]


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


def command(name: str) -> list[str]:
    value = service(name)["command"]
    return shlex.split(value) if isinstance(value, str) else [str(part) for part in value]


def option(args: list[str], *names: str) -> str | None:
    """The value of an option given as `--name value` or `--name=value`."""
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                return args[index + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_env() -> dict[str, str]:
    pairs: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ENV":
            pairs.update(part.split("=", 1) for part in shlex.split(rest) if "=" in part)
    return pairs


def mounts(name: str) -> dict[str, str]:
    """Container path → named volume of a service's volumes."""
    result = {}
    for volume in service(name).get("volumes", []):
        source, target = volume.split(":")[:2]
        result[target] = source
    return result


def settings_env_names() -> set[str]:
    source = (ROOT / "config" / "settings.py").read_text()
    return set(re.findall(r"\benv(?:\.\w+)?\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", source))


def env_example_names() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    # Set ("NAME=value") or documented with its default ("# NAME=value").
    return set(re.findall(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))


def compose_interpolated_names() -> set[str]:
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (ROOT / "docker-compose.yml").read_text()))


def dockerignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        anywhere = pattern.removeprefix("**/")
        matched = any(
            fnmatch.fnmatch(prefix, pattern)
            or (anywhere != pattern and fnmatch.fnmatch(prefix.rsplit("/", 1)[-1], anywhere))
            for prefix in prefixes
        )
        if matched:
            ignored = not negate
    return ignored


def test_it_runs_web_worker_and_beat_from_one_image() -> None:
    images = {
        (repr(service(name).get("build")), service(name).get("image")) for name in APP_SERVICES
    }
    assert len(images) == 1
    build, image = images.pop()
    assert build != "None"
    assert image
    assert all(service(name)["env_file"] in (".env", [".env"]) for name in APP_SERVICES)


def test_it_has_exactly_one_beat() -> None:
    beats = [
        name
        for name in compose()["services"]
        if "command" in service(name)
        and command(name)[:1] == ["celery"]
        and "beat" in command(name)
    ]
    assert beats == ["beat"]
    assert service("beat").get("deploy", {}).get("replicas", 1) == 1


def test_it_serves_the_project_wsgi_application_with_gunicorn() -> None:
    args = command("web")
    assert args[0] == "gunicorn"
    targets = [arg for arg in args[1:] if not arg.startswith("-") and ":" in arg]
    assert targets == ["config.wsgi:application"]
    module, attribute = targets[0].split(":")
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    assigned = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert attribute in assigned
    assert option(args, "--bind", "-b") == "0.0.0.0:8000"


def test_it_points_worker_and_beat_at_the_project_celery_app() -> None:
    for name, subcommand in [("worker", "worker"), ("beat", "beat")]:
        args = command(name)
        assert args[0] == "celery"
        assert subcommand in args
        app = find_app(option(args, "-A", "--app"))
        assert isinstance(app, Celery)
        assert app.main == "woningdossier"
    assert (ROOT / "config" / "celery.py").exists()


def test_it_installs_the_servers_it_runs() -> None:
    installed = requirements(runtime_requirement_arguments())
    names = {re.split(r"[\[=<>]", line)[0].lower() for line in installed}
    for name in ["web", "worker", "beat", "migrate"]:
        program = command(name)[0]
        assert program == "python" or program in names, f"{name} runs {program}, not installed"


def test_it_gives_beat_a_writable_schedule_on_a_volume() -> None:
    schedule = option(command("beat"), "--schedule", "-s")
    assert schedule is not None
    directory = str(PurePosixPath(schedule).parent)
    assert directory in mounts("beat")
    assert mounts("beat")[directory] in compose()["volumes"]
    # The directory exists in the image and belongs to the user the image runs as.
    run_steps = " ".join(rest for keyword, rest in dockerfile_instructions() if keyword == "RUN")
    assert directory in run_steps
    user = [rest for keyword, rest in dockerfile_instructions() if keyword == "USER"][-1]
    owned = re.findall(rf"chown -R {re.escape(user)}(?::\S+)? (\S+)", run_steps)
    assert any(directory == path or directory.startswith(f"{path}/") for path in owned)


def test_it_keeps_media_on_a_shared_volume() -> None:
    media_root = dockerfile_env()["MEDIA_ROOT"]
    for name in ["web", "worker"]:
        assert media_root in mounts(name), name
        assert mounts(name)[media_root] in compose()["volumes"]
    assert mounts("web")[media_root] == mounts("worker")[media_root]


def test_it_starts_the_app_after_healthy_services_and_migrations() -> None:
    services = compose()["services"]
    for name, definition in services.items():
        for dependency, condition in definition.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on missing {dependency}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], dependency
    for name in APP_SERVICES:
        depends_on = service(name)["depends_on"]
        assert depends_on["postgres"]["condition"] == "service_healthy"
        assert depends_on["redis"]["condition"] == "service_healthy"
        assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    assert command("migrate")[:3] == ["python", "manage.py", "migrate"]


def test_it_runs_postgres_15_and_a_redis_that_keeps_tasks() -> None:
    assert service("postgres")["image"] == "postgres:15"
    assert "/var/lib/postgresql/data" in mounts("postgres")
    assert service("redis")["image"] == "redis:7"
    args = command("redis")
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    assert "/data" in mounts("redis")


def test_it_health_checks_web_on_the_readiness_view() -> None:
    check = " ".join(service("web")["healthcheck"]["test"])
    path = re.search(r"http://127\.0\.0\.1:8000(/[^\"' ]*)", check)
    assert path is not None
    assert resolve(path[1]).url_name == "ready"
    # The check gives the view longer than its own deadline for each part.
    timeout = re.search(r"timeout=(\d+)", check)
    assert timeout is not None
    assert int(timeout[1]) > health.TIMEOUT


def runtime_requirement_arguments() -> list[str]:
    for keyword, rest in dockerfile_instructions():
        found = re.search(r"python bin/requirements((?: [\w-]+)*)", rest)
        if keyword == "RUN" and found:
            return found[1].split()
    raise AssertionError("the Dockerfile does not run bin/requirements")


def requirements(arguments: list[str]) -> list[str]:
    output = subprocess.run(
        [sys.executable, str(ROOT / "bin" / "requirements"), *arguments],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return output.split()


def test_it_installs_exactly_the_pinned_runtime_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    installed = requirements(runtime_requirement_arguments())
    assert sorted(installed) == sorted(project["dependencies"])
    assert not set(installed) & set(project["optional-dependencies"]["dev"])


def test_it_builds_a_slim_image_that_runs_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.12-slim")
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users
    assert users[-1] not in {"root", "0", "0:0"}


def test_it_copies_the_requirements_before_reading_them() -> None:
    instructions = dockerfile_instructions()
    steps = [f"{keyword} {rest}" for keyword, rest in instructions]
    install = next(i for i, step in enumerate(steps) if "bin/requirements --runtime" in step)
    copied = " ".join(step for step in steps[:install] if step.startswith("COPY"))
    assert "pyproject.toml" in copied
    assert "bin/requirements" in copied


def test_it_copies_everything_the_app_needs_into_the_image() -> None:
    assert ("COPY", ". .") in dockerfile_instructions()
    local_apps = [
        app.split(".")[0] for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()
    ]
    assert "config" not in local_apps
    needed = [
        "manage.py",
        "pyproject.toml",
        "bin/requirements",
        "config/settings.py",
        "config/wsgi.py",
        "config/celery.py",
        "templates",
        "static",
        "locale/nl/LC_MESSAGES/django.po",
        *local_apps,
    ]
    assert [path for path in needed if dockerignored(path)] == []
    # Secrets and local state stay out.
    assert dockerignored(".env")
    assert dockerignored("var/db.sqlite3")
    assert dockerignored(".venv/bin/python")


def test_it_compiles_messages_and_collects_static_files_for_production() -> None:
    run_steps = " ".join(rest for keyword, rest in dockerfile_instructions() if keyword == "RUN")
    assert re.search(r"apt-get install .*\bgettext\b", run_steps)
    assert "manage.py compilemessages" in run_steps
    collect = re.search(r"(\S+=\S+ )*python manage.py collectstatic", run_steps)
    assert collect is not None
    # Production serves hashed names from staticfiles.json, so the build must write it.
    assert "STATIC_MANIFEST=1" in collect[0] or "DJANGO_ENV=production" in collect[0]
    assert dockerfile_env()["STATIC_ROOT"]


def test_it_documents_every_setting_in_env_example() -> None:
    missing = settings_env_names() - env_example_names()
    assert missing == set()


def test_it_lists_only_settings_that_something_reads_in_env_example() -> None:
    unread = env_example_names() - settings_env_names() - compose_interpolated_names()
    assert unread == set()
    # What the compose file itself reads is set in .env.example, or compose refuses to start.
    assert compose_interpolated_names() <= env_example_names()


def test_it_finds_the_settings_it_compares() -> None:
    # Guards the two tests above against a pattern that silently matches nothing.
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL"} <= settings_env_names()
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL"} <= env_example_names()


def test_the_image_has_the_libraries_weasyprint_lays_out_reports_with():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"weasyprint==' in pyproject
    text = dockerfile()
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "fonts-dejavu-core"):
        assert package in text, package
