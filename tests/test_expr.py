"""Expressions: the numpy evaluation (whole horizon and month by month) and the Excel text."""

from dataclasses import dataclass, field

import numpy as np
import pytest

from finmodel.engine.expr import Const, CumSum, Fn, In, Lag, Path, Prev, Ref, Series, fmax, num


@dataclass
class Env:
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    items: dict[str, np.ndarray] = field(default_factory=dict)

    def input(self, name: str) -> np.ndarray:
        return self.inputs[name]

    def item(self, name: str) -> np.ndarray:
        return self.items[name]


class Sheet:
    def cell(self, item: str, t: int) -> str:
        return f"{item.upper()}{t}"

    def name(self, input_name: str) -> str:
        return input_name


def test_excel_rendering() -> None:
    sh = Sheet()
    e = fmax(Ref("a") - In("x") * 2.0, Const(-1.5))
    assert e.excel(sh, 3) == "MAX((A3-(x*2)),(-1.5))"
    assert Prev("a", In("opening")).excel(sh, 0) == "opening"
    assert Prev("a", In("opening")).excel(sh, 4) == "A3"
    assert Lag("a", 12).excel(sh, 5) == "0"
    assert Lag("a", 12).excel(sh, 13) == "A1"
    assert CumSum("a", 3).excel(sh, 5) == "SUM(A3:A5)"
    assert Fn("floor", (Ref("a"),)).excel(sh, 0) == "INT(A0+1E-9)"
    assert Fn("lt", (Ref("a"), In("m"))).excel(sh, 1) == "IF(A1<m,1,0)"
    w = np.array([[0.5, 0.0], [0.5, 1.0]])
    assert Path(("p", "q"), w).excel(sh, 0) == "(p*0.5+q*0.5)"
    assert (Path(("p", "q"), w) * Ref("r")).excel(sh, 0) == "((p*0.5+q*0.5)*R0)"
    assert Path(("p", "q"), w).excel(sh, 1) == "q"


def test_numbers_round_trip_exactly() -> None:
    for x in (1 / 12, 0.1, 2.0 / 78, 1e-20, 123456.789):
        assert float(num(x).replace("E", "e")) == x


def test_whole_and_month_evaluation_agree() -> None:
    rng = np.random.default_rng(7)
    T, S = 10, 4
    env = Env({"x": rng.normal(size=S)}, {"a": rng.normal(size=(T, S))})
    exprs = [
        Prev("a", In("x")) * 2.0 + Series(np.arange(T, dtype=float)),
        Lag("a", 3),
        CumSum("a", 4),
        CumSum("a"),
        fmax(Ref("a"), 0.0) / (1.0 + In("x") * In("x")),
        Fn("exp", (Ref("a"),)),
        Path(("x",), rng.normal(size=(1, T))),
    ]
    for e in exprs:
        whole = np.broadcast_to(e.whole(env, T), (T, S))
        monthly = np.stack([np.broadcast_to(e.month(env, t), (S,)) for t in range(T)])
        np.testing.assert_allclose(whole, monthly, rtol=1e-12, atol=1e-12)


def test_cumsum_window_is_a_rolling_sum() -> None:
    env = Env({}, {"a": np.arange(1.0, 7.0)[:, None]})
    assert CumSum("a", 3).whole(env, 6)[:, 0].tolist() == [1, 3, 6, 9, 12, 15]
    assert CumSum("a").whole(env, 6)[:, 0].tolist() == pytest.approx([1, 3, 6, 10, 15, 21])
