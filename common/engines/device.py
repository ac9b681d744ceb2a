"""Pick the torch device for an engine from the ``device`` setting.

Nothing here touches CUDA at import time: ``torch`` is imported inside the function, and
CUDA is only queried when the setting asks for it (``auto``, ``cuda``, ``cuda:N``). This keeps
Celery prefork parents free of a CUDA context, which must never be inherited by children.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.errors import EngineUnavailable

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from common.config import Settings


def choose_device(settings: "Settings") -> "torch.device":
    """Return the device named by ``settings.device``.

    Args:
        settings: runtime settings; ``device`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

    Returns:
        ``cuda`` when ``auto`` and a GPU is visible, else ``cpu``; or the named device.

    Raises:
        EngineUnavailable: a CUDA device was requested but is not available, or the value
            is not a recognised device name.
    """
    import torch

    wanted = (settings.device or "auto").strip().lower()
    if wanted == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if wanted == "cpu":
        return torch.device("cpu")
    if wanted == "cuda" or wanted.startswith("cuda:"):
        try:
            device = torch.device(wanted)
        except RuntimeError as exc:
            raise EngineUnavailable(f"TINGSHU_DEVICE={settings.device!r} is not a valid device: {exc}") from None
        if not torch.cuda.is_available():
            raise EngineUnavailable(f"TINGSHU_DEVICE={settings.device!r} but CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise EngineUnavailable(
                f"TINGSHU_DEVICE={settings.device!r} but only {torch.cuda.device_count()} CUDA device(s) are visible")
        return device
    raise EngineUnavailable(f"TINGSHU_DEVICE must be auto, cpu, cuda or cuda:N, not {settings.device!r}")
