"""The app's widgets: terminal images, loss plots, the status line and the three image views."""
