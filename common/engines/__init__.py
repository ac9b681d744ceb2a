"""TTS engines behind one interface (``base``), chosen by name through ``registry``."""
