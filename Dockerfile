# Production image: uvicorn workers serving csbot.asgi. Static files are collected into the image
# and served by nginx (docs/deploy.md). Docker is not available on the development machines, so
# this file is kept minimal and is not exercised by the test suite.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CSBOT_SERVE_STATIC=false CSBOT_STATIC_ROOT=/srv/static \
    CSBOT_MEDIA_ROOT=/srv/media
WORKDIR /srv/csbot

COPY pyproject.toml ./
COPY csbot ./csbot
COPY apps ./apps
COPY templates ./templates
COPY static ./static
COPY locale ./locale
COPY manage.py ./
RUN pip install --no-cache-dir . && \
    CSBOT_SECRET_KEY=build-only-not-a-secret-used-by-collectstatic-only-0000 python manage.py collectstatic --noinput && \
    useradd --system --home /srv/csbot csbot && \
    mkdir -p /srv/media && chown csbot /srv/media
USER csbot

EXPOSE 8000
CMD ["python", "-m", "uvicorn", "csbot.asgi:application", "--host", "0.0.0.0", "--port", "8000", \
     "--workers", "2", "--no-access-log", "--proxy-headers", "--forwarded-allow-ips", "*"]
