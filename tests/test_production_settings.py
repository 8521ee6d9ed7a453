"""Production settings: `check --deploy` is clean with DEBUG off, the secret key is
required, and every response carries the security headers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "k3y-for-the-deploy-check-" + "x7Qp2Lm9" * 6,
    "ALLOWED_HOSTS": "planner.example.org",
    "DJANGO_SETTINGS_MODULE": "eventplanner.settings",
    "TIME_ZONE": "America/Chicago",
}


def _manage(tmp_path, *args, env=None):
    # DJANGO_ALLOW_ASYNC_UNSAFE is for tests only; DEBUG and TIME_ZONE come from each case.
    ignored = {"DATABASE_URL", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE", "DEBUG", "TIME_ZONE"}
    base = {k: v for k, v in os.environ.items() if k not in ignored}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "EVENTPLANNER_VAR_DIR": str(tmp_path), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_when_debug_is_on(tmp_path):
    # The control: the same check does catch an unsafe configuration.
    env = {**PRODUCTION_ENV, "DEBUG": "true"}
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "security.W018" in result.stderr + result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = _manage(tmp_path, "check", "--deploy", env=env)
    assert result.returncode != 0
    assert "eventplanner.E002" in result.stderr
    assert "SECRET_KEY must be set" in result.stderr


def test_a_checkout_without_key_debug_or_collected_files_still_checks_its_migrations(tmp_path):
    """What a developer or a CI step runs on a fresh clone, before anything is configured."""
    env = {"STATIC_ROOT": str(tmp_path / "never-collected")}
    result = _manage(tmp_path, "makemigrations", "--check", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


def test_debug_is_off_unless_set(tmp_path):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DEBUG"}
    result = _manage(
        tmp_path, "shell", "-c", "from django.conf import settings; print(settings.DEBUG)", env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "False"


def test_without_the_static_manifest_production_refuses_to_start_and_says_what_to_run(tmp_path):
    env = {**PRODUCTION_ENV, "STATIC_ROOT": str(tmp_path / "never-collected")}
    result = _manage(tmp_path, "check", "--deploy", env=env)
    assert result.returncode != 0
    assert "eventplanner.E001" in result.stderr
    assert "static files manifest" in result.stderr
    assert "manage.py collectstatic --noinput" in result.stderr
    # The control: once collected, the same environment starts.
    collected = _manage(tmp_path, "collectstatic", "--noinput", "-v0", env=env)
    assert collected.returncode == 0, collected.stderr
    assert _manage(tmp_path, "check", "--deploy", env=env).returncode == 0


def test_an_unknown_time_zone_is_refused_with_an_example(tmp_path):
    result = _manage(tmp_path, "check", env={**PRODUCTION_ENV, "TIME_ZONE": "America/Chicgo"})
    assert result.returncode != 0
    assert "TIME_ZONE='America/Chicgo' is not a time zone name" in result.stderr
    assert "America/Chicago" in result.stderr


def test_check_deploy_warns_when_time_zone_is_left_unset(tmp_path):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "TIME_ZONE"}
    result = _manage(tmp_path, "check", "--deploy", env=env)
    assert "eventplanner.W001" in result.stdout + result.stderr


def test_production_settings_values(tmp_path):
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT,"
        " s.SECURE_HSTS_SECONDS, s.X_FRAME_OPTIONS, s.SECURE_REFERRER_POLICY,"
        " s.SECURE_PROXY_SSL_HEADER)"
    )
    env = {**PRODUCTION_ENV, "TRUST_X_FORWARDED_PROTO": "true"}
    result = _manage(tmp_path, "shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == [
        "True",
        "True",
        "True",
        "31536000",
        "DENY",
        "same-origin",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", [reverse("login"), "/", reverse("admin:login"), "/no-such-page/"], ids=str
)
def test_every_response_carries_the_security_headers(client, url):
    response = client.get(url)
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_templates_have_no_inline_scripts_or_styles():
    """The policy forbids inline code; keep the templates free of it."""
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        for marker in ("<script>", "<style", " style=", " onclick=", " onload=", "hx-on"):
            if marker in text:
                offenders.append(f"{template.relative_to(ROOT)}: {marker}")
        for line in text.splitlines():
            if "<script" in line and "src=" not in line:
                offenders.append(f"{template.relative_to(ROOT)}: {line.strip()}")
    assert offenders == []
