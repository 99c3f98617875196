"""Training and evaluation CLI: `python -m train CONFIG.yaml [key=value ...]`."""
