# The persistent layer: `hubbub serve` on Fly.io machines (or any container host).
FROM python:3.11-slim
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
CMD ["hubbub", "serve", "--host", "0.0.0.0", "--port", "8080", "--forwarded-allow-ips", "*"]
