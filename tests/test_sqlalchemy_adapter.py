"""The SQLAlchemy / SQLModel adapter against the real libraries: a declarative ``Base`` with an
in-memory SQLite database in ``db.py``, models in ``models.py`` and a model in another module
that is not re-executed with them. Each test runs in a fresh interpreter with every warning
turned into an error (an SAWarning fails the test)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import SRC, Project

ROOT = Path(__file__).resolve().parents[1]

DB = """
import warnings
warnings.simplefilter("error")
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.pool import StaticPool

class Base(DeclarativeBase):
    pass

engine = create_engine(
    "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
)
Session = sessionmaker(engine)
"""

MODELS = """
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from app.db import Base

class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    posts: Mapped[list["Post"]] = relationship("Post", back_populates="author")

    def greeting(self):
        return "v1 " + self.name

class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str]
    author: Mapped["User"] = relationship("User", back_populates="posts")
    comments: Mapped[list["Comment"]] = relationship("Comment", back_populates="post")
"""

# imports only the base: never re-executed with models.py; points at Post by string
COMMENTS = """
from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship
from app.db import Base

class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    text: Mapped[str]
    post: Mapped["Post"] = relationship("Post", back_populates="comments")
"""

FILES = {
    "app/__init__.py": "",
    "app/db.py": DB,
    "app/models.py": MODELS,
    "app/comments.py": COMMENTS,
}

SETUP = """
import warnings
warnings.simplefilter("error")
from sqlalchemy import select, text
import app.db, app.models, app.comments
db = app.db
db.Base.metadata.create_all(db.engine)
before = db.Session()   # a session created before any reload, kept open
ann = app.models.User(name="ann")
post = app.models.Post(title="hello", author=ann)
before.add_all([ann, post, app.comments.Comment(text="first!", post=post)])
before.commit()

def models():
    return sys.modules["app.models"]

def snapshot(session):
    M = models()
    user = session.scalars(select(M.User)).one()
    comment = session.scalars(select(app.comments.Comment)).one()
    return {
        "greeting": user.greeting(),
        "user_is_new": type(user) is M.User,
        "posts_are_new": [type(p) is M.Post for p in user.posts],
        "comment_post_is_new": type(comment.post) is M.Post,
        "post_comments": [c.text for c in comment.post.comments],
        "lookup_is_new": db.Base.registry._class_registry["Post"] is M.Post,
        "table_is_new": db.Base.metadata.tables["posts"] is M.Post.__table__,
    }
"""

CURRENT = {
    "user_is_new": True,
    "posts_are_new": [True],
    "comment_post_is_new": True,
    "post_comments": ["first!"],
    "lookup_is_new": True,
    "table_is_new": True,
}


def test_models_edit_replaces_classes_tables_and_string_lookups(project: Project) -> None:
    project.write(FILES)
    out = project.result(
        SETUP
        + textwrap.dedent(
            """
        r = hotmod.Reloader("app")
        edit("app/models.py", '"v1 "', '"v2 "')
        reset()
        result = r.reload("app.models")
        first_executed = executed()
        after = snapshot(db.Session())
        kept = snapshot(before)   # the session from before the reload: same data, new classes
        edit("app/models.py", '"v2 "', '"v3 "')
        again = r.reload("app.models")
        emit(ok=result.ok, again=again.ok, executed=first_executed, after=after, kept=kept,
             third=snapshot(db.Session())["greeting"])
        """
        )
    )
    assert out["ok"] is True
    assert out["again"] is True
    assert out["executed"] == ["app.models"]  # app.comments was not re-executed
    assert out["after"] == {"greeting": "v2 ann", **CURRENT}
    assert out["kept"] == {"greeting": "v2 ann", **CURRENT}
    assert out["third"] == "v3 ann"


def test_broken_models_edit_restores_registry_and_metadata(project: Project) -> None:
    project.write(FILES)
    out = project.result(
        SETUP
        + textwrap.dedent(
            """
        results = []
        r = hotmod.watch("app", debounce=0.01, on_reload=results.append)
        User, Post, Comment = models().User, models().Post, app.comments.Comment
        users, posts = db.Base.metadata.tables["users"], db.Base.metadata.tables["posts"]
        tables = list(db.Base.metadata.tables)
        target = Comment.__table__.c.post_id.foreign_keys
        target = next(iter(target)).column
        save("app/models.py", "class Post(Base):", "class Post(Base):\\n    oops = 1 / 0")
        deadline = time.monotonic() + 20
        while not results:
            assert time.monotonic() < deadline, "the broken edit was never tried"
            time.sleep(0.01)
        failed = results[-1]
        restored = {
            "user": db.Base.registry._class_registry["User"] is User,
            "post": db.Base.registry._class_registry["Post"] is Post,
            "users": db.Base.metadata.tables["users"] is users,
            "posts": db.Base.metadata.tables["posts"] is posts,
            "tables": list(db.Base.metadata.tables) == tables,
            "fk": next(iter(Comment.__table__.c.post_id.foreign_keys)).column is target,
            "models": models().User is User,
        }
        session = db.Session()
        old_query = session.scalars(select(User)).one().greeting()
        comment_post_old = type(session.scalars(select(Comment)).one().post) is Post
        session.close()
        text_ = Path("app/models.py").read_text().replace("    oops = 1 / 0\\n", "")
        Path("app/models.py.tmp").write_text(text_.replace('"v1 "', '"fixed "'))
        os.replace("app/models.py.tmp", "app/models.py")
        # Waits for the reload itself, not by querying meanwhile: a query in this thread while
        # the background thread swaps the relationships of the kept Comment model can see one
        # half-swapped (README: SQLAlchemy, what still needs care).
        while len(results) < 2:
            assert time.monotonic() < deadline, "the fixed edit was never applied"
            time.sleep(0.01)
        fixed = snapshot(db.Session())
        r.stop()
        emit(failed=failed.ok, error=type(failed.error).__name__, restored=restored,
             old_query=old_query, comment_post_old=comment_post_old, fixed=fixed)
        """
        )
    )
    assert out["failed"] is False
    assert out["error"] == "ZeroDivisionError"
    assert out["restored"] == dict.fromkeys(out["restored"], True)  # type: ignore[arg-type]
    assert out["old_query"] == "v1 ann"
    assert out["comment_post_old"] is True
    assert out["fixed"] == {"greeting": "fixed ann", **CURRENT}


def test_new_model_and_new_nullable_column_after_a_migration(project: Project) -> None:
    project.write(FILES)
    out = project.result(
        SETUP
        + textwrap.dedent(
            """
        r = hotmod.Reloader("app")
        edit("app/models.py", "    def greeting(self):",
             "    bio: Mapped[str | None] = mapped_column(default=None)\\n\\n"
             "    @hybrid_property\\n"
             "    def display(self):\\n"
             "        return self.name + '!'\\n\\n"
             "    @property\\n"
             "    def shout(self):\\n"
             "        return self.name.upper()\\n\\n"
             "    def __repr__(self):\\n"
             "        return f'<User {self.name}>'\\n\\n"
             "    def greeting(self):")
        edit("app/models.py", "class Post(Base):",
             "class Tag(Base):\\n"
             "    __tablename__ = 'tags'\\n"
             "    id: Mapped[int] = mapped_column(primary_key=True)\\n"
             "    label: Mapped[str]\\n\\n"
             "class Post(Base):")
        # the migration, as the user would run it (SQLite keeps the old columns otherwise)
        with db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE users ADD COLUMN bio VARCHAR"))
        edit("app/models.py", "from app.db", "from sqlalchemy.ext.hybrid import hybrid_property\\n"
             "from app.db")
        result = r.reload("app.models")
        M = models()
        db.Base.metadata.create_all(db.engine)   # creates the new table only
        with db.Session() as s:
            s.add(M.Tag(label="news"))
            user = s.scalars(select(M.User)).one()
            user.bio = "hi"
            s.commit()
        with db.Session() as s:
            user = s.scalars(select(M.User)).one()
            found = s.scalars(select(M.User).where(M.User.display == "ann!")).one()
            emit(ok=result.ok, bio=user.bio, hybrid=[found is user, user.display],
                 shout=user.shout, repr=repr(user),
                 tags=[t.label for t in s.scalars(select(M.Tag))],
                 data=[p.title for p in user.posts], rest=snapshot(s))
        """
        )
    )
    assert out["ok"] is True
    assert out["bio"] == "hi"
    assert out["hybrid"] == [True, "ann!"]
    assert out["shout"] == "ANN"
    assert out["repr"] == "<User ann>"
    assert out["tags"] == ["news"]
    assert out["data"] == ["hello"]
    assert out["rest"] == {"greeting": "v1 ann", **CURRENT}


def test_models_edit_failing_to_configure_puts_non_reloaded_relationships_back(
    project: Project,
) -> None:
    project.write(FILES)
    out = project.result(
        SETUP
        + textwrap.dedent(
            """
        r = hotmod.Reloader("app")
        Post, Comment = models().Post, app.comments.Comment
        relationship_ = Comment.__mapper__.relationships["post"]
        attribute = Comment.__dict__["post"]
        edit("app/models.py", "    title: Mapped[str]",
             "    title: Mapped[str]\\n    bad: Mapped['Nope'] = relationship('Nope')")
        failed = r.reload("app.models")
        session = db.Session()
        comment = session.scalars(select(Comment)).one()
        emit(ok=failed.ok, error=type(failed.error).__name__,
             message="Nope" in str(failed.error),
             same_relationship=Comment.__mapper__.relationships["post"] is relationship_,
             same_attribute=Comment.__dict__["post"] is attribute,
             post_is_old=type(comment.post) is Post,
             lookup=db.Base.registry._class_registry["Post"] is Post,
             comments=[c.text for c in comment.post.comments])
        """
        )
    )
    assert out == {
        "ok": False,
        "error": "AdapterError",
        "message": True,
        "same_relationship": True,
        "same_attribute": True,
        "post_is_old": True,
        "lookup": True,
        "comments": ["first!"],
    }


BACKREFS = {
    "app/__init__.py": "",
    "app/db.py": DB,
    "app/models.py": """
        from sqlalchemy import ForeignKey
        from sqlalchemy.orm import Mapped, mapped_column, relationship
        from app.db import Base

        class Post(Base):
            __tablename__ = "posts"
            id: Mapped[int] = mapped_column(primary_key=True)
            title: Mapped[str]
            notes = relationship("Note", backref="post")   # generates Note.post

            def describe(self):
                return "v1 " + self.title
        """,
    # neither module is re-executed with models.py
    "app/notes.py": """
        from sqlalchemy import ForeignKey
        from sqlalchemy.orm import Mapped, mapped_column
        from app.db import Base

        class Note(Base):
            __tablename__ = "notes"
            id: Mapped[int] = mapped_column(primary_key=True)
            post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
        """,
    "app/likes.py": """
        from sqlalchemy import ForeignKey
        from sqlalchemy.orm import Mapped, mapped_column, relationship
        from app.db import Base

        class Like(Base):
            __tablename__ = "likes"
            id: Mapped[int] = mapped_column(primary_key=True)
            post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
            post = relationship("Post", backref="likes")   # generates Post.likes
        """,
}


def test_backrefs_between_reloaded_and_non_reloaded_models(project: Project) -> None:
    project.write(BACKREFS)
    out = project.result(
        """
        import warnings
        warnings.simplefilter("error")
        from sqlalchemy import select
        import app.db, app.models, app.notes, app.likes
        db = app.db
        db.Base.metadata.create_all(db.engine)
        with db.Session() as s:
            post = app.models.Post(title="hello")
            s.add_all([post, app.notes.Note(post=post), app.likes.Like(post=post)])
            s.commit()
        r = hotmod.Reloader("app")
        for old, new in (('"v1 "', '"v2 "'), ('"v2 "', '"v3 "')):
            edit("app/models.py", old, new)
            assert r.reload("app.models").ok
        M = sys.modules["app.models"]
        with db.Session() as s:
            note = s.scalars(select(app.notes.Note)).one()
            Like = app.likes.Like
            like = s.scalars(select(Like)).one()
            post = s.scalars(select(M.Post)).one()
            emit(note=[type(note.post) is M.Post, note.post.describe()],
                 like=[type(like.post) is M.Post, [type(x) for x in post.likes] == [Like]],
                 notes=len(post.notes))
        """
    )
    assert out == {"note": [True, "v3 hello"], "like": [True, True], "notes": 1}


SQLMODEL = {
    "shop/__init__.py": "",
    "shop/db.py": """
        from sqlalchemy.pool import StaticPool
        from sqlmodel import create_engine
        engine = create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
        """,
    "shop/teams.py": """
        from typing import Optional
        from sqlmodel import Field, Relationship, SQLModel

        class Team(SQLModel, table=True):
            id: Optional[int] = Field(default=None, primary_key=True)
            name: str
            heroes: list["Hero"] = Relationship(back_populates="team")

            def label(self):
                return "v1 " + self.name
        """,
    # the other module: imports only SQLModel, points at Team by string
    "shop/heroes.py": """
        from typing import Optional
        from sqlmodel import Field, Relationship, SQLModel

        class Hero(SQLModel, table=True):
            id: Optional[int] = Field(default=None, primary_key=True)
            name: str
            team_id: Optional[int] = Field(default=None, foreign_key="team.id")
            team: Optional["Team"] = Relationship(back_populates="heroes")
        """,
}


def test_sqlmodel_models_in_two_modules_with_a_relationship(project: Project) -> None:
    project.write(SQLMODEL)
    out = project.result(
        """
        import warnings
        warnings.simplefilter("error")
        from sqlmodel import Session, SQLModel, select
        import shop.db, shop.teams, shop.heroes
        SQLModel.metadata.create_all(shop.db.engine)
        with Session(shop.db.engine) as s:
            team = shop.teams.Team(name="Avengers")
            s.add_all([team, shop.heroes.Hero(name="Thor", team=team)])
            s.commit()
        r = hotmod.Reloader("shop")
        Team = shop.teams.Team
        edit("shop/teams.py", '"v1 "', '"v2 "')
        ok = r.reload("shop.teams").ok
        T = sys.modules["shop.teams"].Team
        with Session(shop.db.engine) as s:
            hero = s.exec(select(shop.heroes.Hero)).one()
            team = s.exec(select(T)).one()
            first = dict(label=hero.team.label(), new=type(hero.team) is T,
                         heroes=[h.name for h in team.heroes])
        edit("shop/teams.py", "name: str", "name: str = Field(default=1 / 0)")
        failed = r.reload("shop.teams")
        with Session(shop.db.engine) as s:
            hero = s.exec(select(shop.heroes.Hero)).one()
            rolled = dict(label=hero.team.label(), same=type(hero.team) is T,
                          metadata=SQLModel.metadata.tables["team"] is T.__table__)
        emit(ok=ok, first=first, failed=failed.ok, rolled=rolled, old_kept=Team is not T)
        """
    )
    assert out == {
        "ok": True,
        "first": {"label": "v2 Avengers", "new": True, "heroes": ["Thor"]},
        "failed": False,
        "rolled": {"label": "v2 Avengers", "same": True, "metadata": True},
        "old_kept": True,
    }


@pytest.mark.timeout(240)
@pytest.mark.parametrize("layout", ["lifespan", "import"])
def test_fastapi_sqlmodel_edit_session_under_uvicorn(tmp_path: Path, layout: str) -> None:
    """20 edits of models, services and routes through the watcher, checked over HTTP: the
    tables created in the lifespan handler, or by main.py's top-level code (re-executed by
    each models edit)."""
    out = tmp_path / "session.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "sqlmodel_session.py"),
            "--edits",
            "20",
            "--layout",
            layout,
            "--json",
            str(out),
        ],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=220,
    )
    assert out.exists(), proc.stdout + proc.stderr
    result = json.loads(out.read_text())[layout]
    assert (result["errors"], result["warnings"], result["stale"]) == (0, 0, 0), result
    assert result["reloads"] == 20, result
    # the benchmark's floor ran: each edited file's modules imported again without hotmod
    assert all(entry["floor_ms"] > 0 for entry in result["by_file"].values()), result
    # and again after the session's pause before each reload (the like-for-like floor)
    assert result["pause_ms"] > 0, result
    assert all(entry["floor_paused_ms"] > 0 for entry in result["by_file"].values()), result
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_reload_without_sqlalchemy_does_not_import_it(project: Project) -> None:
    project.write({"pkg/__init__.py": "", "pkg/a.py": "VALUE = 1\n"})
    out = project.result(
        """
        import pkg.a
        r = hotmod.Reloader("pkg")
        edit("pkg/a.py", "VALUE = 1", "VALUE = 2")
        ok = r.reload("pkg.a").ok
        emit(ok=ok, value=sys.modules["pkg.a"].VALUE, imported="sqlalchemy" in sys.modules)
        """
    )
    assert out == {"ok": True, "value": 2, "imported": False}
