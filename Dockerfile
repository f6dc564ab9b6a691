# rehearse in a container: the harness and the bundled demo backend (mobile flows need Chromium + Appium: see README).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY harness harness
COPY scenarios scenarios
COPY mobile_flows mobile_flows
COPY reports reports
COPY demo_backend demo_backend
RUN pip install --no-cache-dir .
ENTRYPOINT ["rehearse"]
