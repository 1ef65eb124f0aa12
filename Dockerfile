# The platform's image: web, Celery workers and beat all run from it (deploy/compose/).
# Build: docker build -t refund-platform .
FROM python:3.11-slim-bookworm

# The CJK font the printed forms and receipts need (Chinese text, not boxes), gettext for
# the compiled catalogs.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      fonts-wqy-zenhei gettext \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /opt/refund refund

WORKDIR /opt/refund
COPY . .
RUN python -m venv .venv \
 && .venv/bin/pip install --no-cache-dir --disable-pip-version-check . \
 # Build-time only: the test settings carry throwaway keys and need no database.
 && DJANGO_SETTINGS_MODULE=refund_site.settings.test .venv/bin/python manage.py compilemessages \
      --ignore=.venv -v 0 \
 && DJANGO_SETTINGS_MODULE=refund_site.settings.test .venv/bin/python manage.py collectstatic \
      --no-input -v 0 \
 && chown -R refund:refund /opt/refund

USER refund
ENV PATH=/opt/refund/.venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=refund_site.settings.production \
    PYTHONUNBUFFERED=1
EXPOSE 8000
CMD ["gunicorn", "refund_site.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--timeout", "30", "--graceful-timeout", "30"]
