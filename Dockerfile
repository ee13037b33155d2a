# secretaudit as a container: `docker run --rm -v "$PWD:/src" IMAGE` scans the
# mounted repository (CMD: scan .); any other command replaces CMD, e.g.
#   docker run --rm -v "$PWD:/src" IMAGE scan --format json .
#   docker run --rm -v "$PWD:/src" IMAGE audit --config secretaudit.yaml
#
# Built from this directory (see .dockerignore: only the package's sources go in):
#   docker build -t secretaudit .
# The package is installed without the test extras; git is there because a scan
# in a work tree lists files through git (.gitignore honoured) and --history reads it.

FROM python:3.11-slim AS build
WORKDIR /build
COPY pyproject.toml README.md ./
COPY scanner scanner
COPY checks checks
COPY reports reports
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    XDG_CACHE_HOME=/tmp/secretaudit/cache \
    XDG_STATE_HOME=/tmp/secretaudit/state
# safe.directory: the mounted repository belongs to the host's user, not the container's;
# without it git refuses the work tree ("dubious ownership") and .gitignore would not count
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*'
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# an unprivileged user; `docker run --user "$(id -u):$(id -g)"` works too (caches live under /tmp)
RUN useradd --create-home --uid 10001 --user-group secretaudit
USER 10001:10001
WORKDIR /src
ENTRYPOINT ["secretaudit"]
CMD ["scan", "."]
