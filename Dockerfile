# The persistent layer: `hubbub serve` on Fly.io machines (or any container host).
# Dependencies come from pyproject.toml, the one declaration everything else installs from.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY proxy ./proxy
COPY webhooks ./webhooks
COPY realtime ./realtime
COPY mcp_server ./mcp_server
RUN pip install --no-cache-dir .
ENV HUBBUB_LOG_FORMAT=json
EXPOSE 8080
# SIGTERM drains the sockets before the server stops (realtime/drain.py).
STOPSIGNAL SIGTERM
CMD ["hubbub", "serve", "--host", "0.0.0.0", "--port", "8080", "--forwarded-allow-ips", "*"]
