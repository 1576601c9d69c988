FROM python:3.11-slim
WORKDIR /app
COPY setup.cfg setup.py README.md ./
COPY services ./services
COPY config ./config
COPY devservers ./devservers
RUN pip install --no-cache-dir .
