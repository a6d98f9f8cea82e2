"""The persistent server: composes the layers into one ASGI app and the `hubbub` command."""
