"""Built-in adapter for SQLAlchemy 2.x declarative models (and SQLModel, which builds on it).

A declarative base keeps two registries that outlive the module defining the models: the
``MetaData`` (tables by name: re-executing ``class User(Base)`` raises "Table 'users' is
already defined") and the registry's string lookup table (``relationship("Post")``; a second
``Post`` makes every lookup fail with "Multiple classes found"). For the modules of a reload:

- ``detach`` takes their mapped classes out of the string lookup table and their tables (those
  of their mapped classes, and ``Table`` objects in their globals) out of their ``MetaData``,
  so that the new code defines them afresh;
- ``commit`` puts back a removed table that the new code did not define again (it was only
  imported there), re-creates the relationships of mappers that are *not* re-executed and
  point at a replaced class (``Comment.post = relationship("Post")`` in a module that only
  imports the base), drops the backrefs the replaced classes had generated on such mappers
  (the new classes generate them again) and configures the mappers, so a mistake in the new
  models fails the reload instead of the next query;
- ``restore`` puts every registry back: the old classes in the lookup table, the old tables
  (with the foreign keys of other tables pointing at them again), the old relationships; the
  mappers the failed attempt created are disposed.

Old classes keep their mappers (instances loaded before the reload, in sessions created then,
keep working); the engine, its pool and sessions are never touched.
"""

from __future__ import annotations

import importlib
import logging
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from hotmod.adapters._base import Adapter

if TYPE_CHECKING:
    from sqlalchemy import MetaData, Table
    from sqlalchemy.orm import RelationshipProperty

# SQLAlchemy is imported where it is used: hotmod imports this module to read the adapter's
# ``requires``, also in processes that never import SQLAlchemy.

__all__ = ["DeclarativeModels"]

logger = logging.getLogger(__name__)

_MISSING: Any = object()


@dataclass
class _MetaDataState:
    tables: list[tuple[str, Table]]  # in their order, before detach
    fk_memos: dict[Any, list[Any]]
    schemas: set[str]
    fk_targets: list[tuple[Any, Any]]  # (ForeignKey, its "column" before) pointing at removed
    removed: dict[str, Table] = field(default_factory=dict)


@dataclass
class _Swap:
    """A property of a mapper that is not re-executed, replaced (``new``) or taken out."""

    mapper: Any
    key: str
    old: Any
    attribute: Any  # the class's instrumented attribute before
    props: list[str]  # the mapper's property order before
    new: Any = None


@dataclass
class _State:
    registries: list[Any]
    managers: set[Any] = field(default_factory=set)  # every class manager before the reload
    unregistered: list[tuple[Any, type]] = field(default_factory=list)  # (registry, old class)
    old_mappers: list[Any] = field(default_factory=list)
    old_classes: set[type] = field(default_factory=set)
    metadata: dict[int, tuple[MetaData, _MetaDataState]] = field(default_factory=dict)
    configured: bool = True
    swaps: list[_Swap] = field(default_factory=list)
    held_back: list[Any] = field(default_factory=list)  # old unconfigured mappers set aside
    # what the old relationships write to, taken out of SQLAlchemy's check for relationships
    # that write to the same column (the new ones would "conflict" with them)
    sync_targets: list[tuple[Any, Any, Any]] = field(default_factory=list)


def _namespace(module: object) -> dict[str, Any]:
    """A module's globals, read without running any hook of a lazy module object."""
    if not issubclass(type(module), ModuleType):
        return {}
    namespace: dict[str, Any] = object.__getattribute__(module, "__dict__")
    return namespace


def _registries() -> list[Any]:
    from sqlalchemy.orm import mapperlib

    return list(mapperlib._mapper_registries)


def _mappers(registry: Any) -> Iterator[Any]:
    for manager in list(registry._managers):
        if manager.is_mapped:
            yield manager.mapper


def _defined_in(cls: type, modules: Mapping[str, ModuleType]) -> bool:
    module = modules.get(cls.__module__)
    return module is not None and _namespace(module).get(cls.__name__) is cls


class DeclarativeModels(Adapter[_State]):
    """Mapped classes and tables of the re-executed modules are replaced in the declarative
    registries and their ``MetaData``; see the module docstring."""

    name = "sqlalchemy"
    requires = "sqlalchemy"

    def detach(self, modules: Mapping[str, ModuleType]) -> _State:
        from sqlalchemy import Table

        clsregistry = _clsregistry()

        _track_engines()
        state = _State(_registries())
        state.managers = {manager for reg in state.registries for manager in list(reg._managers)}
        tables: list[Table] = []
        for registry in state.registries:
            for mapper in _mappers(registry):
                state.configured = state.configured and mapper.configured
                cls = mapper.class_
                if not _defined_in(cls, modules):
                    continue
                state.old_mappers.append(mapper)
                state.old_classes.add(cls)
                table = mapper.local_table
                inherited = mapper.inherits is not None and mapper.inherits.local_table is table
                if isinstance(table, Table) and not inherited:  # (single-table: the base's)
                    tables.append(table)
        for module in modules.values():
            tables.extend(
                value
                for value in list(_namespace(module).values())
                if issubclass(type(value), Table)  # type(): no hook of a lazy object runs
            )
        for table in tables:
            metadata = table.metadata
            if metadata.tables.get(table.key) is not table:
                continue
            entry = state.metadata.get(id(metadata))
            if entry is None:
                entry = state.metadata[id(metadata)] = (metadata, _snapshot(metadata))
            entry[1].removed[table.key] = table
        try:
            for metadata, saved in state.metadata.values():
                keys = {
                    (table.key, name)
                    for table in saved.removed.values()
                    for column in table.columns
                    for name in (column.key, column.name)
                }
                for fk_key in keys & set(metadata._fk_memos):
                    for fk in metadata._fk_memos[fk_key]:
                        saved.fk_targets.append((fk, fk.__dict__.get("column", _MISSING)))
                for table in saved.removed.values():
                    metadata.remove(table)
            for registry in state.registries:
                for mapper in _mappers(registry):
                    if mapper.class_ in state.old_classes:
                        cls = mapper.class_
                        clsregistry.remove(cls.__name__, cls, registry._class_registry)
                        state.unregistered.append((registry, cls))
            _untrack(
                {prop for mapper in state.old_mappers for prop in mapper._props.values()}, state
            )
        except BaseException:
            self.restore(modules, state)
            raise
        return state

    def commit(self, modules: Mapping[str, ModuleType], state: _State) -> None:
        if not modules:  # lazy mode: the models are defined again at their next import
            return
        for metadata, saved in state.metadata.values():
            for key, table in saved.removed.items():
                if key not in metadata.tables:  # not defined by the new code: only imported
                    _put_back_table(metadata, table, saved)
        replaced = {mapper.class_: mapper for mapper in state.old_mappers}
        for registry in state.registries:
            for mapper in _mappers(registry):
                if mapper.class_ in replaced:
                    if not mapper.configured and mapper._ready_for_configure:
                        mapper._ready_for_configure = False  # never configured again
                        state.held_back.append(mapper)
                    continue
                if mapper.registry not in state.registries:
                    continue
                self._rebuild(mapper, replaced, state)
        if state.configured:
            from sqlalchemy.orm import configure_mappers

            configure_mappers()
        if state.old_classes:
            _clear_statement_caches()

    def _rebuild(self, mapper: Any, replaced: Mapping[type, Any], state: _State) -> None:
        """Re-create the relationships of ``mapper`` (not re-executed) that point at a replaced
        class; take out those that a replaced class generated as its backref."""
        from sqlalchemy.orm import RelationshipProperty

        for key, prop in list(mapper._props.items()):
            if not isinstance(prop, RelationshipProperty) or "entity" not in prop.__dict__:
                continue
            if prop.parent is not mapper:  # inherited: re-created on the base's mapper
                continue
            if prop.mapper.class_ not in replaced:
                continue
            swap = _Swap(mapper, key, prop, mapper.class_manager.get(key), list(mapper._props))
            reverse = [other for other in prop._reverse_property if other.backref is not None]
            generated = any(other.parent.class_ in replaced for other in reverse)
            state.swaps.append(swap)
            _untrack({prop}, state)
            if generated:  # the new class generates it again when it is configured
                del mapper._props[key]
                mapper._path_registry.pop(prop, None)
                _uninstrument(mapper.class_manager, key)
                mapper._expire_memoizations()
            else:
                swap.new = mapper._configure_property(key, _fresh(prop), init=True)
            logger.debug("re-created relationship %s.%s", mapper.class_.__name__, key)

    def restore(self, modules: Mapping[str, ModuleType], state: _State) -> None:
        clsregistry = _clsregistry()
        join_condition = _join_condition()

        for swap in reversed(state.swaps):
            mapper = swap.mapper
            if swap.new is not None:
                mapper._path_registry.pop(swap.new, None)
            current = dict(mapper._props)
            current[swap.key] = swap.old
            mapper._props.clear()
            for key in swap.props:
                mapper._props[key] = current.pop(key)
            mapper._props.update(current)
            if swap.attribute is not None:
                mapper.class_manager.instrument_attribute(swap.key, swap.attribute)
            mapper._expire_memoizations()
        state.swaps.clear()
        for mapper in state.held_back:
            mapper._ready_for_configure = True
        state.held_back.clear()
        for registry in state.registries:
            for manager in list(registry._managers):
                if manager not in state.managers and manager.class_.__module__ in modules:
                    # created by the failed attempt: no module holds it any more
                    registry._dispose_manager_and_mapper(manager)
                    registry._managers.pop(manager, None)
        for registry, cls in reversed(state.unregistered):
            clsregistry.add(cls.__name__, cls, registry._class_registry)
        state.unregistered.clear()
        for metadata, saved in state.metadata.values():
            _restore_metadata(metadata, saved)
        state.metadata.clear()
        tracked = join_condition._track_overlapping_sync_targets
        for column, prop, source in state.sync_targets:
            tracked.setdefault(column, weakref.WeakKeyDictionary())[prop] = source
        state.sync_targets.clear()
        if state.old_classes:  # statements the failed attempt compiled hold its classes
            _clear_statement_caches()


# Every Engine that connected since the first reload of mapped classes, weakly: each keeps a
# cache of compiled statements keyed by the mappers they use, whose entries for the old
# classes kept the old version of their module alive for good (hundreds of KB per models edit).
_engines: weakref.WeakSet[Any] = weakref.WeakSet()
_tracking: list[bool] = []


def _track_engines() -> None:
    if _tracking:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "engine_connect", _connected)
    _tracking.append(True)


def _connected(connection: Any, *args: Any) -> None:
    _engines.add(connection.engine)


def _clear_statement_caches() -> None:
    for engine in list(_engines):
        cache = getattr(engine, "_compiled_cache", None)
        if cache is not None:
            cache.clear()


def _uninstrument(manager: Any, key: str) -> None:
    """``manager.uninstrument_attribute(key)``, past the declarative metaclass (which refuses
    to delete a mapped attribute)."""
    manager.local_attrs.pop(key, None)
    if key in manager.class_.__dict__:
        type.__delattr__(manager.class_, key)
    manager._reset_memoizations()
    dict.pop(manager, key, None)
    for subclass_manager in manager.subclass_managers(True):
        subclass_manager.uninstrument_attribute(key, propagated=True)


def _untrack(props: set[Any], state: _State) -> None:
    """Take ``props`` out of SQLAlchemy's record of which relationship writes to which column
    (it warns when a new relationship writes to a column an unrelated one writes to)."""
    join_condition = _join_condition()

    tracked = join_condition._track_overlapping_sync_targets
    for column, writers in list(tracked.items()):
        for prop, source in list(writers.items()):
            if prop in props:
                state.sync_targets.append((column, prop, source))
                del writers[prop]


def _snapshot(metadata: MetaData) -> _MetaDataState:
    return _MetaDataState(
        tables=list(metadata.tables.items()),
        fk_memos={key: list(fks) for key, fks in metadata._fk_memos.items()},
        schemas=set(metadata._schemas),
        fk_targets=[],
    )


def _put_back_table(metadata: MetaData, table: Table, saved: _MetaDataState) -> None:
    metadata._add_table(table.name, table.schema, table)
    for fk_key, fks in saved.fk_memos.items():
        for fk in fks:
            if fk.parent is not None and fk.parent.table is table:
                memo = metadata._fk_memos[fk_key]
                if fk not in memo:
                    memo.append(fk)
    for fk, column in saved.fk_targets:
        if fk.parent.table is not table and column is not _MISSING and column.table is table:
            fk.column = column


def _restore_metadata(metadata: MetaData, saved: _MetaDataState) -> None:
    dict.clear(metadata.tables)
    for key, table in saved.tables:
        dict.__setitem__(metadata.tables, key, table)
    metadata._fk_memos.clear()
    metadata._fk_memos.update({key: list(fks) for key, fks in saved.fk_memos.items()})
    metadata._schemas = set(saved.schemas)
    for fk, column in saved.fk_targets:
        if column is _MISSING:
            fk.__dict__.pop("column", None)
        else:
            fk.column = column


def _fresh(prop: Any) -> RelationshipProperty[Any]:
    """A new, unconfigured relationship declared as ``prop`` was (it resolves its string
    arguments again, through the registry that now holds the new classes)."""
    from sqlalchemy.orm import RelationshipProperty

    args = prop._init_args
    backref = prop.backref
    # 2.1 keeps the declared back_populates among the init args, 2.0 on the property
    declared = getattr(args, "back_populates", None)
    back_populates = declared.argument if declared is not None else prop.back_populates
    return RelationshipProperty(
        prop.argument,
        args.secondary.argument,
        uselist=prop.uselist,
        collection_class=prop.collection_class,
        primaryjoin=args.primaryjoin.argument,
        secondaryjoin=args.secondaryjoin.argument,
        # _generate_backref() stored the backref's name as back_populates
        back_populates=None if backref is not None else back_populates,
        order_by=args.order_by.argument,
        backref=backref,
        overlaps=",".join(prop._overlaps) or None,
        post_update=prop.post_update,
        cascade=",".join(sorted(prop._cascade)),
        viewonly=prop.viewonly,
        attribute_options=prop._attribute_options,
        lazy=prop.lazy,
        passive_deletes=prop.passive_deletes,
        passive_updates=prop.passive_updates,
        active_history=prop.active_history,
        enable_typechecks=prop.enable_typechecks,
        foreign_keys=args.foreign_keys.argument,
        remote_side=args.remote_side.argument,
        join_depth=prop.join_depth,
        comparator_factory=prop.comparator_factory,
        single_parent=prop.single_parent,
        innerjoin=prop.innerjoin,
        distinct_target_key=prop.distinct_target_key,
        load_on_pending=prop.load_on_pending,
        query_class=prop.query_class,
        info=dict(prop.info),
        omit_join=prop.omit_join,
        sync_backref=prop.sync_backref,
        doc=prop.doc,
    )


class _ClassRegistry:
    """SQLAlchemy's string-lookup functions: ``_add_class``/``_remove_class`` in 2.1,
    ``add_class``/``remove_class`` in 2.0."""

    def __init__(self, module: Any) -> None:
        self.add = getattr(module, "_add_class", None) or module.add_class
        self.remove = getattr(module, "_remove_class", None) or module.remove_class


def _clsregistry() -> _ClassRegistry:
    return _ClassRegistry(importlib.import_module("sqlalchemy.orm.clsregistry"))


def _join_condition() -> Any:
    """The relationship join-condition class (``_JoinCondition`` in 2.1, ``JoinCondition``
    in 2.0), which keeps the record of which relationship writes to which column."""
    module: Any = importlib.import_module("sqlalchemy.orm.relationships")
    return getattr(module, "_JoinCondition", None) or module.JoinCondition
