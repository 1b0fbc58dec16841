# syntax=docker/dockerfile:1
# The production image. web (gunicorn), worker and beat (Celery) all run this one image;
# docker-compose.yml picks the command and .env the settings.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/var/media

# gettext: compilemessages turns the Dutch catalogue into the .mo file Django reads.
# Pango (with HarfBuzz) and a font: WeasyPrint lays out the advice reports with them.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends gettext \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 1000 app \
    && useradd --system --uid 1000 --gid app --create-home --home-dir /home/app app

WORKDIR /app

# Dependencies before the code, so a code change does not reinstall them. The project is an
# application, not a package: only its pinned runtime dependencies are installed.
# --runtime leaves the dev tools (pytest, playwright, ruff) out of the image.
COPY pyproject.toml ./
COPY bin/requirements bin/requirements
RUN python bin/requirements --runtime > /tmp/requirements.txt \
    && pip install --requirement /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .

# Built as root and left owned by root: the application user reads its code, never changes
# it. STATIC_MANIFEST=1 selects the storage production uses (hashed names plus
# staticfiles.json) without needing production secrets at build time.
RUN python manage.py compilemessages --verbosity 0 \
    && STATIC_MANIFEST=1 python manage.py collectstatic --no-input --verbosity 0 \
    && mkdir -p /app/var/media /app/var/beat \
    && chown -R app:app /app/var

USER app

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000"]
