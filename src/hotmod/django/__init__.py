"""hotmod for Django: ``INSTALLED_APPS += ["hotmod.django"]`` makes ``manage.py runserver``
reload your code in the running process instead of restarting it.

Django's autoreloader is off (as with ``--noreload``), the project's packages are watched (see
``hotmod.adapters.django.project_packages``), and before each request the changes saved since
the last one are applied in the request's thread. The Django adapter
(``hotmod.adapters.django``) keeps the app registry, the admin, signals, template libraries
and the URL resolver in step with the reloaded modules.
"""
