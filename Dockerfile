# po-sync image: the official Airflow image plus our pinned requirements and the po_sync package.
# The tag must match the apache-airflow pin in requirements.txt (tests/test_docker_compose.py checks it).
FROM apache/airflow:3.3.2-python3.11

# Install as the airflow user, as the image's docs require (root-installed packages end up where the
# airflow user's interpreter does not look, and the entrypoint refuses to run pip as root).
USER airflow
WORKDIR /opt/airflow

# Requirements first, alone, so the big layer is rebuilt only when the pins change. requirements.txt
# pins every transitive package (apache-airflow==3.3.2 included), so pip has nothing to re-resolve.
COPY --chown=airflow:0 requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# Then the package itself, laid out under /opt/airflow exactly as in the repository (plugins/,
# include/, dags/), which is where the compose file bind-mounts the same folders in development.
# A normal (non-editable) install, --no-deps because the pins above already decided every dependency:
# it registers the apache_airflow_provider entry point (connection forms) and the po-sync-sandbox
# console script, and lets the image run on its own (no bind mounts, e.g. in a cluster). In
# development docker-compose.yaml puts /opt/airflow/plugins and /opt/airflow/include/sandbox first on
# PYTHONPATH, so the mounted source shadows the installed copy while the entry points (which import
# by module name) keep working. An editable install would instead pin the image to one source path
# and leave a half-working package whenever a mount hides the egg-info it wrote there.
# README.m[d]: the glob lets the build work before the README exists (pyproject names it).
COPY --chown=airflow:0 pyproject.toml README.m[d] ./
COPY --chown=airflow:0 plugins ./plugins
COPY --chown=airflow:0 include ./include
COPY --chown=airflow:0 dags ./dags
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf build plugins/*.egg-info include/sandbox/*.egg-info \
    && mkdir -p /opt/airflow/.sandbox && chmod 0775 /opt/airflow/.sandbox
# /opt/airflow/.sandbox exists in the image so the named volume compose mounts there starts out
# owned by airflow (group 0, writable by any AIRFLOW_UID) instead of root.
