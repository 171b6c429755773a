"""The network file: parties, how the scenario's counterparties map to them, and the
obligations, investments and secured loans between them (money in the file's unit)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PrivateAttr, StrictInt, model_validator

from finmodel.assumptions.schema import (
    Amount,
    AmountYears,
    Frozen,
    Month,
    Name,
    Num,
    Rate,
    Sourced,
    Text,
    YearsOnly,
    _kind,
    slug,
    unique_keys,
    unique_names,
)

if TYPE_CHECKING:
    from finmodel.assumptions.loader import Document


def _by_year(v: Any) -> Any:
    if not isinstance(v, dict):
        raise ValueError(f"expected amounts by year such as {{2026: 5}}, got {_kind(v)}")
    return v


ByYear = Annotated[YearsOnly, BeforeValidator(_by_year)]
"""Amounts by calendar year (a single year means every year)."""

OUTSIDE = "outside creditors"
"""The party added to a network to receive the debt service partners owe outside it."""


class Party(Frozen):
    """A party and what it can pay with, in the file's unit (absent means none):

    - ``liquid_assets``: cash and liquid assets at the start of the first year;
    - ``other_cash_flow``: operating cash flow from the rest of its business, each year;
    - ``capex``: capital spending by year, paid before its obligations in the network;
    - ``debt_service``: interest and principal due each year on debt outside the network
      file's own loans, owed to the outside creditors alongside its other obligations.

    ``capex`` and ``debt_service`` are paths by year: linear between the years given, held
    flat before the first and after the last (a single year means every year). The modelled
    company has none of these: its cash comes from its scenario.
    """

    name: Name
    liquid_assets: Amount | None = None
    other_cash_flow: Num | None = None
    capex: ByYear | None = None
    debt_service: ByYear | None = None
    revenue: Amount | None = None
    debt: Amount | None = None
    note: Text | None = None

    @model_validator(mode="after")
    def _not_negative(self) -> Party:
        for attr in ("capex", "debt_service"):
            path: dict[int, Sourced] | None = getattr(self, attr)
            for year, x in (path or {}).items():
                if x.value < 0:
                    raise ValueError(
                        f"{attr}.{year}: expected an amount of 0 or more, got {x.value:g}"
                    )
        return self


class Obligation(Frozen):
    """Payments owed by one party to another, by year (e.g. Oracle's chip purchases)."""

    payer: Name
    payee: Name
    annual: AmountYears
    source: Text | None = None
    note: Text | None = None


class Loan(Frozen):
    """A loan: the borrower pays ``amount`` back as an annuity at ``rate`` over ``years``
    from ``start``; ``secured_on`` names the party whose contract payments secure it."""

    lender: Name
    borrower: Name
    amount: Amount
    rate: Rate
    years: StrictInt = Field(gt=0, le=100)
    start: Month
    secured_on: Name | None = None
    source: Text | None = None
    note: Text | None = None


class Network(Frozen):
    name: Name
    company: Name
    unit: Literal["thousand", "million", "billion"] = "billion"
    """The unit of every amount in the file; it must be the scenario's (amounts are not
    converted, so a network in millions is never read as billions)."""
    parties: list[Party]
    counterparties: dict[Name, Name] = Field(default_factory=dict)
    investors: dict[Name, Name] = Field(default_factory=dict)
    obligations: list[Obligation] = Field(default_factory=list)
    loans: list[Loan] = Field(default_factory=list)
    notes: Text | list[Text] | None = None
    _document: Document | None = PrivateAttr(default=None)
    """Where each field was written (set by :func:`finmodel.network.load_network`), so that
    a later error names the file and line to change."""

    def __eq__(self, other: object) -> bool:
        """Equal content: where the file was read (``_document``) is not part of it."""
        return type(other) is type(self) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, as every pydantic model

    @model_validator(mode="after")
    def _names(self) -> Network:
        names = [p.name for p in self.parties]
        unique_names(names, "parties", "name")
        unique_keys(list(self.counterparties), "counterparties", "counterparty names")
        unique_keys(list(self.investors), "investors", "investor names")
        seen: set[str] = set()
        for i, n in enumerate(names):
            if slug(n) == slug(OUTSIDE):
                raise ValueError(
                    f"parties[{i}].name: expected a name other than {OUTSIDE!r} (it receives "
                    f"the debt service owed outside the network), got {n!r}"
                )
            seen.add(n)
        if self.company not in seen:
            raise ValueError(f"company: expected one of the parties, got {self.company!r}")
        k = names.index(self.company)
        for attr in ("liquid_assets", "other_cash_flow", "capex", "debt_service"):
            if getattr(self.parties[k], attr) is not None:
                raise ValueError(
                    f"parties[{k}].{attr}: expected nothing for the modelled company (its cash "
                    f"comes from its scenario), got a value"
                )
        refs = [(f"counterparties.{k}", v) for k, v in self.counterparties.items()]
        refs += [(f"investors.{k}", v) for k, v in self.investors.items()]
        for i, o in enumerate(self.obligations):
            refs += [(f"obligations[{i}].payer", o.payer), (f"obligations[{i}].payee", o.payee)]
        for i, ln in enumerate(self.loans):
            refs += [(f"loans[{i}].lender", ln.lender), (f"loans[{i}].borrower", ln.borrower)]
            if ln.secured_on is not None:
                refs.append((f"loans[{i}].secured_on", ln.secured_on))
        for where, name in refs:
            if name not in seen:
                raise ValueError(
                    f"{where}: expected one of the parties ({', '.join(names)}), got {name!r}"
                )
        for i, o in enumerate(self.obligations):
            if o.payer == o.payee:
                raise ValueError(
                    f"obligations[{i}].payee: expected another party than the payer, got "
                    f"{o.payee!r} paying itself"
                )
        return self


__all__ = ["OUTSIDE", "Loan", "Network", "Obligation", "Party", "slug"]
