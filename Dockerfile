# The sidecar image: `llm-exporter serve` (or `demo`) on 0.0.0.0:9473.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN pip install --no-cache-dir '.[pricing,server,gpu]'
USER nobody
EXPOSE 9473
HEALTHCHECK CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9473/-/healthy')"]
CMD ["llm-exporter", "serve", "--host", "0.0.0.0"]
