"""The demo shop's data: an SQLite file created and seeded fresh for each server process.

Invariant: one ``ShopDB`` is used only from the thread that opened it (the event loop's), and
no method awaits, so a transaction can never interleave with another request's statements.
Money is kept in integer cents and turned into a two-decimal price only on the way out.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple, TypedDict

ITEM_COUNT = 200
USER_COUNT = 100
PASSWORD = "secret"
# Large enough that a 20 s demo at ~500 req/s of checkouts cannot sell anything out: a 409 in
# the demo must mean the scenario asked for it, never that the seed data ran dry.
INITIAL_STOCK = 1_000_000
# The catalogue is fixed across runs so CSV feeders can name item ids and expect the same items.
_CATALOGUE_SEED = 20240601

_ADJECTIVES = ("Red", "Blue", "Green", "Black", "White", "Steel", "Oak", "Wool", "Glass", "Brass")
_NOUNS = (
    "Mug", "Lamp", "Chair", "Desk", "Kettle", "Scarf", "Clock", "Vase", "Bowl", "Stool",
    "Shelf", "Pen", "Notebook", "Backpack", "Bottle", "Candle", "Blanket", "Mirror", "Plate",
    "Teapot",
)  # fmt: skip

_SCHEMA = """
CREATE TABLE items (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, price_cents INTEGER NOT NULL,
    stock INTEGER NOT NULL CHECK (stock >= 0));
CREATE TABLE users (
    id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, salt BLOB NOT NULL,
    password_hash BLOB NOT NULL);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id), created_at REAL NOT NULL);
CREATE TABLE cart_lines (
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    item_id INTEGER NOT NULL REFERENCES items (id), qty INTEGER NOT NULL CHECK (qty > 0),
    PRIMARY KEY (session_id, item_id)) WITHOUT ROWID;
CREATE TABLE orders (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id),
    total_cents INTEGER NOT NULL, created_at REAL NOT NULL);
CREATE TABLE order_lines (
    order_id INTEGER NOT NULL REFERENCES orders (id),
    item_id INTEGER NOT NULL REFERENCES items (id), qty INTEGER NOT NULL,
    price_cents INTEGER NOT NULL, PRIMARY KEY (order_id, item_id)) WITHOUT ROWID;
"""

_ITEM_COLUMNS = "id, name, price_cents, stock"


class Item(TypedDict):
    id: int
    name: str
    price: float
    stock: int


class CartLine(TypedDict):
    item_id: int
    name: str
    qty: int
    price: float
    line_total: float


class Cart(TypedDict):
    items: list[CartLine]
    total: float


class Order(TypedDict):
    order_id: int
    total: float
    items: list[CartLine]


class Session(NamedTuple):
    """A logged-in session; the cart hangs off ``id``, orders off ``user_id``."""

    id: int
    user_id: int


class ShopError(Exception):
    """A request the shop refuses; the web layer maps each kind to an HTTP status."""


class UnknownItem(ShopError):
    """No item has that id."""


class OutOfStock(ShopError):
    """The cart would hold more of an item than the shop has."""


class EmptyCart(ShopError):
    """Checkout with nothing in the cart."""


def _money(cents: int) -> float:
    return round(cents / 100, 2)


def _item(row: tuple[int, str, int, int]) -> Item:
    return {"id": row[0], "name": row[1], "price": _money(row[2]), "stock": row[3]}


def _hash(salt: bytes, password: str) -> bytes:
    # Deliberately cheap (one SHA-256, not a slow KDF): login is on the hot path of every
    # load-test journey, and a KDF would make the demo measure hashing instead of serving.
    return hashlib.sha256(salt + password.encode()).digest()


class ShopDB:
    """The shop's tables behind the few operations the API offers."""

    def __init__(self, path: str) -> None:
        # Autocommit mode: single statements commit on their own; multi-statement changes
        # take an explicit ``BEGIN IMMEDIATE`` in ``_transaction``.
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")

    @classmethod
    def create(cls, path: str) -> ShopDB:
        """Create the schema in a new database file and seed the catalogue and users."""
        db = cls(path)
        db._conn.executescript(_SCHEMA)
        db._seed()
        return db

    def close(self) -> None:
        self._conn.close()

    def _seed(self) -> None:
        rng = random.Random(_CATALOGUE_SEED)
        names = [f"{adj} {noun}" for noun in _NOUNS for adj in _ADJECTIVES]
        items = [
            (i, names[i - 1], rng.randrange(199, 20_000), INITIAL_STOCK)
            for i in range(1, ITEM_COUNT + 1)
        ]
        users = []
        for i in range(1, USER_COUNT + 1):
            salt = rng.randbytes(16)
            users.append((i, f"user{i}", salt, _hash(salt, PASSWORD)))
        with self._transaction():
            self._conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", items)
            self._conn.executemany("INSERT INTO users VALUES (?, ?, ?, ?)", users)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def login(self, username: str, password: str) -> str | None:
        """A new session token, or None when the credentials are wrong."""
        row = self._conn.execute(
            "SELECT id, salt, password_hash FROM users WHERE username = ?", (username,)
        ).fetchone()
        if row is None or not hmac.compare_digest(_hash(row[1], password), row[2]):
            return None
        token = secrets.token_urlsafe(24)
        self._conn.execute(
            "INSERT INTO sessions (token, user_id, created_at) VALUES (?, ?, ?)",
            (token, row[0], time.time()),
        )
        return token

    def session(self, token: str) -> Session | None:
        row = self._conn.execute(
            "SELECT id, user_id FROM sessions WHERE token = ?", (token,)
        ).fetchone()
        return None if row is None else Session(row[0], row[1])

    def item_count(self) -> int:
        count: int = self._conn.execute("SELECT count(*) FROM items").fetchone()[0]
        return count

    def items(self, page: int, per_page: int) -> list[Item]:
        rows = self._conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items ORDER BY id LIMIT ? OFFSET ?",
            (per_page, (page - 1) * per_page),
        )
        return [_item(row) for row in rows]

    def item(self, item_id: int) -> Item | None:
        row = self._conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items WHERE id = ?", (item_id,)
        ).fetchone()
        return None if row is None else _item(row)

    def items_by_id(self, ids: Sequence[int]) -> list[Item]:
        marks = ", ".join("?" * len(ids))
        rows = self._conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items WHERE id IN ({marks}) ORDER BY id", tuple(ids)
        )
        return [_item(row) for row in rows]

    def search(self, text: str, limit: int) -> list[Item]:
        """Items whose name contains ``text``, ignoring case (``instr`` needs no escaping)."""
        rows = self._conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items WHERE instr(lower(name), lower(?)) > 0"
            " ORDER BY id LIMIT ?",
            (text, limit),
        )
        return [_item(row) for row in rows]

    def add_to_cart(self, session: Session, item_id: int, qty: int) -> Cart:
        """Add ``qty`` of an item; the whole line must stay within the current stock."""
        with self._transaction():
            row = self._conn.execute("SELECT stock FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                raise UnknownItem(f"no item with id {item_id}")
            held = self._conn.execute(
                "SELECT qty FROM cart_lines WHERE session_id = ? AND item_id = ?",
                (session.id, item_id),
            ).fetchone()
            wanted = qty + (held[0] if held else 0)
            if wanted > row[0]:
                raise OutOfStock(f"only {row[0]} of item {item_id} in stock, cart wants {wanted}")
            self._conn.execute(
                "INSERT INTO cart_lines VALUES (?, ?, ?)"
                " ON CONFLICT (session_id, item_id) DO UPDATE SET qty = excluded.qty",
                (session.id, item_id, wanted),
            )
        return self.cart(session)

    def _cart_lines(self, session: Session) -> tuple[list[CartLine], int]:
        rows = self._conn.execute(
            "SELECT c.item_id, i.name, c.qty, i.price_cents FROM cart_lines c"
            " JOIN items i ON i.id = c.item_id WHERE c.session_id = ? ORDER BY c.item_id",
            (session.id,),
        ).fetchall()
        lines: list[CartLine] = [
            {
                "item_id": item_id,
                "name": name,
                "qty": qty,
                "price": _money(cents),
                "line_total": _money(qty * cents),
            }
            for item_id, name, qty, cents in rows
        ]
        return lines, sum(qty * cents for _, _, qty, cents in rows)

    def cart(self, session: Session) -> Cart:
        lines, total_cents = self._cart_lines(session)
        return {"items": lines, "total": _money(total_cents)}

    def checkout(self, session: Session) -> Order:
        """Turn the cart into an order: stock goes down and the cart empties, all or nothing."""
        with self._transaction():
            lines, total_cents = self._cart_lines(session)
            if not lines:
                raise EmptyCart("the cart is empty")
            for line in lines:
                updated = self._conn.execute(
                    "UPDATE items SET stock = stock - ? WHERE id = ? AND stock >= ?",
                    (line["qty"], line["item_id"], line["qty"]),
                )
                if updated.rowcount != 1:
                    raise OutOfStock(f"item {line['item_id']} sold out before checkout")
            order_id = self._conn.execute(
                "INSERT INTO orders (user_id, total_cents, created_at) VALUES (?, ?, ?)",
                (session.user_id, total_cents, time.time()),
            ).lastrowid
            assert order_id is not None
            self._conn.execute(
                "INSERT INTO order_lines SELECT ?, c.item_id, c.qty, i.price_cents"
                " FROM cart_lines c JOIN items i ON i.id = c.item_id WHERE c.session_id = ?",
                (order_id, session.id),
            )
            self._conn.execute("DELETE FROM cart_lines WHERE session_id = ?", (session.id,))
        return {"order_id": order_id, "total": _money(total_cents), "items": lines}
