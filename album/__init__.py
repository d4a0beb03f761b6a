"""The bundled album: composed and rendered by code in this package."""
