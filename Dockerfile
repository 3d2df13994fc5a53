# Quire's server image: the web server, both Celery workers and the one-shot `migrate` job run from
# it; docker-compose.yml chooses the command. It is CPU-only on purpose.
#
# The engine worker's image gains the engine extras (and flash-attn on a CUDA base or a separate stage); the
# CPU build of torch is in every image, for the first pass's clause encoder.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Tesseract reads scanned pages (OCR; without it such pages are marked "no text layer"); Pango draws PDF exports.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr libpango-1.0-0 libpangoft2-1.0-0 \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 quire \
 && useradd --system --uid 10001 --gid quire --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin quire

WORKDIR /app

# 1. The pinned dependencies, read from pyproject.toml alone: editing the code does not reinstall them.
COPY pyproject.toml ./
# EXTRAS picks optional groups: the default image is the web server and CPU workers; build the
# engine worker's image with --build-arg EXTRAS=s3,engine (accelerate, gguf, xgrammar; add flash-attn on
# CUDA hosts yourself).
ARG EXTRAS=s3
# torch first, from PyTorch's CPU index, at the version pyproject.toml pins: PyPI's Linux wheel of that version is
# the multi-GB CUDA build. The first pass (its clause encoder) needs torch in every worker; the full install
# after it then finds the requirement met.
RUN EXTRAS="$EXTRAS" python -c "import os, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; extras = [x for x in os.environ['EXTRAS'].split(',') if x]; print(*p['dependencies'], *[d for x in extras for d in p['optional-dependencies'][x]], sep=chr(10))" \
        > /tmp/requirements.txt \
 && pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu "$(grep '^torch==' /tmp/requirements.txt)" \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# 2. The project itself (packages webapp*, analysis*, engine*, with the s3 extra). README.md is
#    optional here (the glob may match nothing); pyproject.toml names it as the long description.
COPY pyproject.toml README.md* ./
COPY webapp/ webapp/
COPY analysis/ analysis/
COPY engine/ engine/
RUN pip install --no-cache-dir ".[$EXTRAS]" \
 && rm -rf build ./*.egg-info

COPY manage.py ./
COPY templates/ templates/
COPY static/ static/

# The code runs from /app (settings find templates/ and static/ next to webapp/), so /app comes
# first on the path, ahead of the copy pip put in site-packages.
# Runtime data (the generated secret key if none is given, uploads) lives in the /data volume;
# collected static files live in the image, where whitenoise serves them from.
ENV DJANGO_SETTINGS_MODULE=webapp.settings \
    PYTHONPATH=/app \
    QUIRE_VAR_DIR=/data \
    QUIRE_MEDIA_ROOT=/data/media \
    QUIRE_STATIC_ROOT=/app/staticfiles

# collectstatic only needs a key to import settings: a throwaway one, and a throwaway var dir, so
# nothing of the build is left under /data.
RUN SECRET_KEY=collectstatic-only QUIRE_VAR_DIR=/tmp/quire-build \
        python manage.py collectstatic --noinput \
 && rm -rf /tmp/quire-build \
 && mkdir -p /data/media \
 && chown -R quire:quire /data

# A named volume mounted at /data starts as a copy of this folder, so it belongs to quire.
USER quire
EXPOSE 8000

CMD ["gunicorn", "webapp.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--timeout", "600", "--access-logfile", "-", "--logger-class", "webapp.logs.GunicornLogger"]
