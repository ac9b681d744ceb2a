"""A tiny HTTP client for the job API, used by the integration tests."""

from __future__ import annotations

import io
import time

import numpy as np
import requests
import soundfile as sf

FINAL = {"succeeded", "failed", "canceled"}


def submit(base_url: str, payload: dict) -> dict:
    response = requests.post(f"{base_url}/v1/jobs", json=payload, timeout=60)
    assert response.status_code == 202, response.text
    assert response.headers["Location"].endswith(f"/v1/jobs/{response.json()['id']}")
    assert int(response.headers["Retry-After"]) >= 1
    return response.json()


def wait_for(base_url: str, job_id: str, timeout: float = 120, until=FINAL) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = requests.get(f"{base_url}/v1/jobs/{job_id}", timeout=30).json()
        if job["state"] in until or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def wait_progress(base_url: str, job_id: str, chunks: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = requests.get(f"{base_url}/v1/jobs/{job_id}", timeout=30).json()
        if job["progress"]["chunks_done"] >= chunks or job["state"] in FINAL or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def download(url: str) -> bytes:
    response = requests.get(url, timeout=60)
    assert response.status_code == 200, response.text
    return response.content


def decode(data: bytes) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    return audio, rate


def dominant_frequency(segment: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment))))
    return float(np.fft.rfftfreq(len(segment), 1.0 / rate)[int(np.argmax(spectrum))])
