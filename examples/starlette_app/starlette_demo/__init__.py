"""A Starlette application; ``serve.py`` serves ``starlette_demo.app:app`` through hotmod.asgi."""
