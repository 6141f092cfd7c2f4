"""The public surface of the ``hotmod`` package, in the style of httpx's test of the same name."""

from __future__ import annotations

import types

import hotmod

INCLUDED_PRIVATE_MEMBERS = ["__version__"]
# public subpackages: a namespace of their own, with their own __all__
PUBLIC_SUBPACKAGES = ["adapters", "celery"]  # hotmod.celery: a public module


def test_all_is_sorted() -> None:
    assert hotmod.__all__ == sorted(hotmod.__all__)
    assert len(hotmod.__all__) == len(set(hotmod.__all__))


def test_all_imports_are_exported() -> None:
    public = sorted(
        member
        for member, value in vars(hotmod).items()
        if (not member.startswith("_") or member in INCLUDED_PRIVATE_MEMBERS)
        and not isinstance(value, types.ModuleType)
    )
    assert hotmod.__all__ == public


def test_no_public_submodule_attributes() -> None:
    # Submodules are private (``_reloader``...): nothing public is a module object, but the
    # public subpackages.
    modules = [
        member
        for member, value in vars(hotmod).items()
        if isinstance(value, types.ModuleType)
        and not member.startswith("_")
        and member not in PUBLIC_SUBPACKAGES
    ]
    assert modules == []


def test_adapters_subpackage_surface() -> None:
    import hotmod.adapters

    assert hotmod.adapters.__all__ == sorted(hotmod.adapters.__all__)
    public = sorted(
        member
        for member, value in vars(hotmod.adapters).items()
        if not member.startswith("_") and not isinstance(value, types.ModuleType)
    )
    assert hotmod.adapters.__all__ == public
    assert hotmod.adapters.AdapterError is hotmod.AdapterError


def test_every_exported_name_resolves() -> None:
    for name in hotmod.__all__:
        assert getattr(hotmod, name) is not None, name


def test_exported_objects_claim_the_public_module_or_a_private_one() -> None:
    for name in hotmod.__all__:
        value = getattr(hotmod, name)
        module = getattr(value, "__module__", None)
        if module is not None:
            assert module == "hotmod" or module.startswith("hotmod._"), (name, module)


def test_issue_names_are_exported() -> None:
    for name in ("Reloader", "ReloadResult", "ImportGraph", "previous", "__version__"):
        assert name in hotmod.__all__
